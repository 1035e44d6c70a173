package tree

import (
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/dkms-go/dkms/internal/fsops"
	"github.com/dkms-go/dkms/internal/paths"
)

// Crash safety (docs/RELIABILITY.md): what a killed run leaves in the
// trees, and the pending markers that say which install or uninstall it
// had begun. The engine repairs under the tree lock, from what these
// functions find.

// Sweep deletes every temporary a killed run left, and returns the
// pending markers it met on the way, with the deletions that failed.
// Only call it under the lock: no other run that makes temporaries is
// going on.
//
// Temporaries are made in <dkms_tree> itself (archive staging, the status
// cache), module directories (kernel links, removals), <m>/<v>, the
// directories below it (build staging in <m>/<v>/<k>, <m>/<v>/tarball),
// the top of each kernel's module directory (module copies) and
// <source_tree> (sources being added). One pass reads each of those
// directories once, and follows no symlink (the source link, the kernel
// links): this runs at the start of every change, a nothing-to-do
// autoinstall included.
func (t *Tree) Sweep() (markers []string, errs []error) {
	s := sweeper{}
	d, i := t.l.DKMSTree, t.l.InstallTree
	for _, m := range s.list(d, isTemp) {
		if !m.IsDir() || strings.HasPrefix(m.Name(), ".") {
			continue
		}
		mdir := d + "/" + m.Name()
		left := s.list(mdir, isTemp)
		for _, v := range left {
			if strings.HasPrefix(v.Name(), paths.PendingPrefix) {
				markers = append(markers, mdir+"/"+v.Name())
			}
			if !v.IsDir() {
				continue
			}
			vdir := mdir + "/" + v.Name()
			for _, x := range s.list(vdir, isTemp) {
				if !x.IsDir() {
					continue
				}
				xdir := vdir + "/" + x.Name()
				rest := s.list(xdir, isBuildTemp)
				// A kernel directory left empty by a killed unbuild.
				if len(rest) == 0 && KernelDirName(x.Name()) {
					s.note(fsops.RemoveIfEmpty(xdir))
				}
			}
		}
		// A module directory left empty by a killed remove.
		if len(left) == 0 {
			s.note(fsops.RemoveIfEmpty(mdir))
		}
	}
	for _, k := range s.list(i, func(string) bool { return false }) {
		if k.IsDir() {
			s.list(i+"/"+k.Name(), isTemp)
			s.list(i+"/"+k.Name()+"/updates/dkms", isOldCopy)
		}
	}
	s.list(t.l.SourceTree, isTemp)
	return markers, s.errs
}

type sweeper struct{ errs []error }

func (s *sweeper) note(err error) {
	if err != nil {
		s.errs = append(s.errs, err)
	}
}

// isTemp: the name of a temporary of this version.
func isTemp(name string) bool { return strings.HasPrefix(name, fsops.TmpPrefix) }

// isBuildTemp: a temporary, or build staging of earlier versions.
func isBuildTemp(name string) bool { return isTemp(name) || strings.HasPrefix(name, ".tmp_") }

// isOldCopy: a module copy of earlier versions.
func isOldCopy(name string) bool { return strings.HasPrefix(name, ".dkms-copy-") }

// list lists dir, deletes the entries isTemp names, and returns the
// others.
func (s *sweeper) list(dir string, isTemp func(string) bool) []os.DirEntry {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil // absent, or not a directory: nothing of ours in it
	}
	kept := ents[:0]
	for _, de := range ents {
		if isTemp(de.Name()) {
			s.note(fsops.RemoveTree(dir + "/" + de.Name()))
			continue
		}
		kept = append(kept, de)
	}
	return kept
}

// MarkPending writes the pending marker (paths.PendingMarker) of x: from before the first change of its
// installed files until depmod has run.
func (t *Tree) MarkPending(x Target) error {
	return fsops.WriteFileAtomic(t.l.PendingMarker(x.Module, x.Kernel, x.Arch), []byte(x.Version+"\n"), 0o644)
}

// Unmark deletes the pending marker of module m on kernel k, arch a.
func (t *Tree) Unmark(m, k, a string) error {
	return fsops.RemoveFile(t.l.PendingMarker(m, k, a))
}

// Pending reports whether a module has a pending marker on kernel k,
// arch a.
func (t *Tree) Pending(k, a string) bool {
	pending, _ := filepath.Glob(t.l.PendingMarker("*", k, a))
	return len(pending) > 0
}

// ClearPending deletes the markers of kernel k (every module), once
// depmod has run for it; it returns the deletions that failed.
func (t *Tree) ClearPending(k, a string) (errs []error) {
	markers, _ := filepath.Glob(t.l.PendingMarker("*", k, a))
	for _, mk := range markers {
		if err := fsops.RemoveFile(mk); err != nil {
			errs = append(errs, err)
		}
	}
	return errs
}

// Marker is what a pending marker says: the module had the version's
// files changing on the kernel and arch. Version is "" when the marker
// names no version.
type Marker struct {
	Path string
	Target
}

// ReadMarker reads the pending marker at path; ok is false for a name that
// is not a marker's (the caller deletes it).
func ReadMarker(path string) (mk Marker, ok bool) {
	ka := strings.TrimPrefix(filepath.Base(path), paths.PendingPrefix)
	i := strings.LastIndexByte(ka, '-')
	if i <= 0 {
		return Marker{Path: path}, false
	}
	b, _ := os.ReadFile(path)
	return Marker{Path: path, Target: Target{Module: filepath.Base(filepath.Dir(path)), Kernel: ka[:i], Arch: ka[i+1:],
		Version: strings.TrimSpace(string(b))}}, true
}

// OldDepmodMarkers lists the markers of earlier versions (kernel_prerm's
// deferred depmod) and the kernels they name.
func (t *Tree) OldDepmodMarkers() (files []string, kernels []Pair) {
	files, _ = filepath.Glob(t.l.OldDepmodPending("*", "*"))
	for _, mk := range files {
		ka := strings.TrimPrefix(filepath.Base(mk), paths.OldDepmodPrefix)
		if i := strings.LastIndexByte(ka, '-'); i > 0 {
			kernels = append(kernels, Pair{K: ka[:i], A: ka[i+1:]})
		}
	}
	return files, kernels
}

// SortPairs sorts kernels by kernel and arch.
func SortPairs(ps []Pair) {
	sort.Slice(ps, func(i, j int) bool { return ps[i].K+"/"+ps[i].A < ps[j].K+"/"+ps[j].A })
}

// PurgeKernel removes what is left of kernel k in the dkms tree after its
// modules were removed: kernel directories of every module version,
// kernel-<k>-* links, archived originals and markers (kernel removal must
// leave nothing of that kernel behind). It returns the removals that
// failed.
func (t *Tree) PurgeKernel(k string) []error {
	s := sweeper{}
	l := t.l
	for _, m := range t.Modules("") {
		for _, v := range t.Versions(m, "") {
			if kd := l.KernelDir(m, v, k); fsops.IsDir(kd) && !fsops.IsSymlink(kd) {
				s.note(fsops.RemoveTreeAtomic(kd))
			}
		}
		links, _ := filepath.Glob(l.KernelLink(m, k, "*"))
		for _, lk := range links {
			if fsops.IsSymlink(lk) {
				s.note(fsops.RemoveFile(lk))
			}
		}
		if od := l.OriginalKernelDir(m, k); fsops.Exists(od) {
			s.note(fsops.RemoveTree(od))
		}
		if od := l.OriginalsDir(m); fsops.Exists(od) && !fsops.HasSubdir(od) {
			s.note(fsops.RemoveTree(od))
		}
	}
	markers, _ := filepath.Glob(l.OldDepmodPending(k, "*"))
	markers2, _ := filepath.Glob(l.PendingMarker("*", k, "*"))
	for _, mk := range append(markers, markers2...) {
		s.note(fsops.RemoveFile(mk))
	}
	if fsops.IsDir(l.KernelModules(k)) {
		s.note(fsops.RemoveEmptyDirs(l.KernelModules(k)))
	}
	return s.errs
}
