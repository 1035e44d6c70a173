package sched

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"
)

// eventLog records "start id" and "end id" in the order they happen.
type eventLog struct {
	mu     sync.Mutex
	events []string
	cur    int
	max    int
}

func (l *eventLog) add(kind, id string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.events = append(l.events, kind+" "+id)
	if kind == "start" {
		l.cur++
		l.max = max(l.max, l.cur)
	} else {
		l.cur--
	}
}

func (l *eventLog) index(e string) int {
	for i, x := range l.events {
		if x == e {
			return i
		}
	}
	return -1
}

// TestParallelOverlap proves that independent jobs run at the same time:
// each one waits, inside Run, until the other has started. A scheduler that
// ran them one after the other would never let the first one return.
func TestParallelOverlap(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	started := map[string]chan struct{}{"a": make(chan struct{}), "b": make(chan struct{})}
	other := map[string]string{"a": "b", "b": "a"}
	var log eventLog
	rs := Run(ctx, []Job{job("a"), job("b")}, Options{
		Parallel: 2,
		Run: func(ctx context.Context, j Job) int {
			log.add("start", j.ID)
			defer log.add("end", j.ID)
			close(started[j.ID])
			select {
			case <-started[other[j.ID]]:
				return 0
			case <-ctx.Done():
				return 1
			}
		},
	})
	for _, r := range rs {
		if r.Outcome != Installed {
			t.Fatalf("%s = %v; the jobs did not overlap (events %v)", r.Job.ID, r.Outcome, log.events)
		}
	}
	// Both started before either ended.
	if !(log.index("start b") < log.index("end a") && log.index("start a") < log.index("end b")) {
		t.Errorf("no overlap in events %v", log.events)
	}
}

// TestParallelDependencyOrderAndBound runs a diamond plus independent jobs
// with Parallel = 2: no job starts before all its dependencies ended, a
// failure blocks only its dependents, and never more than two run at once.
func TestParallelDependencyOrderAndBound(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	jobs := []Job{
		job("top:left right"), job("left:base"), job("right:base"), job("base"),
		job("i1"), job("i2"), job("i3"), job("bad"), job("afterbad:bad i1"),
		gjob("k2", "base"), gjob("k2", "left:base"),
	}
	var log eventLog
	rs := Run(ctx, jobs, Options{
		Parallel: 2,
		Run: func(ctx context.Context, j Job) int {
			log.add("start", j.ID)
			defer log.add("end", j.ID)
			if j.Name == "bad" {
				return 3
			}
			return 0
		},
	})
	got := map[string]string{}
	for _, r := range rs {
		got[r.Job.ID] = r.Outcome.String()
	}
	want := map[string]string{
		"top": "installed", "left": "installed", "right": "installed", "base": "installed",
		"i1": "installed", "i2": "installed", "i3": "installed", "bad": "failed",
		"afterbad": "blocked", "k2/base": "installed", "k2/left": "installed",
	}
	for id, w := range want {
		if got[id] != w {
			t.Errorf("%s = %s, want %s", id, got[id], w)
		}
	}
	if last := rs[len(rs)-1]; last.Job.ID != "afterbad" || strings.Join(last.Missing, " ") != "bad" {
		t.Errorf("last result %+v, want afterbad blocked on bad", last)
	}
	for _, j := range jobs {
		s := log.index("start " + j.ID)
		for _, d := range splitDeps(j.Deps) {
			id := d
			if j.Group != "" {
				id = j.Group + "/" + d
			}
			if e := log.index("end " + id); s >= 0 && (e < 0 || e > s) {
				t.Errorf("%s started at event %d before %s ended (%d): %v", j.ID, s, id, e, log.events)
			}
		}
	}
	if log.max > 2 {
		t.Errorf("%d jobs ran at once with Parallel 2: %v", log.max, log.events)
	}
}

// TestCancelStopsStarting cancels from inside the first job: nothing else
// starts and the rest are reported as canceled.
func TestCancelStopsStarting(t *testing.T) {
	t.Parallel()
	for _, parallel := range []int{1, 2} {
		ctx, cancel := context.WithCancel(context.Background())
		var ran []string
		var mu sync.Mutex
		rs := Run(ctx, []Job{job("a"), job("b:a"), job("c:a")}, Options{
			Parallel: parallel,
			Run: func(ctx context.Context, j Job) int {
				mu.Lock()
				ran = append(ran, j.ID)
				mu.Unlock()
				cancel()
				return 0
			},
		})
		if got, want := summary(rs), "a=installed b=canceled[] c=canceled[]"; got != want || len(ran) != 1 {
			t.Errorf("parallel %d: results %q ran %v, want %q and only a", parallel, got, ran, want)
		}
		cancel()
	}
}
