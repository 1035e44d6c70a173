package main

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// statusKernels are four made-up kernels; status needs no headers.
var statusKernels = []string{"6.1.0-50-amd64", "6.1.0-51-amd64", "6.1.0-52-amd64", "6.1.0-53-amd64"}

// statusCheck accepts a status run that printed one line per built
// (version, kernel) pair.
func statusCheck(want int) func([]byte, int) error {
	return func(out []byte, code int) error {
		if code != 0 {
			return fmt.Errorf("exit status %d", code)
		}
		if got := bytes.Count(out, []byte(": installed")) + bytes.Count(out, []byte(": built")); got != want {
			return fmt.Errorf("status printed %d built/installed lines, want %d", got, want)
		}
		return nil
	}
}

// settle waits out our status cache's racy window: it does not trust what
// changed less than a second before a run, so on a tree written just now
// every run would read part of it again. A machine's tree is older than
// that when someone types dkms status.
func settle() { time.Sleep(1100 * time.Millisecond) }

// statusPoint times `dkms status` for both on a tree of n versions. When
// upstream is false only ours runs (upstream's cost at the largest sizes
// would dominate the whole benchmark run).
func (b *bench) statusPoint(ctx context.Context, n int, upstream bool, upReps int) (ours, up stats, err error) {
	t, err := statusTree(filepath.Join(b.w.dir, fmt.Sprintf("status-%d", n)), n, statusKernels)
	if err != nil {
		return ours, up, err
	}
	settle()
	want := n * len(statusKernels)
	jobs := []job{{
		label:   fmt.Sprintf("ours status n=%d", n),
		prepare: func(ctx context.Context, _ int) (*exec.Cmd, error) { return b.w.ours(ctx, t, "status"), nil },
		check:   statusCheck(want),
		quick:   true,
		warm:    true,
	}}
	if upstream {
		jobs = append(jobs, job{
			label:   fmt.Sprintf("upstream status n=%d", n),
			prepare: func(ctx context.Context, _ int) (*exec.Cmd, error) { return b.w.up(ctx, t, "status"), nil },
			check:   statusCheck(want),
			maxReps: upReps,
		})
	}
	reps := b.reps
	if n >= 500 && !b.small {
		reps = min(reps, 3)
	}
	st, err := compare(ctx, reps, jobs...)
	if err != nil {
		return ours, up, err
	}
	if upstream {
		up = st[1]
	}
	b.logf("  ours %v, upstream %v", st[0].Wall, up.Wall)
	return st[0], up, nil
}

// statusDiff runs both once, untimed, and describes how their outputs
// differ (upstream 3.0.x words some suffixes differently from 3.2.2).
func (b *bench) statusDiff(ctx context.Context, t trees, args ...string) string {
	o, _ := b.w.ours(ctx, t, args...).Output()
	u, _ := b.w.up(ctx, t, args...).Output()
	if bytes.Equal(o, u) {
		return "identical"
	}
	ol, ul := strings.Split(string(o), "\n"), strings.Split(string(u), "\n")
	for i := 0; i < len(ol) && i < len(ul); i++ {
		if ol[i] != ul[i] {
			return fmt.Sprintf("differ; first difference at line %d: ours %q, upstream %q", i+1, ol[i], ul[i])
		}
	}
	return fmt.Sprintf("differ in length: ours %d lines, upstream %d lines", len(ol), len(ul))
}

// runStatus is scenario 1: the headline point and the growth sweep.
func (b *bench) runStatus(ctx context.Context) error {
	// Upstream prints about ten lines a second, so one run at 200 versions
	// (800 lines) takes minutes: it runs once there and at two small sizes
	// several times, which is enough to show its per-version cost is flat.
	head := 200
	sizes := []int{10, 30, 100, 200, 400, 1000}
	upReps := map[int]int{10: 0, 30: 0, 200: 1}
	if b.small {
		head, sizes, upReps = 6, []int{2, 6}, map[int]int{2: 0, 6: 0}
	}
	for n := range upReps {
		b.upSweepMax = max(b.upSweepMax, n)
	}
	for _, n := range sizes {
		b.logf("status: %d module versions x %d kernels", n, len(statusKernels))
		ur, withUp := upReps[n]
		o, u, err := b.statusPoint(ctx, n, withUp, ur)
		if err != nil {
			return err
		}
		b.res.Sweep = append(b.res.Sweep, sweepPoint{N: n, Ours: o, Up: u, HasUp: withUp})
		if n == head {
			t := trees{DKMS: filepath.Join(b.w.dir, fmt.Sprintf("status-%d", n), "dkms"),
				Src:  filepath.Join(b.w.dir, fmt.Sprintf("status-%d", n), "src"),
				Inst: filepath.Join(b.w.dir, fmt.Sprintf("status-%d", n), "modules")}
			b.res.Rows = append(b.res.Rows, row{
				ID: "1", Name: fmt.Sprintf("`dkms status`, %d module versions x %d kernels", n, len(statusKernels)),
				OursCmd: "dkms status", UpCmd: "dkms status", Ours: o, Up: u,
				Note: "outputs " + b.statusDiff(ctx, t, "status") + "; ours is timed with its status cache warm (" +
					"<dkms_tree>/.status-cache, written by its first run); that first run, right after the tree was " +
					"written, took " + fmtDur(o.First),
			})
		}
	}
	return nil
}
