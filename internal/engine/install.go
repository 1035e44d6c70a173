package engine

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

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
	if pc.m != "" && pc.v != "" && e.isInstalled(pc.m, pc.v, pc.k, pc.a) {
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
	if pc.m == "" || pc.v == "" || !isDir(e.L.BuiltModules(pc.m, pc.v, pc.k, pc.a)) {
		if err := e.buildPair(ctx, pc, false); err != nil {
			return err
		}
	}
	m, v, k, a := pc.m, pc.v, pc.k, pc.a
	savedForce := pc.force
	defer func() { pc.force = savedForce }()
	e.forcedInstallList(pc)
	if !isDir(e.L.KernelModules(k)) {
		return p.Die(6, "The directory "+e.L.KernelModules(k)+" doesn't exist.",
			"You cannot install a module onto a non-existent kernel.")
	}
	suffix := e.compressionSuffix(pc)
	c, err := e.readConf(ctx, confRead{m: m, v: v, k: k, a: a, strict: true})
	if err != nil {
		return err
	}
	modDir := e.L.BuiltModules(m, v, k, a)
	for _, r := range c.Records {
		if builtFile(modDir, r.DestName, suffix) == "" {
			return p.Die(6, "Missing module "+r.DestName+" in "+modDir)
		}
	}
	if e.O.RPMSafeUpgrade {
		pc.force = true
	}
	if code := e.runTerminalScript(ctx, "pre_install", c.PreInstall, e.L.SourceLink(m, v)); code != 0 && !pc.force {
		return p.Die(101, "pre_install failed, aborting install.", "You may override by specifying --force.")
	}
	if err := e.lock(); err != nil {
		return err
	}
	installed := 0
	for _, r := range c.Records {
		srcFile := builtFile(modDir, r.DestName, suffix)
		if !e.versionSane(ctx, pc, c, r, srcFile, suffix) {
			continue
		}
		e.archiveOriginal(pc, r, suffix, srcFile)
		dir := e.L.KernelModules(k) + e.destLocation(r)
		p.Line("Installing " + dir + "/" + filepath.Base(srcFile))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return p.Die(6, "Copying '"+srcFile+"' failed")
		}
		dst := dir + "/" + filepath.Base(srcFile)
		if e.Symlinks {
			tmp := dst + ".dkms-new"
			os.Remove(tmp)
			if err := os.Symlink(srcFile, tmp); err != nil || os.Rename(tmp, dst) != nil {
				return p.Die(6, "Copying '"+srcFile+"' failed")
			}
		} else if err := copyFile(srcFile, dst, 0o644); err != nil {
			return p.Die(6, "Copying '"+srcFile+"' failed")
		}
		installed++
	}
	if len(c.Records) > 0 && installed == 0 {
		return p.Die(6, "Installation aborted.")
	}
	link := e.L.KernelLink(m, k, a)
	tmpLink := link + ".dkms-new"
	os.Remove(tmpLink)
	os.Symlink(v+"/"+k+"/"+a, tmpLink)
	os.Rename(tmpLink, link)
	pc.force = savedForce
	e.runTerminalScript(ctx, "post_install", c.PostInstall, e.L.SourceLink(m, v))
	if pc.batchDepmod {
		pc.depmodDue = true // run once per kernel by the caller
	} else {
		e.depmodStep(ctx, k)
	}
	e.modprobeOnInstall(ctx, k)
	if !e.O.Force {
		if err := e.rebuildDependents(ctx, pc); err != nil {
			return err
		}
	}
	return nil
}

// builtFile is the file install takes for dest name d (§6.3 steps 6 and
// 10.3): <d>.ko, else <d>.ko<suffix> for the kernel's current suffix; ""
// when neither is there.
func builtFile(modDir, d, suffix string) string {
	for _, p := range []string{modDir + "/" + d + ".ko", modDir + "/" + d + ".ko" + suffix} {
		if isRegular(p) {
			return p
		}
	}
	return ""
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
	copies := e.kernelCopies(k, r.DestName, suffix)
	if len(copies) == 0 || pc.versionOverride || e.O.ForceVersion {
		return true
	}
	kernelCopy := copies[0]
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
	if sk == sd && (vd != "" || sd != "" || sameFile(kernelCopy, dkmsFile)) {
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
		cmd := exec.CommandContext(ctx, "modinfo", path)
		cmd.Stderr = e.P.Stderr()
		cmd.Run() // its status is not looked at upstream either
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
	if exists(e.L.KernelLink(m, k, a)) {
		if isRegular(backup+"/"+d+".ko") || isRegular(backup+"/"+d+".ko"+suffix) {
			e.P.Line("An original module was already stored during a previous install")
		}
		return
	}
	kd := e.L.KernelModules(k)
	var cands []string
	for _, loc := range []string{"/extra", "/updates", e.destLocation(r)} {
		cands = append(cands, kd+loc+"/"+d+".ko", kd+loc+"/"+d+".ko"+suffix)
	}
	cands = append(cands, e.kernelCopies(k, d, suffix)...)
	for _, c := range cands {
		if !isRegular(c) || sameFile(c, srcFile) {
			continue
		}
		e.P.Line("Found pre-existing " + c + ", archiving for uninstallation")
		os.MkdirAll(backup, 0o755)
		dst := backup + "/" + filepath.Base(c)
		if err := os.Rename(c, dst); err != nil {
			if copyFile(c, dst, 0o644) == nil {
				os.Remove(c)
			}
		}
		os.WriteFile(dst+".origin", []byte(c+"\n"), 0o644)
		return
	}
}
