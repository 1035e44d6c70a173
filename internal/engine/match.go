package engine

import (
	"context"
)

// Match runs `dkms match --templatekernel T -k K [module]` (§6.9): every
// module/version installed for T (on K's architecture) is built and
// installed for K.
//
// Upstream 3.2.2 takes the wrong fields of the status lines and never
// installs anything; this is the documented behaviour instead. A module
// given on the command line restricts the match to it (and a version to
// that version). When the build of a module fails its install is not
// attempted, since it would only repeat the same build and error.
func (e *Engine) Match(ctx context.Context) error {
	p := e.P
	if err := e.gateRoot(); err != nil {
		return err
	}
	if err := e.gateAll(); err != nil {
		return err
	}
	if len(e.Kernels) != 1 {
		return p.Die(4, "The action match does not support multiple kernel version parameters on the command line.")
	}
	k, a := e.Kernels[0], e.Arches[0]
	tmpl := e.O.TemplateKernel
	if tmpl == "" {
		return p.Die(1, "Invalid number of parameters passed.",
			"Usage: match --templatekernel=<kernel-version> -k <kernel-version>",
			"   or: match --templatekernel=<kernel-version> -k <kernel-version> <module>")
	}
	if tmpl == k {
		return p.Die(2, "The templatekernel and the specified kernel version are the same.")
	}

	var todo []modVer
	for _, m := range e.modules("") {
		for _, v := range e.versions(m, "") {
			switch e.state(m, v) {
			case Broken:
				// The status run upstream uses shows this on stderr.
				p.ErrorBlock(m+"/"+v+": Missing the module source directory or the symbolic link pointing to it.",
					"Manual intervention is required!")
			case Added:
				if e.isInstalled(m, v, tmpl, a) {
					todo = append(todo, modVer{m, v})
				}
			}
		}
	}
	if m := e.O.Module; m != "" {
		if !isDir(e.L.ModuleDir(m)) {
			return p.Die(3, "The module: "+m+" is not located in the DKMS tree.")
		}
		var keep []modVer
		for _, mv := range todo {
			if mv.m == m && (e.O.Version == "" || mv.v == e.O.Version) {
				keep = append(keep, mv)
			}
		}
		todo = keep
	}

	p.Line("")
	p.Line("Matching modules in kernel: " + k + " (" + a + ")")
	p.Line("to the configuration of kernel: " + tmpl + " (" + a + ")")
	if len(todo) == 0 {
		p.Line("")
		p.Line("There is nothing to be done for this match.")
		return nil
	}
	if !isDir(e.kernelSourceDir(k) + "/include") {
		return e.missingHeaders(k)
	}
	var last error
	for _, mv := range todo {
		p.Line("Module:  " + mv.m)
		p.Line("Version: " + mv.v)
		if last = e.buildPair(ctx, e.matchPair(mv, k, a), true); last != nil {
			continue
		}
		last = e.installPair(ctx, e.matchPair(mv, k, a))
	}
	return last
}

// modVer is one module/version.
type modVer struct{ m, v string }

// matchPair is a fresh per-pair context for one matched module/version:
// build and install are isolated from each other as upstream's are.
func (e *Engine) matchPair(mv modVer, k, a string) *pairCtx {
	return &pairCtx{m: mv.m, v: mv.v, k: k, a: a, force: e.O.Force, versionOverride: e.O.ForceVersion}
}
