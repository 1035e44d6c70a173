// Package modinst is the kernel's module tree as dkms installs into it:
// where a module goes (DEST_MODULE_LOCATION, §4.6) and where its installed
// copy is found (§7.6 B), the originals of the same name archived before an
// install and restored after an uninstall (§7.6 A and C), and the version
// check against a copy the kernel already has (§7.5). It reports through
// the run's printer with the compatible messages.
package modinst

import (
	"context"
	"os"
	"path/filepath"
	"strings"

	"github.com/dkms-go/dkms/internal/dkmsconf"
	"github.com/dkms-go/dkms/internal/fsops"
	"github.com/dkms-go/dkms/internal/kver"
	"github.com/dkms-go/dkms/internal/modinfo"
	"github.com/dkms-go/dkms/internal/paths"
	"github.com/dkms-go/dkms/internal/proc"
	"github.com/dkms-go/dkms/internal/tree"
	"github.com/dkms-go/dkms/internal/ui"
)

// Installer answers for one layout and distribution.
type Installer struct {
	L        paths.Layout
	Tree     *tree.Tree
	P        *ui.Printer
	Distro   string
	AddonDir string // ADDON_MODULES_DIR (§4.6)
}

// warn reports a failed change of the tree that does not stop the action.
func (i Installer) warn(err error) {
	if err != nil {
		i.P.Warning(err.Error())
	}
}

// Dest is the effective DEST_MODULE_LOCATION of a record (§4.6).
func (i Installer) Dest(r dkmsconf.Record) string {
	return dkmsconf.EffectiveDestLocation(r.DestLocation, i.Distro, i.AddonDir)
}

// InstalledCopy locates the installed copy of a record (§7.6 B): the first
// candidate location holding <d>.ko or <d>.ko<ext> with the same version:
// as the reference file in the dkms tree. "" when not found.
func (i Installer) InstalledCopy(r dkmsconf.Record, k, ref string) string {
	p, _ := i.InstalledLocation(r, k, ref)
	return p
}

// InstalledCandidates lists the files InstalledLocation looks at.
func (i Installer) InstalledCandidates(r dkmsconf.Record, k, ref string) []string {
	return i.Tree.InstalledCandidates(k, ref, r.DestName, i.candidateLocations(r))
}

func (i Installer) candidateLocations(r dkmsconf.Record) []string {
	locs := []string{i.Dest(r)}
	if r.DestLocation != locs[0] {
		locs = append(locs, r.DestLocation)
	}
	return locs
}

// InstalledLocation is InstalledCopy that also returns the location
// (relative to <install_tree>/<k>) where the copy was found.
func (i Installer) InstalledLocation(r dkmsconf.Record, k, ref string) (string, string) {
	return i.Tree.InstalledLocation(k, ref, r.DestName, i.candidateLocations(r))
}

func stripDashes(s string) string { return strings.ReplaceAll(s, "-", "") }

// VersionSane is §7.5 for record r of conf c, whose module built for t
// is dkmsFile: false skips the record. force is --force or its
// equivalents; override is --force-version-override or its equivalents.
func (i Installer) VersionSane(ctx context.Context, t tree.Target, force, override bool, c *dkmsconf.Conf, r dkmsconf.Record, dkmsFile, suffix string) bool {
	k := t.Kernel
	if c.ObsoleteBy != "" && !force {
		// Upstream turns the dashes into blanks before VER, which drops
		// them after padding: 5.10.0-13 is 005.010.000013 < 5.10.1.
		kk, oo := stripDashes(kver.Key(k)), stripDashes(kver.Key(c.ObsoleteBy))
		if kk >= oo {
			i.P.Stderr().Write([]byte("\nModule has been obsoleted due to being included in kernel " + c.ObsoleteBy +
				".\nWe will avoid installing for future kernels above " + c.ObsoleteBy +
				".\nYou may override by specifying --force.\n"))
			return false
		}
	}
	copies := i.Tree.KernelCopies(k, r.DestName, suffix)
	if len(copies) == 0 || override {
		return true
	}
	kernelCopy := copies[0]
	if !i.Tree.LinkActive(t) && fsops.SameContent(kernelCopy, dkmsFile) {
		// Our own copy, left by an install that was killed before it made
		// the kernel link: finish that install.
		return true
	}
	// A file modinfo cannot read has neither version nor srcversion, as
	// upstream's empty modinfo output gives.
	vk, sk := i.versionInfo(ctx, kernelCopy)
	vd, sd := i.versionInfo(ctx, dkmsFile)
	if force {
		return true
	}
	if vk != vd {
		if kver.Key(vk) > kver.Key(vd) {
			i.P.ErrorBlock("Module version "+vd+" for "+r.DestName+".ko"+suffix,
				"is not newer than what is already found in kernel "+k+" ("+vk+").",
				"You may override by specifying --force.")
			return false
		}
		return true
	}
	if sk == sd && (vd != "" || sd != "" || fsops.SameContent(kernelCopy, dkmsFile)) {
		if vk == "" {
			i.P.Stderr().Write([]byte("Module " + kernelCopy + " already installed (unversioned module), override by specifying --force\n"))
		} else {
			i.P.Stderr().Write([]byte("Module " + kernelCopy + " already installed at version " + vk + ", override by specifying --force\n"))
		}
		return false
	}
	return true
}

// versionInfo returns a module's version: and srcversion:, "" for a file
// that is no readable module. Upstream runs modinfo here and lets its
// errors through (§7.5 rule 5), so for such a file the real modinfo is run
// to print them, with the same wording.
func (i Installer) versionInfo(ctx context.Context, path string) (string, string) {
	info, err := modinfo.Read(path)
	if err != nil {
		cmd := proc.Command(ctx, false, "modinfo", path)
		cmd.Stderr = i.P.Stderr()
		proc.Run(cmd) // its status is not looked at upstream either
		return "", ""
	}
	return info.Version(), info.SrcVersion()
}

// ArchiveOriginal is §7.6 A for record r of t, whose built module is
// srcFile: a module of the same name already in the kernel's tree is moved
// to the dkms tree, with a note of where it came from.
//
// A candidate identical to the file being installed is our own copy left by
// an install that was interrupted before the kernel link was made: it is
// not an original and is simply overwritten (upstream would archive it and
// later "restore" it).
func (i Installer) ArchiveOriginal(t tree.Target, r dkmsconf.Record, suffix, srcFile string) {
	m, k, a := t.Module, t.Kernel, t.Arch
	d := r.DestName
	backup := i.L.OriginalDir(m, k, a)
	if fsops.Exists(i.L.KernelLink(m, k, a)) {
		if fsops.IsRegular(backup+"/"+d+".ko") || fsops.IsRegular(backup+"/"+d+".ko"+suffix) {
			i.P.Line("An original module was already stored during a previous install")
		}
		return
	}
	kd := i.L.KernelModules(k)
	var cands []string
	for _, loc := range []string{"/extra", "/updates", i.Dest(r)} {
		cands = append(cands, kd+loc+"/"+d+".ko", kd+loc+"/"+d+".ko"+suffix)
	}
	cands = append(cands, i.Tree.KernelCopies(k, d, suffix)...)
	for _, c := range cands {
		if !fsops.IsRegular(c) || fsops.SameContent(c, srcFile) {
			continue
		}
		i.P.Line("Found pre-existing " + c + ", archiving for uninstallation")
		if err := fsops.MkdirAll(backup); err != nil {
			i.warn(err)
			return
		}
		dst := backup + "/" + filepath.Base(c)
		// Where the original came from is written first: an archived file
		// is never without its origin.
		if err := fsops.WriteFileAtomic(dst+".origin", []byte(c+"\n"), 0o644); err != nil {
			i.warn(err)
			return
		}
		if err := fsops.RenamePath(c, dst); err != nil {
			if err := fsops.CopyFile(c, dst, 0o644); err != nil {
				i.warn(err)
				return
			}
			i.warn(fsops.RemoveFile(c))
		}
		return
	}
}

// RestoreOriginals is §7.6 C for record r of t: the originals archived
// for it are put back where they came from.
func (i Installer) RestoreOriginals(t tree.Target, r dkmsconf.Record, suffix string) {
	m, k, a := t.Module, t.Kernel, t.Arch
	backup := i.L.OriginalDir(m, k, a)
	if !fsops.IsDir(backup) {
		return
	}
	kd := i.L.KernelModules(k)
	var origins []string
	filepath.WalkDir(backup, func(p string, de os.DirEntry, err error) error {
		if err == nil && !de.IsDir() && strings.HasPrefix(de.Name(), r.DestName+".") && strings.HasSuffix(de.Name(), ".origin") {
			origins = append(origins, p)
		}
		return nil
	})
	for _, o := range origins {
		file := strings.TrimSuffix(o, ".origin")
		if !fsops.Exists(file) {
			continue
		}
		b, _ := os.ReadFile(o)
		orig := strings.TrimRight(strings.SplitN(string(b), "\n", 2)[0], "\r")
		if !strings.HasPrefix(orig, kd+"/") {
			i.P.Warning("Bad original location '" + orig + "' in " + o)
			continue
		}
		i.P.Line("Restoring archived original module " + orig)
		if err := fsops.MkdirAll(filepath.Dir(orig)); err != nil {
			i.warn(err)
			continue
		}
		if fsops.RenamePath(file, orig) != nil {
			if err := fsops.CopyFile(file, orig, 0o644); err != nil {
				i.warn(err)
				continue
			}
			i.warn(fsops.RemoveFile(file))
		}
		i.warn(fsops.RemoveFile(o))
	}
	i.warn(fsops.RemoveEmptyDirs(i.L.OriginalKernelDir(m, k)))
	for _, name := range []string{r.DestName + ".ko", r.DestName + ".ko" + suffix} {
		legacy := backup + "/" + name
		if fsops.IsRegular(legacy) {
			i.P.Line("Restoring archived original module")
			dir := kd + r.DestLocation
			if err := fsops.MkdirAll(dir); err != nil {
				i.warn(err)
				break
			}
			i.warn(fsops.RenamePath(legacy, dir+"/"+name))
			break
		}
	}
}

// Place installs srcFile, the built module of record r, into kernel k's
// module tree at its destination (§6.3 step 10): a copy, or with symlink
// a symbolic link (symlink_modules), each made beside the destination
// and renamed onto it. The error is the file system's.
func (i Installer) Place(k string, r dkmsconf.Record, srcFile string, symlink bool) error {
	kd := i.L.KernelModules(k)
	dir := kd + i.Dest(r)
	i.P.Line("Installing " + dir + "/" + filepath.Base(srcFile))
	if err := fsops.MkdirAll(dir); err != nil {
		return err
	}
	dst := dir + "/" + filepath.Base(srcFile)
	if symlink {
		return fsops.SymlinkAtomic(srcFile, dst, kd)
	}
	// The temporary copy is made at the top of the kernel's directory,
	// where the next run looks for leftovers.
	return fsops.CopyFileVia(srcFile, dst, kd, 0o644)
}

// Remove deletes the installed copy of record r of t (§6.4 step 4), found
// from ref, its built module ("" when that is missing), and puts the
// archived originals back.
func (i Installer) Remove(t tree.Target, r dkmsconf.Record, ref, suffix string) {
	kd := i.L.KernelModules(t.Kernel)
	inst, loc := "", ""
	if ref != "" {
		inst, loc = i.InstalledLocation(r, t.Kernel, ref)
	}
	if inst != "" {
		dir := kd + loc
		i.P.Line("Deleting " + dir + "/" + r.DestName + ".ko" + suffix)
		matches, _ := filepath.Glob(dir + "/" + r.DestName + ".ko*")
		for _, f := range matches {
			i.warn(fsops.RemoveFile(f))
		}
		fsops.RemoveEmptyParents(dir, kd)
	} else {
		i.P.Line("Module " + r.DestName + ".ko" + suffix + " was not found within " + kd + "/")
	}
	i.RestoreOriginals(t, r, suffix)
}

// Repair makes the installed copy of record r of t agree with whether t
// is the active version (docs/RELIABILITY.md): an active version gets
// the file built in modDir put in place; otherwise a copy identical to it
// is deleted and the archived originals are put back.
func (i Installer) Repair(t tree.Target, r dkmsconf.Record, modDir, suffix string, active bool) {
	src := tree.BuiltFile(modDir, r.DestName, suffix)
	if src == "" {
		return
	}
	kd := i.L.KernelModules(t.Kernel)
	dir := kd + i.Dest(r)
	dst := dir + "/" + filepath.Base(src)
	switch {
	case active && !fsops.SameContent(src, dst):
		if err := fsops.MkdirAll(dir); err != nil {
			i.warn(err)
			return
		}
		i.warn(fsops.CopyFileVia(src, dst, kd, 0o644))
	case !active:
		if fsops.SameContent(src, dst) {
			i.warn(fsops.RemoveFile(dst))
			fsops.RemoveEmptyParents(dir, kd)
		}
		i.RestoreOriginals(t, r, suffix)
	}
}
