package engine

import (
	"context"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/dkms-go/dkms/internal/compress"
	"github.com/dkms-go/dkms/internal/dkmsconf"
	"github.com/dkms-go/dkms/internal/fsops"
	"github.com/dkms-go/dkms/internal/proc"
	"github.com/dkms-go/dkms/internal/tree"
	"github.com/dkms-go/dkms/internal/ui"
)

// buildWithConf is §6.2 steps 5-21, after the conf was read.
func (e *Engine) buildWithConf(ctx context.Context, pc *pairCtx, c *dkmsconf.Conf) error {
	m, v, k, a := pc.m, pc.v, pc.k, pc.a
	p := e.P
	if c.Excluded(k, a, e.kernelConfig(k)) {
		return e.excludedWarning(m, v, k, a)
	}
	// Records that BUILD_EXCLUSIVE excludes are not built (delta D5.2):
	// make runs as usual, but their modules are neither required nor kept.
	excluded := dkmsconf.ExcludedRecords(c.Records, k, a, e.kernelConfig(k))
	skip := func(i int) bool { return excluded != nil && excluded[i] }
	src := e.L.SourceLink(m, v)
	if len(fsops.ReadDirNames(src)) < 2 {
		return p.Die(8, "The directory "+src+" does not appear to have module source located within it.",
			"Build halted.")
	}
	if err := e.prepareKernel(ctx, pc); err != nil {
		return err
	}
	e.applyBuildEnvironment(ctx, pc)
	var missing string
	for _, dep := range c.BuildDepends {
		if !e.anyVersionInstalled(dep, k, a) {
			missing += " " + dep
		}
	}
	if missing != "" {
		if pc.force {
			p.Warning("Trying to build module " + m + "/" + v + " for kernel " + k + " (" + a + ") despite of missing BUILD_DEPENDS:" + missing + ".")
		} else {
			return p.Die(13, "Aborting build of module "+m+"/"+v+" for kernel "+k+" ("+a+") due to missing BUILD_DEPENDS:"+missing+".",
				"You may override by specifying --force.")
		}
	}
	if err := e.lock(); err != nil {
		return err
	}
	build := e.L.BuildDir(m, v)
	if err := fsops.RemoveTree(build); err != nil {
		return p.Die(15, "Could not clean "+build+": "+err.Error())
	}
	if err := fsops.MkdirAll(build); err != nil {
		return p.Die(15, "Could not create "+build+": "+err.Error())
	}
	if err := fsops.CopyTree(src+"/", build); err != nil {
		return p.Die(15, "Could not copy the source into "+build+": "+err.Error())
	}
	// Delta D8: the administrator's /etc/dkms/<m>/patches/ overlays the
	// module's patches/ (same relative paths replaced, others kept).
	if over := e.L.EtcDir() + "/" + m + "/patches"; fsops.IsDir(over) {
		if err := fsops.CopyTree(over+"/", build+"/patches"); err != nil {
			return p.Die(15, "Could not copy "+over+" into "+build+"/patches: "+err.Error())
		}
	}
	logPath := e.L.MakeLog(m, v)
	if err := fsops.WriteFile(logPath, []byte(makeLogHeader(m, v, k, a, time.Now())), 0o644); err != nil {
		return p.Die(15, "Could not write "+logPath+": "+err.Error())
	}
	consult := "Consult " + logPath + " for more information."
	for _, patch := range c.Patches(k) {
		if strings.Contains("patches/"+patch, "/../") {
			return p.Die(5, "Patch "+patch+" as specified in dkms.conf contains '..' path component.")
		}
		if !existsFollow(build + "/patches/" + patch) {
			return p.Die(5, "Patch "+patch+" as specified in dkms.conf cannot be",
				"found in "+build+"/patches/.")
		}
		code := p.Invoke(ctx, ui.Step{Desc: "Applying patch " + patch, Cmd: "patch -p1 < ./patches/" + patch,
			Dir: build, Env: pc.buildEnv, Log: logPath, Verbose: e.Verbose, Dots: ui.DotsFor(m)})
		if code != 0 {
			return p.Die(6, "Application of patch "+patch+" failed.", consult)
		}
	}
	if code := e.runLoggedScript(ctx, pc, "pre_build", c.PreBuild); code != 0 {
		return ui.Exit(code)
	}
	makeCmd := e.makeCommand(c, pc)
	step := ui.Step{Desc: "Building module(s)", Cmd: makeCmd, Dir: build, Env: pc.buildEnv,
		Log: logPath, Verbose: e.Verbose, Dots: ui.DotsFor(m)}
	if pc.js != nil {
		step.Attach = pc.js.Attach
	}
	if code := p.Invoke(ctx, step); code != 0 {
		return p.Die(10, "Bad return status for module build on kernel: "+k+" ("+a+")", consult)
	}
	for i, r := range c.Records {
		if skip(i) {
			continue
		}
		if !existsFollow(build + "/" + r.BuiltLocation + r.BuiltName + ".ko") {
			return p.Die(7, "Build of "+r.BuiltLocation+r.BuiltName+".ko failed for: "+k+" ("+a+")",
				"Make sure the name and location of the generated module are correct,",
				"or consult "+logPath+" for more information.")
		}
	}
	kdir := e.L.KernelDir(m, v, k)
	if err := fsops.MkdirAll(kdir); err != nil {
		return p.Die(7, "Could not create "+kdir+": "+err.Error())
	}
	// Staged under the temporary prefix, renamed into place when complete.
	staging := fsops.TempPath(kdir, a)
	for _, d := range []string{staging, staging + "/log", staging + "/module"} {
		if err := fsops.MkdirAll(d); err != nil {
			p.Stderr().Write([]byte(err.Error() + "\n"))
			p.ErrorBlock("Unable to make temporary directory.")
			return ui.Exit(7)
		}
	}
	if fsops.IsRegular(build + "/Module.symvers") {
		if err := fsops.CopyFile(build+"/Module.symvers", staging+"/module/Module.symvers", 0o644); err != nil {
			p.Warning("Could not copy Module.symvers: " + err.Error())
		}
	}
	for i, r := range c.Records {
		if skip(i) {
			continue
		}
		file := build + "/" + r.BuiltLocation + r.BuiltName + ".ko"
		if !fsops.IsRegular(file) {
			p.Warning(file + " has disappeared")
			continue
		}
		if r.Strip {
			tool := "strip"
			if pc.cc == "clang" {
				tool = "llvm-strip"
			}
			strip := proc.Command(ctx, false, tool, "-g", file)
			strip.Env = pc.toolEnv()
			proc.Run(strip)
		}
		if pc.signer != nil {
			s := *pc.signer
			s.Env = pc.toolEnv()
			s.Sign(ctx, file, p.Stdout(), p.Stderr())
		}
		stored, ext := file, ".ko"
		if pc.suffix != "" {
			opts := e.Compress
			opts.Env = pc.toolEnv()
			if out, err := compress.CompressTo(ctx, file, pc.suffix, opts, p.Stdout(), p.Stderr()); err == nil {
				stored, ext = out, ".ko"+pc.suffix
			}
		}
		if err := fsops.CopyFile(stored, staging+"/module/"+r.DestName+ext, 0o644); err != nil {
			p.Warning("Could not copy " + stored + ": " + err.Error())
		}
	}
	for i, r := range c.Records {
		if skip(i) {
			continue
		}
		if tree.FindKo(staging+"/module", r.DestName) == "" {
			return p.Die(7, "Missing module '"+r.DestName+"' in "+staging+"/module")
		}
	}
	if err := renameReplace(staging, e.L.BuiltDir(m, v, k, a)); err != nil {
		p.Stderr().Write([]byte(err.Error() + "\n"))
		return p.Die(7, "do_build: final mv failed ("+strconv.Itoa(1)+")")
	}
	if code := e.runLoggedScript(ctx, pc, "post_build", c.PostBuild); code != 0 {
		return ui.Exit(code)
	}
	e.warn(fsops.RenamePath(logPath, e.L.BuiltLog(m, v, k, a)))
	e.warn(fsops.RemoveTree(build))
	if c.BuildDependsRebuild && !e.O.Force {
		for _, dep := range c.BuildDepends {
			if dv := e.versionOf(dep); dv != "" {
				e.warn(fsops.WriteFileAtomic(e.L.DepRecord(m, v, k, a, dep), []byte(dv+"\n"), 0o644))
			}
		}
	}
	return nil
}

// existsFollow is the shell's -e: a dangling symlink does not exist.
func existsFollow(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// renameReplace renames a staging directory onto dst, replacing an empty
// or absent dst.
func renameReplace(src, dst string) error {
	if err := fsops.RenamePath(src, dst); err == nil {
		return nil
	}
	if err := fsops.RemoveIfEmpty(dst); err != nil {
		return err
	}
	return fsops.RenamePath(src, dst)
}

// anyVersionInstalled reports whether some version of module dep is
// installed for the pair (§6.2 step 9).
func (e *Engine) anyVersionInstalled(dep, k, a string) bool {
	for _, v := range e.tree.Versions(dep, "") {
		if e.tree.IsInstalled(dep, v, k, a) {
			return true
		}
	}
	return false
}
