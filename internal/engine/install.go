package engine

import (
	"context"
	"os"
	"path/filepath"
	"strings"

	"github.com/dkms-go/dkms/internal/fsops"
	"github.com/dkms-go/dkms/internal/proc"
	"github.com/dkms-go/dkms/internal/tree"

	"github.com/dkms-go/dkms/internal/dkmsconf"
	"github.com/dkms-go/dkms/internal/kver"
	"github.com/dkms-go/dkms/internal/modinfo"
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
	if pc.m != "" && pc.v != "" && e.tree.IsInstalled(pc.m, pc.v, pc.k, pc.a) {
		if !pc.force {
			p.Line("Module " + pc.m + "/" + pc.v + " already installed on kernel " + pc.k + " (" + pc.a +
				"), skip. You may override by specifying --force.")
			return nil
		}
		if err := e.uninstallBody(ctx, pc, false); err != nil {
			return err
		}
		p.Line("")
	}
	if pc.m == "" || pc.v == "" || !fsops.IsDir(e.L.BuiltModules(pc.m, pc.v, pc.k, pc.a)) {
		if err := e.buildPair(ctx, pc, false); err != nil {
			return err
		}
	}
	m, v, k, a := pc.m, pc.v, pc.k, pc.a
	savedForce := pc.force
	defer func() { pc.force = savedForce }()
	e.forcedInstallList(pc)
	if !fsops.IsDir(e.L.KernelModules(k)) {
		return p.Die(6, "The directory "+e.L.KernelModules(k)+" doesn't exist.",
			"You cannot install a module onto a non-existent kernel.")
	}
	suffix := e.compressionSuffix(pc)
	c, err := e.readConf(ctx, confRead{m: m, v: v, k: k, a: a, strict: true})
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
		if err := e.tree.MarkPending(pc.m, pc.v, pc.k, pc.a); err != nil {
			return p.Die(6, "Could not record the install: "+err.Error())
		}
	}
	installed := 0
	for i, r := range c.Records {
		if excluded != nil && excluded[i] {
			continue
		}
		srcFile := tree.BuiltFile(modDir, r.DestName, suffix)
		if !e.versionSane(ctx, pc, c, r, srcFile, suffix) {
			continue
		}
		e.archiveOriginal(pc, r, suffix, srcFile)
		dir := e.L.KernelModules(k) + e.destLocation(r)
		p.Line("Installing " + dir + "/" + filepath.Base(srcFile))
		if err := fsops.MkdirAll(dir); err != nil {
			p.Stderr().Write([]byte(err.Error() + "\n"))
			return p.Die(6, "Copying '"+srcFile+"' failed")
		}
		dst := dir + "/" + filepath.Base(srcFile)
		var err error
		if e.Symlinks {
			err = fsops.SymlinkAtomic(srcFile, dst, e.L.KernelModules(k))
		} else {
			// The temporary copy is made at the top of the kernel's
			// directory, where the next run looks for leftovers.
			err = fsops.CopyFileVia(srcFile, dst, e.L.KernelModules(k), 0o644)
		}
		if err != nil {
			p.Stderr().Write([]byte(err.Error() + "\n"))
			return p.Die(6, "Copying '"+srcFile+"' failed")
		}
		installed++
	}
	if len(c.Records) > 0 && installed == 0 {
		e.warn(e.tree.Unmark(pc.m, pc.k, pc.a))
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
			if w == pc.m {
				pc.force = true
				e.P.Line("Forcing installation of " + pc.m)
				return
			}
			if w == pc.m+"_version-override" {
				pc.versionOverride = true
				e.P.Line("Forcing version override of " + pc.m)
				return
			}
		}
	}
}

func stripDashes(s string) string { return strings.ReplaceAll(s, "-", "") }

// versionSane is §7.5; false skips the record.
func (e *Engine) versionSane(ctx context.Context, pc *pairCtx, c *dkmsconf.Conf, r dkmsconf.Record, dkmsFile, suffix string) bool {
	k := pc.k
	if c.ObsoleteBy != "" && !pc.force {
		// Upstream turns the dashes into blanks before VER, which drops
		// them after padding: 5.10.0-13 is 005.010.000013 < 5.10.1.
		kk, oo := stripDashes(kver.Key(k)), stripDashes(kver.Key(c.ObsoleteBy))
		if kk >= oo {
			e.P.Stderr().Write([]byte("\nModule has been obsoleted due to being included in kernel " + c.ObsoleteBy +
				".\nWe will avoid installing for future kernels above " + c.ObsoleteBy +
				".\nYou may override by specifying --force.\n"))
			return false
		}
	}
	copies := e.tree.KernelCopies(k, r.DestName, suffix)
	if len(copies) == 0 || pc.versionOverride || e.O.ForceVersion {
		return true
	}
	kernelCopy := copies[0]
	if !e.tree.LinkActive(pc.m, pc.v, k, pc.a) && tree.SameFile(kernelCopy, dkmsFile) {
		// Our own copy, left by an install that was killed before it made
		// the kernel link: finish that install.
		return true
	}
	// A file modinfo cannot read has neither version nor srcversion, as
	// upstream's empty modinfo output gives.
	vk, sk := e.versionInfo(ctx, kernelCopy)
	vd, sd := e.versionInfo(ctx, dkmsFile)
	if pc.force {
		return true
	}
	if vk != vd {
		if kver.Key(vk) > kver.Key(vd) {
			e.P.ErrorBlock("Module version "+vd+" for "+r.DestName+".ko"+suffix,
				"is not newer than what is already found in kernel "+k+" ("+vk+").",
				"You may override by specifying --force.")
			return false
		}
		return true
	}
	if sk == sd && (vd != "" || sd != "" || tree.SameFile(kernelCopy, dkmsFile)) {
		if vk == "" {
			e.P.Stderr().Write([]byte("Module " + kernelCopy + " already installed (unversioned module), override by specifying --force\n"))
		} else {
			e.P.Stderr().Write([]byte("Module " + kernelCopy + " already installed at version " + vk + ", override by specifying --force\n"))
		}
		return false
	}
	return true
}

// versionInfo returns a module's version: and srcversion:, "" for a file
// that is no readable module. Upstream runs modinfo here and lets its
// errors through (§7.5 rule 5), so for such a file the real modinfo is run
// to print them, with the same wording.
func (e *Engine) versionInfo(ctx context.Context, path string) (string, string) {
	info, err := modinfo.Read(path)
	if err != nil {
		cmd := proc.Command(ctx, false, "modinfo", path)
		cmd.Stderr = e.P.Stderr()
		proc.Run(cmd) // its status is not looked at upstream either
		return "", ""
	}
	return info.Version(), info.SrcVersion()
}

// archiveOriginal is §7.6 A.
//
// A candidate identical to the file being installed is our own copy left by
// an install that was interrupted before the kernel link was made: it is
// not an original and is simply overwritten (upstream would archive it and
// later "restore" it).
func (e *Engine) archiveOriginal(pc *pairCtx, r dkmsconf.Record, suffix, srcFile string) {
	m, k, a := pc.m, pc.k, pc.a
	d := r.DestName
	backup := e.L.OriginalDir(m, k, a)
	if fsops.Exists(e.L.KernelLink(m, k, a)) {
		if fsops.IsRegular(backup+"/"+d+".ko") || fsops.IsRegular(backup+"/"+d+".ko"+suffix) {
			e.P.Line("An original module was already stored during a previous install")
		}
		return
	}
	kd := e.L.KernelModules(k)
	var cands []string
	for _, loc := range []string{"/extra", "/updates", e.destLocation(r)} {
		cands = append(cands, kd+loc+"/"+d+".ko", kd+loc+"/"+d+".ko"+suffix)
	}
	cands = append(cands, e.tree.KernelCopies(k, d, suffix)...)
	for _, c := range cands {
		if !fsops.IsRegular(c) || tree.SameFile(c, srcFile) {
			continue
		}
		e.P.Line("Found pre-existing " + c + ", archiving for uninstallation")
		if err := fsops.MkdirAll(backup); err != nil {
			e.warn(err)
			return
		}
		dst := backup + "/" + filepath.Base(c)
		// Where the original came from is written first: an archived file
		// is never without its origin.
		if err := fsops.WriteFileAtomic(dst+".origin", []byte(c+"\n"), 0o644); err != nil {
			e.warn(err)
			return
		}
		if err := fsops.RenamePath(c, dst); err != nil {
			if err := fsops.CopyFile(c, dst, 0o644); err != nil {
				e.warn(err)
				return
			}
			e.warn(fsops.RemoveFile(c))
		}
		return
	}
}
