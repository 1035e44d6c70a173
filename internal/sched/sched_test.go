package sched

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// job builds a Job in the default group from "name" or "name:dep dep".
func job(spec string) Job {
	name, deps, _ := strings.Cut(spec, ":")
	j := Job{ID: name, Name: name}
	if deps != "" {
		j.Deps = []string{deps}
	}
	return j
}

func gjob(group, spec string) Job {
	j := job(spec)
	j.Group, j.ID = group, group+"/"+j.Name
	return j
}

// summary renders results as "id=outcome" words, with the exit code of
// failures and the missing names of jobs that never ran.
func summary(rs []Result) string {
	var w []string
	for _, r := range rs {
		s := r.Job.ID + "=" + r.Outcome.String()
		switch r.Outcome {
		case Failed:
			s += fmt.Sprintf("(%d)", r.Code)
		case Blocked, Canceled, Deferred:
			s += "[" + strings.Join(r.Missing, ",") + "]"
		}
		w = append(w, s)
	}
	return strings.Join(w, " ")
}

var cases = []struct {
	name  string
	jobs  []Job
	codes map[string]int // by ID; absent means 0
	done  []string       // Options.Done keys
	// serial is the order §6.7 step 5 gives: rounds, queue order within a
	// round, pruning only at the start of each round.
	serial string
}{
	{
		name:   "independent",
		jobs:   []Job{job("x"), job("y"), job("z")},
		serial: "x=installed y=installed z=installed",
	},
	{
		name:   "chain needs later module",
		jobs:   []Job{job("a:b"), job("b")},
		serial: "b=installed a=installed",
	},
	{
		name:   "unblocked module waits for next round",
		jobs:   []Job{job("a"), job("b:a"), job("c")},
		serial: "a=installed c=installed b=installed",
	},
	{
		name:   "long chain in reverse queue order",
		jobs:   []Job{job("a:b"), job("b:c"), job("c:d"), job("d")},
		serial: "d=installed c=installed b=installed a=installed",
	},
	{
		name:   "failure blocks only dependents",
		jobs:   []Job{job("f"), job("g:f"), job("h")},
		codes:  map[string]int{"f": 10},
		serial: "f=failed(10) h=installed g=blocked[f]",
	},
	{
		name:   "failure only round stops",
		jobs:   []Job{job("f"), job("g:f")},
		codes:  map[string]int{"f": 2},
		serial: "f=failed(2) g=blocked[f]",
	},
	{
		name:   "skipped satisfies",
		jobs:   []Job{job("t:s"), job("s")},
		codes:  map[string]int{"s": 77},
		serial: "s=skipped t=installed",
	},
	{
		name:   "cycle",
		jobs:   []Job{job("p:q"), job("q:p"), job("r")},
		serial: "r=installed p=blocked[q] q=blocked[p]",
	},
	{
		name:   "self dependency",
		jobs:   []Job{job("m:m"), job("n")},
		serial: "n=installed m=blocked[m]",
	},
	{
		name:   "missing dependency keeps only unsatisfied names",
		jobs:   []Job{job("n:nothere pre other")},
		done:   []string{"pre"},
		serial: "n=blocked[nothere,other]",
	},
	{
		name:   "preinstalled satisfies",
		jobs:   []Job{job("u:pre")},
		done:   []string{"pre"},
		serial: "u=installed",
	},
	{
		name:   "partly failed dependencies",
		jobs:   []Job{job("k"), job("l:k m"), job("m")},
		codes:  map[string]int{"k": 1},
		serial: "k=failed(1) m=installed l=blocked[k]",
	},
	{
		name:   "dependent of blocked module is blocked",
		jobs:   []Job{job("x:y"), job("y:gone"), job("z")},
		serial: "z=installed x=blocked[y] y=blocked[gone]",
	},
	{
		name:   "groups run in order of first appearance",
		jobs:   []Job{gjob("k1", "b:a"), gjob("k2", "a"), gjob("k1", "a"), gjob("k2", "b:a")},
		serial: "k1/a=installed k1/b=installed k2/a=installed k2/b=installed",
	},
	{
		name:   "dependencies resolve within a group",
		jobs:   []Job{gjob("k1", "a"), gjob("k2", "b:a"), gjob("k2", "c:pre")},
		done:   []string{"k1/pre"},
		serial: "k1/a=installed k2/b=blocked[a] k2/c=blocked[pre]",
	},
	{
		name:   "empty",
		serial: "",
	},
}

func runCase(t *testing.T, parallel int, c int) ([]Result, []string) {
	t.Helper()
	tc := cases[c]
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	done := map[string]bool{}
	for _, d := range tc.done {
		done[d] = true
	}
	var mu sync.Mutex
	var started, ran []string
	rs := Run(ctx, tc.jobs, Options{
		Parallel: parallel,
		Done:     done,
		OnStart:  func(j Job) { started = append(started, j.ID) },
		Run: func(_ context.Context, j Job) int {
			mu.Lock()
			ran = append(ran, j.ID)
			mu.Unlock()
			return tc.codes[j.ID]
		},
	})
	if len(rs) != len(tc.jobs) {
		t.Fatalf("got %d results for %d jobs: %s", len(rs), len(tc.jobs), summary(rs))
	}
	sortedStarted := append([]string{}, started...)
	sortedRan := append([]string{}, ran...)
	if parallel > 1 {
		// Run is concurrent, so only the sets must agree.
		slices.Sort(sortedStarted)
		slices.Sort(sortedRan)
	}
	if !reflect.DeepEqual(sortedStarted, sortedRan) {
		t.Errorf("OnStart saw %v, Run saw %v", started, ran)
	}
	return rs, started
}

func TestSerialOrder(t *testing.T) {
	t.Parallel()
	for c, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rs, started := runCase(t, 1, c)
			if got := summary(rs); got != tc.serial {
				t.Errorf("serial results\n got: %s\nwant: %s", got, tc.serial)
			}
			// Serially, jobs start in the order they complete.
			var ids []string
			for _, r := range rs {
				if r.Outcome <= Failed {
					ids = append(ids, r.Job.ID)
				}
			}
			if strings.Join(ids, " ") != strings.Join(started, " ") {
				t.Errorf("start order %v differs from completion order %v", started, ids)
			}
		})
	}
}

// TestParallelSameOutcomes checks that the graph scheduler reaches the same
// outcome for every job as the serial rounds, with jobs that never ran
// still listed last in input order.
func TestParallelSameOutcomes(t *testing.T) {
	t.Parallel()
	for c, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rs, _ := runCase(t, 4, c)
			want := strings.Fields(tc.serial)
			got := strings.Fields(summary(rs))
			var gotRan, wantRan []string
			var gotTail, wantTail []string
			for i := range got {
				if rs[i].Outcome <= Failed {
					gotRan = append(gotRan, got[i])
				} else {
					gotTail = append(gotTail, got[i])
				}
				if strings.Contains(want[i], "blocked[") {
					wantTail = append(wantTail, want[i])
				} else {
					wantRan = append(wantRan, want[i])
				}
			}
			slices.Sort(gotRan)
			slices.Sort(wantRan)
			if !reflect.DeepEqual(gotRan, wantRan) || !reflect.DeepEqual(gotTail, wantTail) {
				t.Errorf("parallel results %v, want the outcomes of %v", got, want)
			}
		})
	}
}

// String names an outcome in test messages and expectations.
func (o Outcome) String() string {
	switch o {
	case Installed:
		return "installed"
	case Skipped:
		return "skipped"
	case Failed:
		return "failed"
	case Blocked:
		return "blocked"
	case Canceled:
		return "canceled"
	case Deferred:
		return "deferred"
	}
	return "unknown"
}
