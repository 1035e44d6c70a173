package engine

import (
	"context"
	"os"
	"strings"

	"github.com/dkms-go/dkms/internal/fsops"
	"github.com/dkms-go/dkms/internal/tree"

	"github.com/dkms-go/dkms/internal/dkmsconf"
	"github.com/dkms-go/dkms/internal/ui"
)

// Install runs `dkms install` (§6.3) over every pair.
func (e *Engine) Install(ctx context.Context) error {
	if err := e.gateAll(); err != nil {
		return err
	}
	if err := e.gateBroken(); err != nil {
		return err
	}
	if err := e.gateRoot(); err != nil {
		return err
	}
	var last error
	for i, k := range e.Kernels {
		pc := e.newPair(k, e.Arches[i])
		last = e.installPair(ctx, pc)
	}
	if ui.Code(last) == 0 {
		e.postTransaction(ctx)
	}
	return last
}

// installPair is §6.3 for one pair.
func (e *Engine) installPair(ctx context.Context, pc *pairCtx) error {
	p := e.P
	if pc.Module != "" && pc.Version != "" && e.tree.IsInstalled(pc.Target) {
		if !pc.force {
			p.Line("Module " + pc.Module + "/" + pc.Version + " already installed on kernel " + pc.Kernel + " (" + pc.Arch +
				"), skip. You may override by specifying --force.")
			return nil
		}
		if err := e.uninstallBody(ctx, pc, false); err != nil {
			return err
		}
		p.Line("")
	}
	if pc.Module == "" || pc.Version == "" || !fsops.IsDir(e.L.BuiltModules(pc.Module, pc.Version, pc.Kernel, pc.Arch)) {
		if err := e.buildPair(ctx, pc, false); err != nil {
			return err
		}
	}
	m, v, k, a := pc.Module, pc.Version, pc.Kernel, pc.Arch
	savedForce := pc.force
	defer func() { pc.force = savedForce }()
	e.forcedInstallList(pc)
	if !fsops.IsDir(e.L.KernelModules(k)) {
		return p.Die(6, "The directory "+e.L.KernelModules(k)+" doesn't exist.",
			"You cannot install a module onto a non-existent kernel.")
	}
	suffix := e.compressionSuffix(pc)
	c, err := e.readConf(ctx, confRead{Target: tree.Target{Module: m, Version: v, Kernel: k, Arch: a}, strict: true})
	if err != nil {
		return err
	}
	modDir := e.L.BuiltModules(m, v, k, a)
	// Records BUILD_EXCLUSIVE excludes for the pair are neither required
	// nor installed, and count as not installed (delta D5.2).
	excluded := dkmsconf.ExcludedRecords(c.Records, k, a, e.kernelConfig(k))
	for i, r := range c.Records {
		if excluded != nil && excluded[i] {
			continue
		}
		if tree.BuiltFile(modDir, r.DestName, suffix) == "" {
			return p.Die(6, "Missing module "+r.DestName+" in "+modDir)
		}
	}
	if e.O.RPMSafeUpgrade {
		pc.force = true
	}
	if code := e.runTerminalScript(ctx, m, "pre_install", c.PreInstall, e.L.SourceLink(m, v)); code != 0 && !pc.force {
		return p.Die(101, "pre_install failed, aborting install.", "You may override by specifying --force.")
	}
	if err := e.lock(); err != nil {
		return err
	}
	// From here until depmod has run, the marker tells the next run to
	// finish or roll back this install if this one is killed.
	if !e.O.NoDepmod {
		if err := e.tree.MarkPending(pc.Target); err != nil {
			return p.Die(6, "Could not record the install: "+err.Error())
		}
	}
	installed := 0
	// One walk of the kernel's tree answers every module's lookups; a
	// second record of the same name sees what the first one changed.
	e.tree.IndexKernel(k)
	defer e.tree.DropIndex()
	done := map[string]bool{}
	for i, r := range c.Records {
		if excluded != nil && excluded[i] {
			continue
		}
		if done[r.DestName] {
			e.tree.IndexKernel(k)
		}
		done[r.DestName] = true
		srcFile := tree.BuiltFile(modDir, r.DestName, suffix)
		if !e.mods().VersionSane(ctx, pc.Target, pc.force, pc.versionOverride || e.O.ForceVersion, c, r, srcFile, suffix) {
			continue
		}
		e.mods().ArchiveOriginal(pc.Target, r, suffix, srcFile)
		if err := e.mods().Place(k, r, srcFile, e.Symlinks); err != nil {
			p.Stderr().Write([]byte(err.Error() + "\n"))
			return p.Die(6, "Copying '"+srcFile+"' failed")
		}
		installed++
	}
	if len(c.Records) > 0 && installed == 0 {
		e.warn(e.tree.Unmark(pc.Module, pc.Kernel, pc.Arch))
		return p.Die(6, "Installation aborted.")
	}
	// The kernel link makes the install visible to status: it comes after
	// every module file is in place.
	if err := fsops.SymlinkAtomic(v+"/"+k+"/"+a, e.L.KernelLink(m, k, a), ""); err != nil {
		p.Stderr().Write([]byte(err.Error() + "\n"))
		return p.Die(6, "Could not link "+e.L.KernelLink(m, k, a)+".")
	}
	pc.force = savedForce
	e.runTerminalScript(ctx, m, "post_install", c.PostInstall, e.L.SourceLink(m, v))
	if pc.batchDepmod {
		pc.depmodDue = true // run once per kernel by the caller
	} else {
		e.depmodStep(ctx, k)
		e.clearPending(k, a)
	}
	e.modprobeOnInstall(ctx, k)
	if !e.O.Force {
		if err := e.rebuildDependents(ctx, pc); err != nil {
			return err
		}
	}
	return nil
}

// forcedInstallList is §6.3 step 3.
func (e *Engine) forcedInstallList(pc *pairCtx) {
	dir := e.L.ForceInstallDir()
	ents, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, de := range ents {
		b, err := os.ReadFile(dir + "/" + de.Name())
		if err != nil {
			continue
		}
		for _, w := range strings.Fields(string(b)) {
			if w == pc.Module {
				pc.force = true
				e.P.Line("Forcing installation of " + pc.Module)
				return
			}
			if w == pc.Module+"_version-override" {
				pc.versionOverride = true
				e.P.Line("Forcing version override of " + pc.Module)
				return
			}
		}
	}
}
