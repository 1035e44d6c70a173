package engine

import (
	"context"
	"fmt"
	"io"

	"github.com/dkms-go/dkms/internal/fsops"
	"github.com/dkms-go/dkms/internal/tree"
)

// Crash safety (docs/RELIABILITY.md). Every action that changes the trees
// takes the tree lock before it looks at them, and the first thing done
// under the lock is repair: the temporaries a killed run left are
// deleted, and every install or uninstall that a killed run had begun is
// finished or rolled back, as its pending marker says, and depmod is run
// for its kernel.

// warnAll reports failed changes of the tree that do not stop the action.
func (e *Engine) warnAll(errs []error) {
	for _, err := range errs {
		e.warn(err)
	}
}

// clearPending deletes the markers of kernel k (every module), once
// depmod has run for it.
func (e *Engine) clearPending(k, a string) { e.warnAll(e.tree.ClearPending(k, a)) }

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

// sweepTemporaries deletes every temporary a killed run left (tree.Sweep)
// and returns the pending markers it met.
func (e *Engine) sweepTemporaries() []string {
	markers, errs := e.tree.Sweep()
	e.warnAll(errs)
	return markers
}

// repairPending finishes or rolls back every install and uninstall whose
// marker is left, then runs depmod once for each kernel concerned.
func (e *Engine) repairPending(ctx context.Context, markers []string) {
	kernels := map[Pair]bool{}
	for _, path := range markers {
		mk, ok := tree.ReadMarker(path)
		if !ok {
			e.warn(fsops.RemoveFile(path))
			continue
		}
		if mk.Version != "" && fsops.IsDir(e.L.VersionDir(mk.Module, mk.Version)) {
			e.repairPair(ctx, &pairCtx{Target: mk.Target})
		}
		kernels[Pair{K: mk.Kernel, A: mk.Arch}] = true
	}
	// The marker of earlier versions: kernel_prerm's deferred depmod.
	old, oldKernels := e.tree.OldDepmodMarkers()
	for _, p := range oldKernels {
		kernels[p] = true
	}
	var ps []Pair
	for p := range kernels {
		ps = append(ps, p)
	}
	tree.SortPairs(ps)
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
	m, k, a := pc.Module, pc.Kernel, pc.Arch
	active := ""
	for _, w := range e.tree.Versions(m, "") {
		if e.tree.IsInstalled(tree.Target{Module: m, Version: w, Kernel: k, Arch: a}) {
			active = w
		}
	}
	v := pc.Version
	if active != "" {
		v = active
	}
	modDir := e.L.BuiltModules(m, v, k, a)
	if !fsops.IsDir(modDir) || e.tree.State(m, v) != tree.Added {
		return
	}
	c, err := e.readConf(ctx, confRead{Target: tree.Target{Module: m, Version: v, Kernel: k, Arch: a}, quiet: true})
	if err != nil {
		e.warn(fmt.Errorf("repairing %s/%s for kernel %s: %w", m, v, k, err))
		return
	}
	pc = &pairCtx{Target: tree.Target{Module: m, Version: v, Kernel: k, Arch: a}}
	suffix := e.compressionSuffix(pc)
	verb := "rolling back"
	if active != "" {
		verb = "completing"
	}
	fmt.Fprintf(e.P.Stderr(), "dkms: %s an interrupted change of %s/%s for kernel %s (%s)\n", verb, m, v, k, a)
	for _, r := range c.Records {
		e.mods().Repair(pc.Target, r, modDir, suffix, active != "")
	}
}
