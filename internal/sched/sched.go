package sched

import (
	"context"
	"strings"
)

// Job is one module to install.
type Job struct {
	ID    string   // unique, e.g. "6.1.0-56-amd64/foo"
	Group string   // dependencies resolve within a group, e.g. a kernel version
	Name  string   // module name, what other jobs' Deps refer to
	Deps  []string // module names (BUILD_DEPENDS); elements are split on blanks
}

// Outcome is how a job ended.
type Outcome int

// Outcomes; Run's exit codes map 0 to Installed, 77 to Skipped and the rest
// to Failed. Blocked jobs never ran because a dependency was never
// satisfied; Deferred ones never ran because every missing dependency is a
// name Options.Known does not know (dkms 3.4's deferred BUILD_DEPENDS: it
// may be registered later, so this is no failure); Canceled ones never ran
// because the context ended first.
const (
	Installed Outcome = iota
	Skipped
	Failed
	Blocked
	Canceled
	Deferred
)

// CodeSkipped is the install exit status that means "skipped" (§10).
const CodeSkipped = 77

// Result is the outcome of one job. Code is the exit status of Run for jobs
// that ran. Missing lists, for jobs that did not run, the dependency names
// still unsatisfied, in the order of Job.Deps.
type Result struct {
	Job     Job
	Outcome Outcome
	Code    int
	Missing []string
}

// Options configures Run.
type Options struct {
	// Parallel is the maximum number of jobs running at once; 1 (or less)
	// emulates the serial rounds of §6.7 step 5 exactly.
	Parallel int
	// Done holds the modules installed before the run, which satisfy
	// dependencies; keys are Key(group, name).
	Done map[string]bool
	// Run installs one module and returns its exit status: 0 installed,
	// 77 skipped, anything else failed. It is called concurrently when
	// Parallel > 1.
	Run func(ctx context.Context, j Job) int
	// OnStart, if set, is called just before Run, never concurrently with
	// itself, so it can print the progress line.
	OnStart func(j Job)
	// Known, if set, reports whether a dependency name of a group is a
	// module the caller knows of (registered, whatever its state). A job
	// left waiting only for unknown names ends Deferred instead of Blocked.
	Known func(group, name string) bool
}

// Key is the Options.Done key of a module name in a group.
func Key(group, name string) string {
	if group == "" {
		return name
	}
	return group + "/" + name
}

// Run runs jobs by their dependencies and returns one result per job: the
// jobs that ran in the order they completed (for serial runs, the exact
// order of §6.7), then the jobs that never ran in input order.
func Run(ctx context.Context, jobs []Job, o Options) []Result {
	s := newState(jobs, o)
	if o.Parallel <= 1 {
		s.serial(ctx)
	} else {
		s.parallel(ctx)
	}
	return s.finish(ctx)
}

// state is what both strategies share: remaining dependency lists and the
// set of satisfied names.
type state struct {
	jobs      []Job
	o         Options
	deps      [][]string
	ran       []bool
	satisfied map[string]bool // Key(group, name) → installed or skipped
	results   []Result
}

func newState(jobs []Job, o Options) *state {
	s := &state{
		jobs:      jobs,
		o:         o,
		deps:      make([][]string, len(jobs)),
		ran:       make([]bool, len(jobs)),
		satisfied: make(map[string]bool, len(o.Done)+len(jobs)),
	}
	for k, v := range o.Done {
		if v {
			s.satisfied[k] = true
		}
	}
	for i, j := range jobs {
		s.deps[i] = splitDeps(j.Deps)
	}
	return s
}

// splitDeps splits on blanks as upstream does with the space-joined
// BUILD_DEPENDS array.
func splitDeps(deps []string) []string {
	out := []string{}
	for _, d := range deps {
		out = append(out, strings.Fields(d)...)
	}
	return out
}

// prune drops the satisfied names from job i's remaining dependencies.
func (s *state) prune(i int) {
	g := s.jobs[i].Group
	kept := s.deps[i][:0]
	for _, d := range s.deps[i] {
		if !s.satisfied[Key(g, d)] {
			kept = append(kept, d)
		}
	}
	s.deps[i] = kept
}

// record stores the result of job i and reports whether it satisfies
// dependents.
func (s *state) record(i, code int) bool {
	r := Result{Job: s.jobs[i], Code: code}
	switch code {
	case 0:
		r.Outcome = Installed
	case CodeSkipped:
		r.Outcome = Skipped
	default:
		r.Outcome = Failed
	}
	s.results = append(s.results, r)
	if r.Outcome == Failed {
		return false
	}
	s.satisfied[Key(s.jobs[i].Group, s.jobs[i].Name)] = true
	return true
}

func (s *state) anyKnown(group string, names []string) bool {
	for _, n := range names {
		if s.o.Known(group, n) {
			return true
		}
	}
	return false
}

func (s *state) finish(ctx context.Context) []Result {
	for i, j := range s.jobs {
		if s.ran[i] {
			continue
		}
		s.prune(i)
		r := Result{Job: j, Outcome: Blocked, Missing: append([]string{}, s.deps[i]...)}
		switch {
		case ctx.Err() != nil:
			r.Outcome = Canceled
		case s.o.Known != nil && !s.anyKnown(j.Group, r.Missing):
			r.Outcome = Deferred
		}
		s.results = append(s.results, r)
	}
	return s.results
}

// serial runs the rounds of §6.7 step 5, one group after the other in
// order of first appearance. Pruning happens only at the start of a round,
// so a module unblocked by an install runs in the next round even when it
// comes later in the queue.
func (s *state) serial(ctx context.Context) {
	var groups []string
	seen := map[string]bool{}
	for _, j := range s.jobs {
		if !seen[j.Group] {
			seen[j.Group] = true
			groups = append(groups, j.Group)
		}
	}
	for _, g := range groups {
		for progress := true; progress; {
			progress = false
			var ready []int
			for i, j := range s.jobs {
				if j.Group != g || s.ran[i] {
					continue
				}
				s.prune(i)
				if len(s.deps[i]) == 0 {
					ready = append(ready, i)
				}
			}
			for _, i := range ready {
				if ctx.Err() != nil {
					return
				}
				s.ran[i] = true
				if s.o.OnStart != nil {
					s.o.OnStart(s.jobs[i])
				}
				if s.record(i, s.o.Run(ctx, s.jobs[i])) {
					progress = true
				}
			}
		}
	}
}

// parallel starts every job whose dependencies are all satisfied, in input
// order, while fewer than Parallel run.
func (s *state) parallel(ctx context.Context) {
	type done struct{ i, code int }
	finished := make(chan done)
	running := 0
	for {
		for i := range s.jobs {
			if running >= s.o.Parallel || ctx.Err() != nil {
				break
			}
			if s.ran[i] {
				continue
			}
			if s.prune(i); len(s.deps[i]) > 0 {
				continue
			}
			s.ran[i] = true
			running++
			if s.o.OnStart != nil {
				s.o.OnStart(s.jobs[i])
			}
			go func(i int, j Job) { finished <- done{i, s.o.Run(ctx, j)} }(i, s.jobs[i])
		}
		if running == 0 {
			return
		}
		d := <-finished
		running--
		s.record(d.i, d.code)
	}
}
