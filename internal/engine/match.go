package engine

import (
	"context"

	"github.com/dkms-go/dkms/internal/bre"

	"github.com/dkms-go/dkms/internal/fsops"
	"github.com/dkms-go/dkms/internal/tree"
)

// Match runs `dkms match --templatekernel T -k K [module]` (§6.9 as amended
// by delta D14): every module/version installed for T (on K's
// architecture) is built and then installed for K, each step isolated, so
// a failed build is followed by an install attempt that reports again. A
// module given on the command line is a basic regular expression for the
// module names to keep; a version given with it is ignored, as upstream's.
// The status is the last install attempt's.
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
	for _, m := range e.tree.Modules("") {
		for _, v := range e.tree.Versions(m, "") {
			switch e.tree.State(m, v) {
			case tree.Broken:
				// The status run upstream uses shows this on stderr.
				p.ErrorBlock(m+"/"+v+": Missing the module source directory or the symbolic link pointing to it.",
					"Manual intervention is required!")
			case tree.Added:
				if e.tree.IsInstalled(tree.Target{Module: m, Version: v, Kernel: tmpl, Arch: a}) {
					todo = append(todo, modVer{m, v})
				}
			}
		}
	}
	if m := e.O.Module; m != "" {
		if !fsops.IsDir(e.L.ModuleDir(m)) {
			return p.Die(3, "The module: "+m+" is not located in the DKMS tree.")
		}
		var keep []modVer
		for _, mv := range todo {
			if bre.Match("^"+m+"/", mv.m+"/"+mv.v+", ") {
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
	if !fsops.IsDir(e.kernelSourceDir(k) + "/include") {
		return e.missingHeaders(k)
	}
	var last error
	for _, mv := range todo {
		p.Line("Module:  " + mv.m)
		p.Line("Version: " + mv.v)
		e.buildPair(ctx, e.matchPair(mv, k, a), true)
		last = e.installPair(ctx, e.matchPair(mv, k, a))
	}
	return last
}

// modVer is one module/version.
type modVer struct{ m, v string }

// matchPair is a fresh per-pair context for one matched module/version:
// build and install are isolated from each other as upstream's are.
func (e *Engine) matchPair(mv modVer, k, a string) *pairCtx {
	return &pairCtx{Target: tree.Target{Module: mv.m, Version: mv.v, Kernel: k, Arch: a}, force: e.O.Force, versionOverride: e.O.ForceVersion}
}
