package engine

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"syscall"

	"github.com/dkms-go/dkms/internal/fsops"
	"github.com/dkms-go/dkms/internal/modname"
	"github.com/dkms-go/dkms/internal/rpmsafe"
	"github.com/dkms-go/dkms/internal/tree"
	"github.com/dkms-go/dkms/internal/ui"
)

// writable reports whether the process may write to the dkms tree (§6.0).
func (e *Engine) writable() bool {
	if e.IsRoot() {
		return true
	}
	return syscall.Access(e.L.DKMSTree, 2) == nil
}

func (e *Engine) gateWritable() error {
	if !e.writable() {
		return e.P.Die(1, "No write access to DKMS tree at "+e.L.DKMSTree)
	}
	return nil
}

func (e *Engine) gateRoot() error {
	if !e.IsRoot() {
		return e.P.Die(1, "You must be root to use this command.")
	}
	return nil
}

func (e *Engine) gateAll() error {
	if e.O.All {
		return e.P.Die(5, "The action "+e.O.Action+" does not support the --all parameter.")
	}
	return nil
}

func (e *Engine) gateModuleArgs(action string) error {
	if e.O.Module == "" || e.O.Version == "" {
		return e.P.Die(1, "Arguments <module> and <module-version> are not specified.",
			"Usage: "+action+" <module>/<module-version> or",
			"       "+action+" -m <module>/<module-version> or",
			"       "+action+" -m <module> -v <module-version>")
	}
	return nil
}

func (e *Engine) gateBroken() error {
	m, v := e.O.Module, e.O.Version
	if m == "" || v == "" {
		return nil
	}
	if e.tree.State(m, v) == tree.Broken {
		return e.P.Die(4, m+"/"+v+" is broken!", "Missing the source directory or the symbolic link pointing to it.",
			"Manual intervention is required!")
	}
	return nil
}

func (e *Engine) gateAdded() error {
	m, v := e.O.Module, e.O.Version
	if e.tree.State(m, v) != tree.Added {
		return e.P.Die(3, "The module/version combo: "+m+"/"+v+" is not located in the DKMS tree.")
	}
	return nil
}

// firstPair is the pair a conf read uses when one is needed outside the
// per-pair loops.
func (e *Engine) firstPair() (string, string) {
	k, a := e.CurrentKern, e.Machine
	if len(e.Kernels) > 0 {
		k = e.Kernels[0]
	}
	if len(e.Arches) > 0 {
		a = e.Arches[0]
	}
	return k, a
}

// add implements §6.1. implicit is true inside build/install, where the
// POST_ADD status is ignored.
func (e *Engine) add(ctx context.Context, implicit bool) error {
	o := e.O
	if o.Module == "" && o.Version == "" {
		switch {
		case o.Archive != "":
			// §6.1 step 1: continue whatever the loading's status, but a die
			// inside it ends the command, as upstream's die exits the script.
			if err := e.loadTarball(ctx); err != nil && !errors.Is(err, errLoadedWithoutSource) {
				return err
			}
		case o.SourceTreeToAdd != "":
			if err := e.addFromPath(ctx, o.SourceTreeToAdd, "", ""); err != nil {
				return err
			}
		}
	}
	if err := e.gateModuleArgs("add"); err != nil {
		return err
	}
	m, v := o.Module, o.Version
	if o.RPMSafeUpgrade {
		e.warn(rpmsafe.Mark(e.TmpLocation, m, v))
	}
	if e.tree.State(m, v) == tree.Added {
		return e.P.Die(3, "DKMS tree already contains: "+m+"/"+v,
			"You cannot add the same module/version combo more than once.")
	}
	src := e.L.SourceDir(m, v)
	if !fsops.IsDir(src) {
		return e.P.Die(2, "Could not find module source directory.", "Directory: "+src+" does not exist.")
	}
	k, a := e.firstPair()
	conf := o.ConfPath
	if conf == "" {
		conf = src + "/dkms.conf"
	}
	c, err := e.readConf(ctx, confRead{Target: tree.Target{Module: m, Version: v, Kernel: k, Arch: a}, path: conf, strict: true})
	if err != nil {
		return err
	}
	link := e.L.SourceLink(m, v)
	e.P.Line("Creating symlink " + link + " -> " + src)
	if err := e.lock(); err != nil {
		return err
	}
	if err := e.makeVersionDir(m, v, src); err != nil {
		return err
	}
	code := e.runTerminalScript(ctx, m, "post_add", c.PostAdd, link)
	if implicit {
		return nil
	}
	return ui.Exit(code)
}

// makeVersionDir makes <dkms_tree>/<m>/<v> with its build directory and
// its source link. A new one is made under a temporary name and renamed
// into place, so that a killed add leaves either nothing or the added
// module (a version directory without its source link reads as broken).
func (e *Engine) makeVersionDir(m, v, src string) error {
	vd, link := e.L.VersionDir(m, v), e.L.SourceLink(m, v)
	if !fsops.Exists(vd) {
		if err := fsops.MkdirAll(e.L.ModuleDir(m)); err != nil {
			return e.P.Die(1, "Could not create "+e.L.ModuleDir(m)+": "+err.Error())
		}
		tmp := e.stagedVersion // ldtarball's binaries
		e.stagedVersion = ""
		if tmp == "" {
			tmp = fsops.TempPath(e.L.ModuleDir(m), "add")
		}
		if err := fsops.MkdirAll(tmp + "/build"); err != nil {
			return e.P.Die(1, "Could not create "+e.L.BuildDir(m, v)+": "+err.Error())
		}
		err := fsops.SymlinkAt(src, tmp+"/source")
		if err == nil {
			err = fsops.RenamePath(tmp, vd)
		}
		if err != nil {
			e.warn(fsops.RemoveTree(tmp))
			return e.P.Die(1, "Could not create "+vd+": "+err.Error())
		}
		return nil
	}
	if err := fsops.MkdirAll(e.L.BuildDir(m, v)); err != nil {
		return e.P.Die(1, "Could not create "+e.L.BuildDir(m, v)+": "+err.Error())
	}
	// As `ln -s src link`: over an existing directory (a binaries-only
	// tree's source/) the link is made inside it.
	at := link
	if fsops.IsDir(link) {
		at = link + "/" + filepath.Base(src)
	}
	if err := fsops.SymlinkAt(src, at); err != nil {
		e.P.Stderr().Write([]byte("ln: failed to create symbolic link '" + at + "': File exists\n"))
	}
	return nil
}

// addFromPath copies a source directory into the source tree (§6.1).
// archive is the archive the directory was extracted from, or "" for a
// path from the command line; tmp is the extraction directory. The names
// the conf declares are checked before anything is written or removed,
// and the tree lock is held from there on.
func (e *Engine) addFromPath(ctx context.Context, given, archive, tmp string) error {
	resolved, err := filepath.EvalSymlinks(given)
	if err == nil {
		resolved, err = filepath.Abs(resolved)
	}
	if err != nil || !fsops.IsRegular(resolved+"/dkms.conf") {
		return e.P.Die(9, given+" must contain a dkms.conf file!")
	}
	if err := e.gateRoot(); err != nil {
		return err
	}
	k, a := e.firstPair()
	c, err := e.readConf(ctx, confRead{Target: tree.Target{Kernel: k, Arch: a}, path: resolved + "/dkms.conf"})
	if err != nil {
		return err
	}
	if err := c.CheckNames(); err != nil {
		if archive != "" {
			return e.refuseArchive(archive, archiveNameError(tmp, err))
		}
		fmt.Fprintln(e.P.Stderr(), err)
		fmt.Fprintln(e.P.Stderr(), modname.Rule)
		return e.P.Die(8, "Bad conf file.", "File: "+resolved+"/dkms.conf does not represent a valid dkms.conf file.")
	}
	m, v := c.PackageName, c.PackageVersion
	e.O.Module, e.O.Version = m, v
	if err := e.lock(); err != nil {
		return err
	}
	dst := e.L.SourceDir(m, v)
	if e.O.Force && fsops.IsDir(dst) {
		e.P.Stderr().Write([]byte("\n"))
		e.P.Line("Forcing install of " + m + "/" + v)
		if err := fsops.RemoveTreeAtomic(dst); err != nil {
			return e.P.Die(2, "Could not delete "+dst+": "+err.Error())
		}
	}
	if resolved == dst {
		return nil
	}
	if fsops.IsDir(dst) {
		if err := fsops.CopyTree(resolved, dst); err != nil {
			return e.P.Die(2, "Could not copy "+resolved+" to "+dst+": "+err.Error())
		}
		return nil
	}
	// A new source directory is copied under a temporary name and renamed
	// into place: a killed copy never leaves a partial source to add.
	if err := fsops.MkdirAll(e.L.SourceTree); err != nil {
		return e.P.Die(2, "Could not create "+e.L.SourceTree+": "+err.Error())
	}
	staging := fsops.TempPath(e.L.SourceTree, "src")
	err = fsops.CopyTree(resolved, staging)
	if err == nil {
		err = fsops.RenamePath(staging, dst)
	}
	if err != nil {
		e.warn(fsops.RemoveTree(staging))
		return e.P.Die(2, "Could not copy "+resolved+" to "+dst+": "+err.Error())
	}
	return nil
}
