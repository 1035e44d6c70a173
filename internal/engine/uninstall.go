package engine

import (
	"context"
	"strings"

	"github.com/dkms-go/dkms/internal/fsops"
	"github.com/dkms-go/dkms/internal/rpmsafe"
	"github.com/dkms-go/dkms/internal/tree"
)

// Uninstall runs `dkms uninstall` (§6.4).
func (e *Engine) Uninstall(ctx context.Context) error {
	if err := e.removalGates("uninstall", true); err != nil {
		return err
	}
	for i, k := range e.Kernels {
		if i > 0 {
			e.P.Line("")
		}
		if err := e.uninstallStep(ctx, e.mainPair(k, e.Arches[i]), false); err != nil {
			return err
		}
	}
	e.postTransaction(ctx)
	return nil
}

func (e *Engine) removalGates(action string, root bool) error {
	if err := e.gateModuleArgs(action); err != nil {
		return err
	}
	if err := e.gateBroken(); err != nil {
		return err
	}
	if err := e.gateAdded(); err != nil {
		return err
	}
	if root {
		return e.gateRoot()
	}
	return e.gateWritable()
}

// uninstallStep prints the skip line or runs the uninstall body.
func (e *Engine) uninstallStep(ctx context.Context, pc *pairCtx, deferDepmod bool) error {
	installed := e.tree.IsInstalled(pc.Target)
	if pc.linkOnly {
		installed = fsops.IsDir(e.L.BuiltModules(pc.Module, pc.Version, pc.Kernel, pc.Arch)) && e.tree.LinkActive(pc.Target)
	}
	if !installed {
		hide, err := e.usesExclusive(ctx, pc)
		if err != nil {
			return err
		}
		if !hide {
			e.P.Line("Module " + pc.Module + "/" + pc.Version + " is not installed for kernel " + pc.Kernel + " (" + pc.Arch + "). Skipping...")
		}
		return nil
	}
	return e.uninstallBody(ctx, pc, deferDepmod)
}

// uninstallBody is §6.4 steps 1-7.
func (e *Engine) uninstallBody(ctx context.Context, pc *pairCtx, deferDepmod bool) error {
	m, v, k, a := pc.Module, pc.Version, pc.Kernel, pc.Arch
	p := e.P
	p.Line("Module " + m + "/" + v + " for kernel " + k + " (" + a + "):")
	suffix := e.compressionSuffix(pc)
	c, err := e.readConf(ctx, confRead{Target: tree.Target{Module: m, Version: v, Kernel: k, Arch: a}})
	if err != nil {
		return err
	}
	if err := e.lock(); err != nil {
		return err
	}
	active := e.tree.LinkActive(pc.Target)
	// Until depmod has run, the marker tells the next run to finish this
	// uninstall if this one is killed.
	if err := e.tree.MarkPending(pc.Target); err != nil {
		return p.Die(6, "Could not record the uninstall: "+err.Error())
	}
	if active {
		p.Line("Before uninstall, this module version was ACTIVE on this kernel.")
		ref := e.L.KernelLink(m, k, a) + "/module"
		for _, r := range c.Records {
			e.mods().Remove(pc.Target, r, tree.FindKo(ref, r.DestName), suffix)
		}
		// The link goes last: until then status still reads the module as
		// installed, and a killed uninstall is finished by the next run.
		if err := fsops.RemoveFile(e.L.KernelLink(m, k, a)); err != nil {
			return p.Die(6, "Could not remove the kernel link: "+err.Error())
		}
	} else {
		p.Line("This module version was INACTIVE for this kernel.")
	}
	e.runTerminalScript(ctx, m, "post_remove", c.PostRemove, e.L.SourceLink(m, v))
	if !deferDepmod {
		// Deferred, the marker stays for the caller's depmod.
		e.depmodStep(ctx, k)
	}
	if active && fsops.Exists(e.L.OriginalDir(m, k, a)) {
		p.Line("Removing original module(s) from DKMS tree for kernel " + k + " (" + a + ")")
		e.warn(fsops.RemoveTree(e.L.OriginalDir(m, k, a)))
		kdir := e.L.OriginalKernelDir(m, k)
		if !fsops.HasSubdir(kdir) {
			e.warn(fsops.RemoveTree(kdir))
		}
	}
	if od := e.L.OriginalsDir(m); fsops.Exists(od) && !fsops.HasSubdir(od) {
		e.warn(fsops.RemoveTree(od))
	}
	if !deferDepmod {
		e.warn(e.tree.Unmark(m, k, a))
	}
	return nil
}

// Unbuild runs `dkms unbuild` (§6.5).
func (e *Engine) Unbuild(ctx context.Context) error {
	if err := e.removalGates("unbuild", false); err != nil {
		return err
	}
	for i, k := range e.Kernels {
		if i > 0 {
			e.P.Line("")
		}
		if err := e.unbuildStep(ctx, e.mainPair(k, e.Arches[i]), false); err != nil {
			return err
		}
	}
	e.postTransaction(ctx)
	return nil
}

func (e *Engine) unbuildStep(ctx context.Context, pc *pairCtx, deferDepmod bool) error {
	if err := e.uninstallStep(ctx, pc, deferDepmod); err != nil {
		return err
	}
	return e.deleteBuilt(pc)
}

// deleteBuilt removes <k>/<a> (and <k> when nothing else is left in it).
func (e *Engine) deleteBuilt(pc *pairCtx) error {
	if !fsops.IsDir(e.L.BuiltModules(pc.Module, pc.Version, pc.Kernel, pc.Arch)) {
		e.P.Line("Module " + pc.Module + "/" + pc.Version + " is not built for kernel " + pc.Kernel + " (" + pc.Arch + "). Skipping...")
		// What a killed unbuild may have left: the kernel's empty directory.
		if kd := e.L.KernelDir(pc.Module, pc.Version, pc.Kernel); fsops.IsRealDir(kd) && e.tree.Locked() {
			e.warn(fsops.RemoveIfEmpty(kd))
		}
		return nil
	}
	if err := e.lock(); err != nil {
		return err
	}
	// Built files disappear at once (renamed away, then deleted), so a
	// killed unbuild never leaves a half-deleted build that status reads.
	if err := fsops.RemoveTreeAtomic(e.L.BuiltDir(pc.Module, pc.Version, pc.Kernel, pc.Arch)); err != nil {
		return e.P.Die(6, "Could not delete the built module: "+err.Error())
	}
	if kd := e.L.KernelDir(pc.Module, pc.Version, pc.Kernel); !fsops.HasSubdir(kd) {
		e.warn(fsops.RemoveTree(kd))
	}
	return nil
}

// Remove runs `dkms remove` (§6.6).
func (e *Engine) Remove(ctx context.Context) error {
	if err := e.removalGates("remove", false); err != nil {
		return err
	}
	m, v := e.O.Module, e.O.Version
	if err := e.lock(); err != nil {
		return err
	}
	vd := e.L.VersionDir(m, v)
	for _, n := range fsops.ReadDirNames(vd) {
		if fsops.IsDir(vd+"/"+n) && !fsops.IsSymlink(vd+"/"+n) {
			e.warn(fsops.RemoveIfEmpty(vd + "/" + n))
		}
	}
	if e.O.RPMSafeUpgrade {
		cancel, err := rpmsafe.Cancel(e.TmpLocation, m, v)
		e.warn(err)
		if cancel {
			e.P.Warning("Remove cancelled because --rpm_safe_upgrade scenario detected.")
			return nil
		}
	}
	for i, k := range e.Kernels {
		pc := e.mainPair(k, e.Arches[i])
		if err := e.unbuildStep(ctx, pc, false); err != nil {
			return err
		}
		e.P.Line("")
	}
	complete := true
	for _, n := range fsops.ReadDirNames(vd) {
		if !fsops.IsDir(vd + "/" + n) {
			continue
		}
		keep := false
		for _, suf := range []string{"build", "tarball", "driver_disk", "rpm", "deb", "source"} {
			if strings.HasSuffix(n, suf) {
				keep = true
			}
		}
		if !keep {
			complete = false
		}
	}
	if complete {
		e.P.Line("Deleting module " + m + "/" + v + " completely from the DKMS tree.")
		// At once: a half-deleted version directory would read as broken.
		if err := fsops.RemoveTreeAtomic(vd); err != nil {
			return e.P.Die(6, "Could not delete "+vd+": "+err.Error())
		}
	}
	if len(fsops.ReadDirNames(e.L.ModuleDir(m))) == 0 {
		e.warn(fsops.RemoveTree(e.L.ModuleDir(m)))
	}
	e.postTransaction(ctx)
	return nil
}
