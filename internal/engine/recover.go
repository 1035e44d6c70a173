package engine

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/dkms-go/dkms/internal/fsops"
	"github.com/dkms-go/dkms/internal/paths"
	"github.com/dkms-go/dkms/internal/tree"
)

// Crash safety (docs/RELIABILITY.md). Every action that changes the trees
// takes the tree lock before it looks at them, and the first thing done
// under the lock is repair: the temporaries a killed run left are
// deleted, and every install or uninstall that a killed run had begun is
// finished or rolled back, as its pending marker says, and depmod is run
// for its kernel.

// pendingMarker (paths.PendingMarker) holds the version whose files an
// install or uninstall is changing for that kernel, from before the first
// change until depmod has run.
func (e *Engine) pendingMarker(m, k, a string) string { return e.L.PendingMarker(m, k, a) }

// markPending writes the pending marker of a pair.
func (e *Engine) markPending(pc *pairCtx) error {
	return fsops.WriteFileAtomic(e.pendingMarker(pc.m, pc.k, pc.a), []byte(pc.v+"\n"), 0o644)
}

// rollBackMarker deletes the marker of a pair whose install changed
// nothing.
func (e *Engine) rollBackMarker(pc *pairCtx) error {
	return fsops.RemoveFile(e.pendingMarker(pc.m, pc.k, pc.a))
}

// clearPending deletes the markers of kernel k (every module), once
// depmod has run for it.
func (e *Engine) clearPending(k, a string) {
	markers, _ := filepath.Glob(e.L.PendingMarker("*", k, a))
	for _, mk := range markers {
		e.warn(fsops.RemoveFile(mk))
	}
}

// LockTree takes the tree lock and, the first time, repairs what killed
// runs left (see above).
func (e *Engine) LockTree(ctx context.Context) error {
	if err := e.lock(); err != nil {
		return err
	}
	if !e.tree.Locked() || e.repaired {
		return nil
	}
	e.repaired = true
	e.repairPending(ctx, e.sweepTemporaries())
	return nil
}

// sweepTemporaries deletes every temporary a killed run left, and
// returns the pending markers it met on the way. Only called under the
// lock: no other run that makes temporaries is going on.
//
// Temporaries are made in <dkms_tree> itself (archive staging, the status
// cache), module directories (kernel links, removals), <m>/<v>, the
// directories below it (build staging in <m>/<v>/<k>, <m>/<v>/tarball),
// the top of each kernel's module directory (module copies) and
// <source_tree> (sources being added). One pass reads each of those
// directories once, and follows no symlink (the source link, the kernel
// links): this runs at the start of every change, a nothing-to-do
// autoinstall included.
func (e *Engine) sweepTemporaries() (markers []string) {
	d, i := e.L.DKMSTree, e.L.InstallTree
	for _, m := range e.sweepList(d, isTemp) {
		if !m.IsDir() || strings.HasPrefix(m.Name(), ".") {
			continue
		}
		mdir := d + "/" + m.Name()
		left := e.sweepList(mdir, isTemp)
		for _, v := range left {
			if strings.HasPrefix(v.Name(), paths.PendingPrefix) {
				markers = append(markers, mdir+"/"+v.Name())
			}
			if !v.IsDir() {
				continue
			}
			vdir := mdir + "/" + v.Name()
			for _, x := range e.sweepList(vdir, isTemp) {
				if !x.IsDir() {
					continue
				}
				xdir := vdir + "/" + x.Name()
				rest := e.sweepList(xdir, isBuildTemp)
				// A kernel directory left empty by a killed unbuild.
				if len(rest) == 0 && tree.KernelDirName(x.Name()) {
					e.warn(fsops.RemoveIfEmpty(xdir))
				}
			}
		}
		// A module directory left empty by a killed remove.
		if len(left) == 0 {
			e.warn(fsops.RemoveIfEmpty(mdir))
		}
	}
	for _, k := range e.sweepList(i, func(string) bool { return false }) {
		if k.IsDir() {
			e.sweepList(i+"/"+k.Name(), isTemp)
			e.sweepList(i+"/"+k.Name()+"/updates/dkms", isOldCopy)
		}
	}
	e.sweepList(e.L.SourceTree, isTemp)
	return markers
}

// isTemp: the name of a temporary of this version.
func isTemp(name string) bool { return strings.HasPrefix(name, fsops.TmpPrefix) }

// isBuildTemp: a temporary, or build staging of earlier versions.
func isBuildTemp(name string) bool { return isTemp(name) || strings.HasPrefix(name, ".tmp_") }

// isOldCopy: a module copy of earlier versions.
func isOldCopy(name string) bool { return strings.HasPrefix(name, ".dkms-copy-") }

// sweepList lists dir, deletes the entries isTemp names, and returns the
// others.
func (e *Engine) sweepList(dir string, isTemp func(string) bool) []os.DirEntry {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil // absent, or not a directory: nothing of ours in it
	}
	kept := ents[:0]
	for _, de := range ents {
		if isTemp(de.Name()) {
			e.warn(fsops.RemoveTree(dir + "/" + de.Name()))
			continue
		}
		kept = append(kept, de)
	}
	return kept
}

// repairPending finishes or rolls back every install and uninstall whose
// marker is left, then runs depmod once for each kernel concerned.
func (e *Engine) repairPending(ctx context.Context, markers []string) {
	kernels := map[Pair]bool{}
	for _, mk := range markers {
		m := filepath.Base(filepath.Dir(mk))
		ka := strings.TrimPrefix(filepath.Base(mk), paths.PendingPrefix)
		i := strings.LastIndexByte(ka, '-')
		if i <= 0 {
			e.warn(fsops.RemoveFile(mk))
			continue
		}
		k, a := ka[:i], ka[i+1:]
		b, _ := os.ReadFile(mk)
		v := strings.TrimSpace(string(b))
		if v != "" && fsops.IsDir(e.L.VersionDir(m, v)) {
			e.repairPair(ctx, &pairCtx{m: m, v: v, k: k, a: a})
		}
		kernels[Pair{K: k, A: a}] = true
	}
	// The marker of earlier versions: kernel_prerm's deferred depmod.
	old, _ := filepath.Glob(e.L.OldDepmodPending("*", "*"))
	for _, mk := range old {
		ka := strings.TrimPrefix(filepath.Base(mk), paths.OldDepmodPrefix)
		if i := strings.LastIndexByte(ka, '-'); i > 0 {
			kernels[Pair{K: ka[:i], A: ka[i+1:]}] = true
		}
	}
	var ps []Pair
	for p := range kernels {
		ps = append(ps, p)
	}
	sort.Slice(ps, func(i, j int) bool { return ps[i].K+"/"+ps[i].A < ps[j].K+"/"+ps[j].A })
	for _, p := range ps {
		if fsops.IsDir(e.L.KernelModules(p.K)) {
			fmt.Fprintf(e.P.Stderr(), "dkms: running depmod for kernel %s after an interrupted run\n", p.K)
			e.depmod(ctx, p.K, io.Discard, e.P.Stderr())
		}
		e.clearPending(p.K, p.A)
	}
	for _, mk := range old {
		e.warn(fsops.RemoveFile(mk))
	}
}

// repairPair makes the installed files of module m on a kernel agree with
// its kernel link, which is what status reads. When the link points at a
// built version, every module file of that version is put in place (an
// interrupted install completes, an interrupted uninstall is undone).
// Without an active version, the copies identical to the files built for
// pc's version are deleted and archived originals are put back (an
// interrupted install is rolled back, an interrupted uninstall completes).
func (e *Engine) repairPair(ctx context.Context, pc *pairCtx) {
	m, k, a := pc.m, pc.k, pc.a
	active := ""
	for _, w := range e.tree.Versions(m, "") {
		if e.tree.IsInstalled(m, w, k, a) {
			active = w
		}
	}
	v := pc.v
	if active != "" {
		v = active
	}
	modDir := e.L.BuiltModules(m, v, k, a)
	if !fsops.IsDir(modDir) || e.tree.State(m, v) != tree.Added {
		return
	}
	c, err := e.readConf(ctx, confRead{m: m, v: v, k: k, a: a, quiet: true})
	if err != nil {
		e.warn(fmt.Errorf("repairing %s/%s for kernel %s: %w", m, v, k, err))
		return
	}
	pc = &pairCtx{m: m, v: v, k: k, a: a}
	suffix := e.compressionSuffix(pc)
	verb := "rolling back"
	if active != "" {
		verb = "completing"
	}
	fmt.Fprintf(e.P.Stderr(), "dkms: %s an interrupted change of %s/%s for kernel %s (%s)\n", verb, m, v, k, a)
	for _, r := range c.Records {
		src := builtFile(modDir, r.DestName, suffix)
		if src == "" {
			continue
		}
		dir := e.L.KernelModules(k) + e.destLocation(r)
		dst := dir + "/" + filepath.Base(src)
		switch {
		case active != "" && !sameFile(src, dst):
			if err := fsops.MkdirAll(dir); err != nil {
				e.warn(err)
				continue
			}
			e.warn(fsops.CopyFileVia(src, dst, e.L.KernelModules(k), 0o644))
		case active == "":
			if sameFile(src, dst) {
				e.warn(fsops.RemoveFile(dst))
				fsops.RemoveEmptyParents(dir, e.L.KernelModules(k))
			}
			e.restoreOriginals(pc, r, suffix)
		}
	}
}
