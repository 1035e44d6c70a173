package engine

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/dkms-go/dkms/internal/paths"
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
	return writeFileAtomic(e.pendingMarker(pc.m, pc.k, pc.a), []byte(pc.v+"\n"), 0o644)
}

// rollBackMarker deletes the marker of a pair whose install changed
// nothing.
func (e *Engine) rollBackMarker(pc *pairCtx) error {
	return removeFile(e.pendingMarker(pc.m, pc.k, pc.a))
}

// clearPending deletes the markers of kernel k (every module), once
// depmod has run for it.
func (e *Engine) clearPending(k, a string) {
	markers, _ := filepath.Glob(e.L.PendingMarker("*", k, a))
	for _, mk := range markers {
		e.warn(removeFile(mk))
	}
}

// LockTree takes the tree lock and, the first time, repairs what killed
// runs left (see above).
func (e *Engine) LockTree(ctx context.Context) error {
	if err := e.lock(); err != nil {
		return err
	}
	if e.lockFile == nil || e.repaired {
		return nil
	}
	e.repaired = true
	e.sweepTemporaries()
	e.repairPending(ctx)
	return nil
}

// tempGlobs are the places where dkms makes temporaries, relative to the
// trees: <dkms_tree> itself (archive staging, the status cache), module
// directories (kernel links, removals), <m>/<v>/<k> (build staging) and
// <m>/<v>/tarball, the top of each kernel's module directory (module
// copies) and <source_tree> (sources being added).
func (e *Engine) tempGlobs() []string {
	d, i := e.L.DKMSTree, e.L.InstallTree
	return []string{
		d + "/" + tmpPrefix + "*",
		d + "/*/" + tmpPrefix + "*",
		d + "/*/*/" + tmpPrefix + "*",
		d + "/*/*/*/" + tmpPrefix + "*",
		d + "/*/*/*/.tmp_*", // build staging of earlier versions
		i + "/*/" + tmpPrefix + "*",
		i + "/*/updates/dkms/.dkms-copy-*", // module copies of earlier versions
		e.L.SourceTree + "/" + tmpPrefix + "*",
	}
}

// sweepTemporaries deletes every temporary a killed run left. Only called
// under the lock: no other run that makes them is going on.
func (e *Engine) sweepTemporaries() {
	for _, g := range e.tempGlobs() {
		found, _ := filepath.Glob(g)
		for _, p := range found {
			e.warn(removeTree(p))
		}
	}
	// A kernel directory (<m>/<v>/<k>) left empty by a killed unbuild,
	// then a module directory left empty by a killed remove.
	kds, _ := filepath.Glob(e.L.DKMSTree + "/*/*/*")
	for _, kd := range kds {
		if kernelDirName(filepath.Base(kd)) && isRealDir(kd) {
			e.warn(removeIfEmpty(kd))
		}
	}
	mods, _ := os.ReadDir(e.L.DKMSTree)
	for _, de := range mods {
		if de.IsDir() && !strings.HasPrefix(de.Name(), ".") {
			e.warn(removeIfEmpty(e.L.ModuleDir(de.Name())))
		}
	}
}

// repairPending finishes or rolls back every install and uninstall whose
// marker is left, then runs depmod once for each kernel concerned.
func (e *Engine) repairPending(ctx context.Context) {
	kernels := map[pair]bool{}
	markers, _ := filepath.Glob(e.L.ModuleDir("*") + "/" + paths.PendingPrefix + "*")
	for _, mk := range markers {
		m := filepath.Base(filepath.Dir(mk))
		ka := strings.TrimPrefix(filepath.Base(mk), paths.PendingPrefix)
		i := strings.LastIndexByte(ka, '-')
		if i <= 0 {
			e.warn(removeFile(mk))
			continue
		}
		k, a := ka[:i], ka[i+1:]
		b, _ := os.ReadFile(mk)
		v := strings.TrimSpace(string(b))
		if v != "" && isDir(e.L.VersionDir(m, v)) {
			e.repairPair(ctx, &pairCtx{m: m, v: v, k: k, a: a})
		}
		kernels[pair{k, a}] = true
	}
	// The marker of earlier versions: kernel_prerm's deferred depmod.
	old, _ := filepath.Glob(e.L.OldDepmodPending("*", "*"))
	for _, mk := range old {
		ka := strings.TrimPrefix(filepath.Base(mk), paths.OldDepmodPrefix)
		if i := strings.LastIndexByte(ka, '-'); i > 0 {
			kernels[pair{ka[:i], ka[i+1:]}] = true
		}
	}
	var ps []pair
	for p := range kernels {
		ps = append(ps, p)
	}
	sort.Slice(ps, func(i, j int) bool { return ps[i].K+"/"+ps[i].A < ps[j].K+"/"+ps[j].A })
	for _, p := range ps {
		if isDir(e.L.KernelModules(p.K)) {
			fmt.Fprintf(e.P.Stderr(), "dkms: running depmod for kernel %s after an interrupted run\n", p.K)
			e.depmod(ctx, p.K, io.Discard, e.P.Stderr())
		}
		e.clearPending(p.K, p.A)
	}
	for _, mk := range old {
		e.warn(removeFile(mk))
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
	for _, w := range e.versions(m, "") {
		if e.isInstalled(m, w, k, a) {
			active = w
		}
	}
	v := pc.v
	if active != "" {
		v = active
	}
	modDir := e.L.BuiltModules(m, v, k, a)
	if !isDir(modDir) || e.state(m, v) != Added {
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
			if err := mkdirAll(dir); err != nil {
				e.warn(err)
				continue
			}
			e.warn(copyFileVia(src, dst, e.L.KernelModules(k), 0o644))
		case active == "":
			if sameFile(src, dst) {
				e.warn(removeFile(dst))
				removeEmptyParents(dir, e.L.KernelModules(k))
			}
			e.restoreOriginals(pc, r, suffix)
		}
	}
}
