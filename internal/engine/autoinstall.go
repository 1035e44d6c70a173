package engine

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/dkms-project/dkms/internal/jobserver"
	"github.com/dkms-project/dkms/internal/kver"
	"github.com/dkms-project/dkms/internal/sched"
	"github.com/dkms-project/dkms/internal/ui"
)

// AutoOptions tune the autoinstall engine beyond upstream's behaviour.
type AutoOptions struct {
	// Parallel > 1 builds independent modules at once under one shared make
	// jobserver of Parallel slots; 1 is upstream's serial loop.
	Parallel int
	// JobTimeout bounds one module's build and install (0 = none).
	JobTimeout time.Duration
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
	Blocked      []string // "<m>/<v>"
	Queued       int      // modules that had to be built or installed
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
	m, v string
	deps []string
}

// AutoinstallKernel is the engine behind both binaries for one kernel.
func (e *Engine) AutoinstallKernel(ctx context.Context, k, a string, ao AutoOptions) (*AutoResult, error) {
	p := e.P
	res := &AutoResult{Kernel: k, Arch: a}
	if exists(e.L.NoAutoinstall()) {
		p.Line("Automatic installation of modules has been disabled.")
		return res, nil
	}
	if err := e.lock(); err != nil {
		return res, err
	}
	// Candidate scan: the latest version of every module.
	var order []string
	latest := map[string]string{}
	for _, m := range e.modules("") {
		for _, v := range e.versions(m, "") {
			switch e.state(m, v) {
			case Broken:
				p.ErrorBlock(m+"/"+v+" is broken! Missing the source directory or the symbolic link pointing to it.",
					"Manual intervention is required!")
				continue
			case NotPresent:
				continue
			}
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
		if e.isInstalled(m, v, k, a) {
			res.Installed = append(res.Installed, m)
			continue
		}
		c, err := e.readConf(ctx, confRead{m: m, v: v, k: k, a: a})
		if err != nil {
			return res, err
		}
		if !c.AutoInstall {
			continue
		}
		queue = append(queue, candidate{m, v, strings.Fields(strings.Join(c.BuildDepends, " "))})
	}
	if len(queue) == 0 {
		return res, nil
	}
	res.Queued = len(queue)
	base := &pairCtx{k: k, a: a}
	for _, q := range queue {
		if !e.isBuilt(q.m, q.v, k, a) {
			if err := e.prepareKernel(ctx, base); err != nil {
				return res, err
			}
			break
		}
	}
	jobs := make([]sched.Job, len(queue))
	byName := map[string]candidate{}
	done := map[string]bool{}
	for _, m := range res.Installed {
		done[m] = true
	}
	for i, q := range queue {
		jobs[i] = sched.Job{ID: q.m, Name: q.m, Deps: q.deps}
		byName[q.m] = q
	}
	var js *jobserver.Server
	if ao.Parallel > 1 {
		s, err := jobserver.New(ao.Parallel)
		if err == nil {
			js = s
			defer s.Close()
		}
	}
	var outMu sync.Mutex
	started := 0
	results := sched.Run(ctx, jobs, sched.Options{
		Parallel: ao.Parallel,
		Done:     done,
		OnStart: func(j sched.Job) {
			started++
			q := byName[j.Name]
			if ao.Progress != nil {
				ao.Progress(ProgressEvent{Module: q.m, Version: q.v, Kernel: k, Index: started, Total: len(queue)})
			}
			if js == nil {
				p.Line("Autoinstall of module " + q.m + "/" + q.v + " for kernel " + k + " (" + a + ")")
			}
		},
		Run: func(ctx context.Context, j sched.Job) int {
			q := byName[j.Name]
			if ao.JobTimeout > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, ao.JobTimeout)
				defer cancel()
			}
			child := e.child(nil)
			pc := &pairCtx{m: q.m, v: q.v, k: k, a: a, force: e.O.Force, versionOverride: e.O.ForceVersion,
				prepared: base.prepared, signer: base.signer, buildEnv: base.buildEnv, cc: base.cc}
			var buf bytes.Buffer
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
				p.Line("Autoinstall of module " + q.m + "/" + q.v + " for kernel " + k + " (" + a + ")")
				p.Stdout().Write(buf.Bytes())
				p.Line("")
				outMu.Unlock()
			} else {
				p.Line("")
			}
			if ao.Progress != nil {
				ev := ProgressEvent{Module: q.m, Version: q.v, Kernel: k, Done: true, Code: code, Total: len(queue),
					Log: e.L.MakeLog(q.m, q.v)}
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
	for _, r := range results {
		q := byName[r.Job.Name]
		switch r.Outcome {
		case sched.Installed:
			res.Installed = append(res.Installed, q.m)
		case sched.Skipped:
			res.Skipped = append(res.Skipped, q.m)
		case sched.Failed:
			res.Failed = append(res.Failed, fmt.Sprintf("%s(%d)", q.m, r.Code))
		default:
			res.Blocked = append(res.Blocked, q.m+"/"+q.v)
		}
	}
	if len(res.Installed) > 0 {
		p.Line("Autoinstall on " + k + " succeeded for module(s) " + strings.Join(res.Installed, " ") + ".")
	}
	if len(res.Skipped) > 0 {
		p.Line("Autoinstall on " + k + " was skipped for module(s) " + strings.Join(res.Skipped, " ") + ".")
	}
	if len(res.Failed) > 0 {
		p.Line("Autoinstall on " + k + " failed for module(s) " + strings.Join(res.Failed, " ") + ".")
	}
	for _, r := range results {
		if r.Outcome == sched.Blocked || r.Outcome == sched.Canceled {
			q := byName[r.Job.Name]
			p.Line(q.m + "/" + q.v + " autoinstall failed due to missing dependencies: " + strings.Join(r.Missing, " ") + ".")
		}
	}
	if len(res.Failed) > 0 || len(res.Blocked) > 0 {
		return res, p.Die(11, "One or more modules failed to install during autoinstall.",
			"Refer to previous errors for more information.")
	}
	return res, nil
}

// child returns a copy of the engine for one isolated install (§6.0): its
// own conf cache, optionally its own printer; it shares the tree lock.
func (e *Engine) child(p *ui.Printer) *Engine {
	c := *e
	c.cached, c.cacheKey = nil, ""
	c.kconfigMemo = nil
	if p != nil {
		c.P = p
	}
	return &c
}
