// Package build compiles one module version for one kernel (§6.2 steps
// 11-21) once the engine has read its dkms.conf and prepared the kernel:
// the source copied to the build directory, patches applied, make run
// with its output in make.log, the modules stripped, signed and
// compressed, and the result staged and renamed into
// <dkms_tree>/<m>/<v>/<k>/<a>. It reports through the run's printer with
// the compatible messages and dies.
package build

import (
	"context"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"github.com/dkms-go/dkms/internal/compress"
	"github.com/dkms-go/dkms/internal/dkmsconf"
	"github.com/dkms-go/dkms/internal/fsops"
	"github.com/dkms-go/dkms/internal/paths"
	"github.com/dkms-go/dkms/internal/proc"
	"github.com/dkms-go/dkms/internal/sign"
	"github.com/dkms-go/dkms/internal/tree"
	"github.com/dkms-go/dkms/internal/ui"
)

// Job is one build.
type Job struct {
	tree.Target
	L        paths.Layout
	P        *ui.Printer
	Conf     *dkmsconf.Conf
	Excluded []bool // records BUILD_EXCLUSIVE leaves out (delta D5.2); nil: none
	Release  string // dkms's version, for make.log
	Env      []string
	ToolEnv  []string // of strip, sign-file and the compressors
	CC       string   // the compiler Env names; clang means llvm-strip
	Signer   *sign.Signer
	Suffix   string // compression suffix of the kernel's modules (§7.3)
	Compress compress.Opts
	Verbose  bool
	Attach   func(*exec.Cmd) // hands make the shared jobserver; nil: none
	// MakeCommand is the make command line (§4.7), asked for after
	// PRE_BUILD ran.
	MakeCommand func() string
	// Script runs PRE_BUILD and POST_BUILD (§7.1), returning their status.
	Script func(ctx context.Context, typ, value string) int
}

func (j Job) skip(i int) bool { return j.Excluded != nil && j.Excluded[i] }

func (j Job) warn(err error) {
	if err != nil {
		j.P.Warning(err.Error())
	}
}

// Run builds j; the error is the die of the step that failed.
func Run(ctx context.Context, j Job) error {
	m, v, k, a := j.Module, j.Version, j.Kernel, j.Arch
	p, c := j.P, j.Conf
	src := j.L.SourceLink(m, v)
	build := j.L.BuildDir(m, v)
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
	if over := j.L.EtcDir() + "/" + m + "/patches"; fsops.IsDir(over) {
		if err := fsops.CopyTree(over+"/", build+"/patches"); err != nil {
			return p.Die(15, "Could not copy "+over+" into "+build+"/patches: "+err.Error())
		}
	}
	logPath := j.L.MakeLog(m, v)
	if err := fsops.WriteFile(logPath, []byte(logHeader(j.Release, j.Target, time.Now())), 0o644); err != nil {
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
			Dir: build, Env: j.Env, Log: logPath, Verbose: j.Verbose, Dots: ui.DotsFor(m)})
		if code != 0 {
			return p.Die(6, "Application of patch "+patch+" failed.", consult)
		}
	}
	if code := j.Script(ctx, "pre_build", c.PreBuild); code != 0 {
		return ui.Exit(code)
	}
	makeCmd := j.MakeCommand()
	step := ui.Step{Desc: "Building module(s)", Cmd: makeCmd, Dir: build, Env: j.Env,
		Log: logPath, Verbose: j.Verbose, Dots: ui.DotsFor(m)}
	step.Attach = j.Attach
	if code := p.Invoke(ctx, step); code != 0 {
		return p.Die(10, "Bad return status for module build on kernel: "+k+" ("+a+")", consult)
	}
	for i, r := range c.Records {
		if j.skip(i) {
			continue
		}
		if !existsFollow(build + "/" + r.BuiltLocation + r.BuiltName + ".ko") {
			return p.Die(7, "Build of "+r.BuiltLocation+r.BuiltName+".ko failed for: "+k+" ("+a+")",
				"Make sure the name and location of the generated module are correct,",
				"or consult "+logPath+" for more information.")
		}
	}
	kdir := j.L.KernelDir(m, v, k)
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
		if j.skip(i) {
			continue
		}
		file := build + "/" + r.BuiltLocation + r.BuiltName + ".ko"
		if !fsops.IsRegular(file) {
			p.Warning(file + " has disappeared")
			continue
		}
		if r.Strip {
			tool := "strip"
			if j.CC == "clang" {
				tool = "llvm-strip"
			}
			strip := proc.Command(ctx, false, tool, "-g", file)
			strip.Env = j.ToolEnv
			proc.Run(strip)
		}
		if j.Signer != nil {
			s := *j.Signer
			s.Env = j.ToolEnv
			s.Sign(ctx, file, p.Stdout(), p.Stderr())
		}
		stored, ext := file, ".ko"
		if j.Suffix != "" {
			opts := j.Compress
			opts.Env = j.ToolEnv
			if out, err := compress.CompressTo(ctx, file, j.Suffix, opts, p.Stdout(), p.Stderr()); err == nil {
				stored, ext = out, ".ko"+j.Suffix
			}
		}
		if err := fsops.CopyFile(stored, staging+"/module/"+r.DestName+ext, 0o644); err != nil {
			p.Warning("Could not copy " + stored + ": " + err.Error())
		}
	}
	for i, r := range c.Records {
		if j.skip(i) {
			continue
		}
		if tree.FindKo(staging+"/module", r.DestName) == "" {
			return p.Die(7, "Missing module '"+r.DestName+"' in "+staging+"/module")
		}
	}
	if err := renameReplace(staging, j.L.BuiltDir(m, v, k, a)); err != nil {
		p.Stderr().Write([]byte(err.Error() + "\n"))
		return p.Die(7, "do_build: final mv failed ("+strconv.Itoa(1)+")")
	}
	if code := j.Script(ctx, "post_build", c.PostBuild); code != 0 {
		return ui.Exit(code)
	}
	j.warn(fsops.RenamePath(logPath, j.L.BuiltLog(m, v, k, a)))
	j.warn(fsops.RemoveTree(build))
	return nil
}

// logHeader is the first record of make.log (§0.3).
func logHeader(release string, t tree.Target, now time.Time) string {
	m, v, k, a := t.Module, t.Version, t.Kernel, t.Arch
	return "DKMS (" + release + ") make.log for " + m + "/" + v + " for kernel " + k + " (" + a + ")\n" +
		now.Format("Mon Jan _2 15:04:05 MST 2006") + "\n"
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
