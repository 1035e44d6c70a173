package engine

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/dkms-go/dkms/internal/fsops"
	"github.com/dkms-go/dkms/internal/jobserver"
	"github.com/dkms-go/dkms/internal/kver"
	"github.com/dkms-go/dkms/internal/sched"
	"github.com/dkms-go/dkms/internal/tree"
	"github.com/dkms-go/dkms/internal/ui"
)

// AutoOptions tune the autoinstall engine beyond upstream's behaviour.
type AutoOptions struct {
	// Parallel > 1 builds independent modules at once under one shared make
	// jobserver of Parallel slots; 1 is upstream's serial loop.
	Parallel int
	// JobTimeout bounds one module's build and install (0 = none).
	JobTimeout time.Duration
	// BatchDepmod runs depmod once per kernel after all its modules, not
	// after each install (and never two at once for one kernel).
	BatchDepmod bool
	// Progress is called when a module starts (n of total) and when it ends.
	Progress func(ev ProgressEvent)
}

// ProgressEvent reports one module of an autoinstall.
type ProgressEvent struct {
	Module, Version, Kernel string
	Index, Total            int
	Done                    bool
	Outcome                 string // installed, skipped, failed (when Done)
	Code                    int
	Log                     string // make.log path to look at on failure
}

// AutoResult summarises one kernel's autoinstall.
type AutoResult struct {
	Kernel, Arch string
	Installed    []string
	Skipped      []string
	Failed       []string // "<m>(<N>)"
	Blocked      []string // "<m>/<v>": waiting for a module DKMS knows (a failure)
	Deferred     []string // "<m>/<v>": waiting only for modules DKMS does not know (delta D13)
	Queued       int      // modules that had to be built or installed
	Err          error    // the kernel could not be prepared (several kernels only)

	newestLink time.Time // newest kernel-<k>-<a> link of the installed modules
}

// Autoinstall runs `dkms autoinstall` / `kernel_postinst` (§6.7).
func (e *Engine) Autoinstall(ctx context.Context) error {
	if e.O.Action == "autoinstall" {
		if err := e.gateAll(); err != nil {
			return err
		}
		if len(e.Kernels) != 1 {
			return e.P.Die(4, "The action autoinstall does not support multiple kernel version parameters on the command line.")
		}
	}
	if err := e.gateRoot(); err != nil {
		return err
	}
	_, err := e.AutoinstallKernel(ctx, e.Kernels[0], e.Arches[0], AutoOptions{Parallel: 1})
	return err
}

type candidate struct {
	tree.Target
	deps []string
	base *pairCtx // the kernel's preparation (signing, compiler)
}

// Pair names one kernel and arch.
type Pair = tree.Pair

// AutoinstallKernel is AutoinstallKernels for one kernel, with upstream's
// behaviour when the kernel's headers are missing (the error ends the run).
func (e *Engine) AutoinstallKernel(ctx context.Context, k, a string, ao AutoOptions) (*AutoResult, error) {
	res, err := e.AutoinstallKernels(ctx, []Pair{{K: k, A: a}}, ao)
	return res[0], err
}

// scanKernel is §6.7 steps 2-3 for one kernel: the latest version of every
// module, sorted into already installed and queued. known receives the
// name of every module with a version that is not broken (delta D13).
func (e *Engine) scanKernel(ctx context.Context, k, a string, res *AutoResult, known map[string]bool) ([]candidate, error) {
	p := e.P
	var order []string
	latest := map[string]string{}
	for _, m := range e.tree.Modules("") {
		for _, v := range e.tree.Versions(m, "") {
			switch e.tree.State(m, v) {
			case tree.Broken:
				p.ErrorBlock(m+"/"+v+" is broken! Missing the source directory or the symbolic link pointing to it.",
					"Manual intervention is required!")
				continue
			case tree.NotPresent:
				continue
			}
			known[m] = true
			cur, seen := latest[m]
			if !seen {
				order = append(order, m)
				latest[m] = v
			} else if kver.Less(cur, v) {
				latest[m] = v
			}
		}
	}
	var queue []candidate
	for _, m := range order {
		v := latest[m]
		if e.tree.IsInstalled(tree.Target{Module: m, Version: v, Kernel: k, Arch: a}) {
			res.Installed = append(res.Installed, m)
			if st, err := os.Lstat(e.L.KernelLink(m, k, a)); err == nil && st.ModTime().After(res.newestLink) {
				res.newestLink = st.ModTime()
			}
			continue
		}
		c, err := e.readConf(ctx, confRead{Target: tree.Target{Module: m, Version: v, Kernel: k, Arch: a}})
		if err != nil {
			return nil, err
		}
		if !c.AutoInstall {
			continue
		}
		queue = append(queue, candidate{Target: tree.Target{Module: m, Version: v, Kernel: k, Arch: a}, deps: strings.Fields(strings.Join(c.BuildDepends, " "))})
	}
	return queue, nil
}

// AutoinstallKernels builds and installs the AUTOINSTALL modules of every
// given kernel through one scheduler (and one jobserver when parallel).
// With several kernels, a kernel whose preparation fails (no headers) is
// reported in its result and the others go on.
func (e *Engine) AutoinstallKernels(ctx context.Context, pairs []Pair, ao AutoOptions) ([]*AutoResult, error) {
	p := e.P
	results := make([]*AutoResult, len(pairs))
	for i, pr := range pairs {
		results[i] = &AutoResult{Kernel: pr.K, Arch: pr.A}
	}
	if err := e.LockTree(ctx); err != nil {
		return results, err
	}
	if fsops.Exists(e.L.NoAutoinstall()) {
		p.Line("Automatic installation of modules has been disabled.")
		return results, nil
	}
	// One kernel, serially: upstream's order, the kernel is prepared just
	// before the first module that has to be built (§6.7 step 5.2) and a
	// failure ends the run there. Otherwise it is prepared up front.
	lazy := ao.Parallel <= 1 && len(pairs) == 1
	pl, err := e.plan(ctx, pairs, results, lazy)
	if err != nil {
		return results, err
	}
	jobs, byID, known := pl.jobs, pl.byID, pl.known
	if len(jobs) == 0 {
		return results, pl.firstErr
	}
	var js *jobserver.Server
	if ao.Parallel > 1 {
		if s, err := jobserver.New(ao.Parallel); err == nil {
			js = s
			defer s.Close()
		}
	}
	var outMu sync.Mutex
	// The same module/version for two kernels shares one build directory
	// (<dkms_tree>/<m>/<v>/build), so those builds take turns.
	var buildLocks sync.Map
	var depmodMu sync.Mutex
	depmodDue := map[string]bool{}
	started := 0
	header := func(q candidate) string {
		return "Autoinstall of module " + q.Module + "/" + q.Version + " for kernel " + q.Kernel + " (" + q.Arch + ")"
	}
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	var prepErr error
	runs := sched.Run(runCtx, jobs, sched.Options{
		Parallel: ao.Parallel,
		Done:     pl.done,
		Known:    func(k, m string) bool { return known[k][m] },
		OnStart: func(j sched.Job) {
			q := byID[j.ID]
			if lazy && !e.tree.IsBuilt(q.Target) {
				if prepErr = e.prepareKernel(ctx, q.base); prepErr != nil {
					cancel()
					return
				}
			}
			started++
			if ao.Progress != nil {
				ao.Progress(ProgressEvent{Module: q.Module, Version: q.Version, Kernel: q.Kernel, Index: started, Total: len(jobs)})
			}
			if js == nil {
				p.Line(header(q))
			}
		},
		Run: func(ctx context.Context, j sched.Job) int {
			if prepErr != nil {
				return 1
			}
			q := byID[j.ID]
			if ao.JobTimeout > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, ao.JobTimeout)
				defer cancel()
			}
			b := q.base
			pc := &pairCtx{Target: tree.Target{Module: q.Module, Version: q.Version, Kernel: q.Kernel, Arch: q.Arch}, force: e.O.Force, versionOverride: e.O.ForceVersion,
				prepared: b.prepared, signer: b.signer, buildEnv: b.buildEnv, cc: b.cc, batchDepmod: ao.BatchDepmod}
			defer func() {
				if pc.depmodDue {
					depmodMu.Lock()
					depmodDue[q.Kernel] = true
					depmodMu.Unlock()
				}
			}()
			child := e.child(nil)
			var buf bytes.Buffer
			mu, _ := buildLocks.LoadOrStore(q.Module+"/"+q.Version, &sync.Mutex{})
			mu.(*sync.Mutex).Lock()
			defer mu.(*sync.Mutex).Unlock()
			if js != nil {
				child = e.child(ui.New(&buf, &buf))
				pc.js = js
				if err := js.Acquire(ctx); err != nil {
					return 1
				}
				defer js.Release()
			}
			code := ui.Code(child.installPair(ctx, pc))
			if js != nil {
				outMu.Lock()
				p.Line(header(q))
				p.Stdout().Write(buf.Bytes())
				p.Line("")
				outMu.Unlock()
			} else {
				p.Line("")
			}
			if ao.Progress != nil {
				ev := ProgressEvent{Module: q.Module, Version: q.Version, Kernel: q.Kernel, Done: true, Code: code, Total: len(jobs),
					Log: e.L.MakeLog(q.Module, q.Version)}
				switch code {
				case 0:
					ev.Outcome = "installed"
				case sched.CodeSkipped:
					ev.Outcome = "skipped"
				default:
					ev.Outcome = "failed"
				}
				ao.Progress(ev)
			}
			return code
		},
	})
	for _, pr := range pairs {
		if depmodDue[pr.K] {
			e.depmodStep(ctx, pr.K)
			e.clearPending(pr.K, pr.A)
		}
	}
	if prepErr != nil {
		return results, prepErr
	}
	return results, e.summarize(results, runs, pl)
}

// autoPlan is what an autoinstall schedules: one job per module to build
// or install, over every kernel, with what the scheduler and the summary
// need to know about them.
type autoPlan struct {
	jobs     []sched.Job
	byID     map[string]candidate
	done     map[string]bool            // modules already installed, by sched.Key
	resOf    map[string]*AutoResult     // by kernel
	known    map[string]map[string]bool // kernel -> modules DKMS knows (delta D13)
	firstErr error                      // a kernel that could not be prepared
}

// plan is §6.7 steps 2-5.1 for every kernel: the modules to install, each
// kernel prepared up front unless lazy. With one kernel, an error ends the
// run; with several, it is that kernel's result.
func (e *Engine) plan(ctx context.Context, pairs []Pair, results []*AutoResult, lazy bool) (*autoPlan, error) {
	pl := &autoPlan{byID: map[string]candidate{}, done: map[string]bool{}, resOf: map[string]*AutoResult{},
		known: map[string]map[string]bool{}}
	for i, pr := range pairs {
		res := results[i]
		pl.resOf[pr.K] = res
		pl.known[pr.K] = map[string]bool{}
		queue, err := e.scanKernel(ctx, pr.K, pr.A, res, pl.known[pr.K])
		if err != nil {
			if len(pairs) == 1 {
				return nil, err
			}
			res.Err, pl.firstErr = err, err
			continue
		}
		e.repairDepmod(ctx, res)
		if len(queue) == 0 {
			continue
		}
		base := &pairCtx{Target: tree.Target{Kernel: pr.K, Arch: pr.A}}
		for _, q := range queue {
			if !lazy && !e.tree.IsBuilt(q.Target) {
				if err := e.prepareKernel(ctx, base); err != nil {
					if len(pairs) == 1 {
						return nil, err
					}
					res.Err, pl.firstErr = err, err
					queue = nil
				}
				break
			}
		}
		res.Queued = len(queue)
		for _, m := range res.Installed {
			pl.done[sched.Key(pr.K, m)] = true
		}
		for _, q := range queue {
			q.base = base
			id := pr.K + "/" + q.Module
			pl.jobs = append(pl.jobs, sched.Job{ID: id, Group: pr.K, Name: q.Module, Deps: q.deps})
			pl.byID[id] = q
		}
	}
	return pl, nil
}

// summarize records each job's outcome in its kernel's result and prints
// the per-kernel summary lines of §6.7 step 6 (and delta D13's deferred
// lines); the error is die 11 when a module failed or is blocked, or a
// kernel could not be prepared.
func (e *Engine) summarize(results []*AutoResult, runs []sched.Result, pl *autoPlan) error {
	p, byID, resOf, known, firstErr := e.P, pl.byID, pl.resOf, pl.known, pl.firstErr
	var waiting []sched.Result // blocked and deferred, in queue order
	for _, r := range runs {
		q := byID[r.Job.ID]
		res := resOf[q.Kernel]
		switch r.Outcome {
		case sched.Installed:
			res.Installed = append(res.Installed, q.Module)
		case sched.Skipped:
			res.Skipped = append(res.Skipped, q.Module)
		case sched.Failed:
			res.Failed = append(res.Failed, fmt.Sprintf("%s(%d)", q.Module, r.Code))
		case sched.Deferred:
			res.Deferred = append(res.Deferred, q.Module+"/"+q.Version)
			waiting = append(waiting, r)
		default:
			res.Blocked = append(res.Blocked, q.Module+"/"+q.Version)
			waiting = append(waiting, r)
		}
	}
	failed := firstErr != nil
	for _, res := range results {
		k := res.Kernel
		if len(res.Installed) > 0 && res.Queued > 0 {
			p.Line("Autoinstall on " + k + " succeeded for module(s) " + strings.Join(res.Installed, " ") + ".")
		}
		if len(res.Skipped) > 0 {
			p.Line("Autoinstall on " + k + " was skipped for module(s) " + strings.Join(res.Skipped, " ") + ".")
		}
		if len(res.Failed) > 0 {
			p.Line("Autoinstall on " + k + " failed for module(s) " + strings.Join(res.Failed, " ") + ".")
		}
		for _, r := range waiting {
			q := byID[r.Job.ID]
			if q.Kernel != k {
				continue
			}
			if r.Outcome == sched.Deferred {
				p.Line(q.Module + "/" + q.Version + " autoinstall deferred: BUILD_DEPENDS not registered with DKMS: " + strings.Join(r.Missing, " ") + ".")
				continue
			}
			// Only the names DKMS knows are what it waits for.
			var names []string
			for _, n := range r.Missing {
				if known[k][n] {
					names = append(names, n)
				}
			}
			p.Line(q.Module + "/" + q.Version + " autoinstall failed due to missing dependencies: " + strings.Join(names, " ") + ".")
		}
		if len(res.Deferred) > 0 {
			p.Line("Autoinstall on " + k + " deferred module(s) " + strings.Join(res.Deferred, " ") + " due to BUILD_DEPENDS not yet registered with DKMS.")
			p.Line("These may be provided externally or by a package not yet configured; autoinstall will retry on the next trigger.")
		}
		failed = failed || len(res.Failed) > 0 || len(res.Blocked) > 0
	}
	if failed {
		return p.Die(11, "One or more modules failed to install during autoinstall.",
			"Refer to previous errors for more information.")
	}
	return nil
}

// repairDepmod runs depmod for a kernel whose modules.dep is older than
// the newest installed DKMS module: an install that was interrupted after
// the module was linked but before depmod ran. Upstream never notices.
func (e *Engine) repairDepmod(ctx context.Context, res *AutoResult) {
	if res.newestLink.IsZero() || e.O.NoDepmod {
		return
	}
	st, err := os.Stat(e.L.KernelModules(res.Kernel) + "/modules.dep")
	if err != nil || !res.newestLink.After(st.ModTime()) {
		return
	}
	e.depmodStep(ctx, res.Kernel)
}

// child returns a copy of the engine for one isolated install (§6.0): its
// own conf cache, optionally its own printer; it shares the tree lock.
func (e *Engine) child(p *ui.Printer) *Engine {
	c := *e
	c.cached, c.cacheKey = nil, ""
	c.kconfigMemo = nil
	c.tree = e.tree.Fork(&c.L)
	c.keys = e.keys.Fork()
	c.keys.Memo = func() bool { return !c.tree.Locked() }
	if p != nil {
		c.P = p
	}
	return &c
}
