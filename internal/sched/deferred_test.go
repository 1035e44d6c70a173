package sched

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"
)

// TestDeferred is dkms 3.4's deferred BUILD_DEPENDS in both strategies: a
// job waiting only for names nobody knows ends Deferred; one waiting for a
// known name (a deferred job's included) stays Blocked; neither keeps its
// siblings from running.
func TestDeferred(t *testing.T) {
	t.Parallel()
	known := map[string]bool{"ok": true, "aa": true, "bb": true, "cc": true, "dd": true, "ee": true, "self": true}
	jobs := []Job{job("ok"), job("aa:nosuch"), job("bb:cc nosuch2"), job("dd:aa"), job("ee:ok"), job("self:self"), job("two:x y")}
	const want = "ok=installed ee=installed aa=deferred[nosuch] bb=blocked[cc,nosuch2] dd=blocked[aa] self=blocked[self] two=deferred[x,y]"
	for _, parallel := range []int{1, 4} {
		var mu sync.Mutex
		var ran []string
		rs := Run(context.Background(), jobs, Options{
			Parallel: parallel,
			Known:    func(group, name string) bool { return group == "" && known[name] },
			Run: func(ctx context.Context, j Job) int {
				mu.Lock()
				ran = append(ran, j.ID)
				mu.Unlock()
				return 0
			},
		})
		if got := summary(rs); got != want {
			t.Errorf("parallel %d:\n got: %s\nwant: %s", parallel, got, want)
		}
		slices.Sort(ran)
		if strings.Join(ran, " ") != "ee ok" {
			t.Errorf("parallel %d ran %v, want the siblings ee and ok", parallel, ran)
		}
	}
}

// TestDeferredNeedsKnown: without Known every waiting job is Blocked, as
// in dkms 3.2.2.
func TestDeferredNeedsKnown(t *testing.T) {
	t.Parallel()
	rs := Run(context.Background(), []Job{job("aa:nosuch")}, Options{Parallel: 1, Run: func(context.Context, Job) int { return 0 }})
	if got := summary(rs); got != "aa=blocked[nosuch]" {
		t.Errorf("got %s", got)
	}
}
