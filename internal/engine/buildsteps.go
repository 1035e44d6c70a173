package engine

import (
	"context"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/dkms-go/dkms/internal/compress"
	"github.com/dkms-go/dkms/internal/dkmsconf"
	"github.com/dkms-go/dkms/internal/ui"
)

// buildWithConf is §6.2 steps 5-21, after the conf was read.
func (e *Engine) buildWithConf(ctx context.Context, pc *pairCtx, c *dkmsconf.Conf) error {
	m, v, k, a := pc.m, pc.v, pc.k, pc.a
	p := e.P
	if c.Excluded(k, a, e.kernelConfig(k)) {
		return e.excludedWarning(m, v, k, a)
	}
	src := e.L.SourceLink(m, v)
	if len(readDirNames(src)) < 2 {
		return p.Die(8, "The directory "+src+" does not appear to have module source located within it.",
			"Build halted.")
	}
	if err := e.prepareKernel(ctx, pc); err != nil {
		return err
	}
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
	os.RemoveAll(build)
	if err := os.MkdirAll(build, 0o755); err != nil {
		return p.Die(15)
	}
	if err := copyTree(src+"/", build); err != nil {
		return p.Die(15, "Could not copy the source into "+build+": "+err.Error())
	}
	logPath := e.L.MakeLog(m, v)
	if err := os.WriteFile(logPath, []byte(makeLogHeader(m, v, k, a, time.Now())), 0o644); err != nil {
		return ui.Exit(15)
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
	for _, r := range c.Records {
		if !existsFollow(build + "/" + r.BuiltLocation + r.BuiltName + ".ko") {
			return p.Die(7, "Build of "+r.BuiltLocation+r.BuiltName+".ko failed for: "+k+" ("+a+")",
				"Make sure the name and location of the generated module are correct,",
				"or consult "+logPath+" for more information.")
		}
	}
	kdir := e.L.KernelDir(m, v, k)
	if err := os.MkdirAll(kdir, 0o755); err != nil {
		return p.Die(7, "Could not create "+kdir+": "+err.Error())
	}
	staging, err := os.MkdirTemp(kdir, ".tmp_"+a+"_")
	if err != nil {
		p.ErrorBlock("Unable to make temporary directory.")
		return ui.Exit(7)
	}
	os.MkdirAll(staging+"/log", 0o755)
	os.MkdirAll(staging+"/module", 0o755)
	if isRegular(build + "/Module.symvers") {
		copyFile(build+"/Module.symvers", staging+"/module/Module.symvers", 0o644)
	}
	for _, r := range c.Records {
		file := build + "/" + r.BuiltLocation + r.BuiltName + ".ko"
		if !isRegular(file) {
			p.Warning(file + " has disappeared")
			continue
		}
		if r.Strip {
			tool := "strip"
			if pc.cc == "clang" {
				tool = "llvm-strip"
			}
			runCmd(ctx, tool, "-g", file)
		}
		if pc.signer != nil {
			pc.signer.Sign(ctx, file, p.Stdout(), p.Stderr())
		}
		stored, ext := file, ".ko"
		if pc.suffix != "" {
			if out, err := compress.CompressTo(ctx, file, pc.suffix, e.Compress, p.Stdout(), p.Stderr()); err == nil {
				stored, ext = out, ".ko"+pc.suffix
			}
		}
		if err := copyFile(stored, staging+"/module/"+r.DestName+ext, 0o644); err != nil {
			p.Warning("Could not copy " + stored + ": " + err.Error())
		}
	}
	for _, r := range c.Records {
		if findKo(staging+"/module", r.DestName) == "" {
			return p.Die(7, "Missing module '"+r.DestName+"' in "+staging+"/module")
		}
	}
	os.Chmod(staging, 0o755)
	if err := renameReplace(staging, e.L.BuiltDir(m, v, k, a)); err != nil {
		return p.Die(7, "do_build: final mv failed ("+strconv.Itoa(1)+")")
	}
	if code := e.runLoggedScript(ctx, pc, "post_build", c.PostBuild); code != 0 {
		return ui.Exit(code)
	}
	os.Rename(logPath, e.L.BuiltDir(m, v, k, a)+"/log/make.log")
	os.RemoveAll(build)
	if c.BuildDependsRebuild && !e.O.Force {
		for _, dep := range c.BuildDepends {
			if dv := e.versionOf(dep); dv != "" {
				os.WriteFile(e.L.BuiltDir(m, v, k, a)+"/.dep_"+dep, []byte(dv+"\n"), 0o644)
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
	if err := os.Rename(src, dst); err == nil {
		return nil
	}
	os.Remove(dst)
	return os.Rename(src, dst)
}

// anyVersionInstalled reports whether some version of module dep is
// installed for the pair (§6.2 step 9).
func (e *Engine) anyVersionInstalled(dep, k, a string) bool {
	for _, v := range e.versions(dep, "") {
		if e.isInstalled(dep, v, k, a) {
			return true
		}
	}
	return false
}
