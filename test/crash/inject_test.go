package crash

import (
	"fmt"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"
)

// scenario is one mutating action run from a given state.
type scenario struct {
	name  string
	from  string // snapshot
	auto  bool   // dkms-autoinstall instead of dkms
	args  []string
	world *World
}

// baselines makes the snapshots the scenarios start from.
func baselines(w *World) string {
	a, b, k, k2 := "crash_a/1.0", "crash_b/1.0", w.K, w.K2
	w.Snapshot("clean")
	w.MustRun(0, w.Dkms, "add", a)
	w.Snapshot("added")
	w.MustRun(0, w.Dkms, "build", a, "-k", k)
	w.Snapshot("built")
	archive := w.Dir + "/crash_a.dkms.tar.gz"
	w.MustRun(0, w.Dkms, "mktarball", a, "-k", k, "--archive", archive)
	w.MustRun(0, w.Dkms, "install", a, "-k", k)
	w.Snapshot("installed")
	w.Restore("clean")
	w.MustRun(0, w.Dkms, "add", a)
	w.MustRun(0, w.Dkms, "add", b)
	w.Snapshot("added2")
	w.MustRun(0, w.Dkms, "install", a, "-k", k)
	w.MustRun(0, w.Dkms, "install", b, "-k", k)
	w.Snapshot("installed2")
	w.MustRun(0, w.Dkms, "install", a, "-k", k2)
	w.MustRun(0, w.Dkms, "install", b, "-k", k2)
	w.Snapshot("installed2both")
	w.Restore("clean")
	if err := os.RemoveAll(w.Root + "/usr/src/crash_a-1.0"); err != nil {
		w.T.Fatal(err)
	}
	w.Snapshot("ldclean")
	return archive
}

// TestInterruptions kills each mutating action at every fault point (each
// change to the file system, each start of a program and the moment right
// after it), N = 1, 2, ... until a run gets through; then runs the action
// again and checks that it answers as an uninterrupted first or second run
// does, that the state is the uninterrupted run's, that status agrees with
// the files and modules.dep, that no temporary is left and that no
// process the killed run started is alive.
func TestInterruptions(t *testing.T) {
	w := newWorld(t, "inject")
	start := time.Now()
	archive := baselines(w)
	a, k := "crash_a/1.0", w.K
	scenarios := []scenario{
		{name: "add", from: "clean", args: []string{"add", a}},
		{name: "build", from: "added", args: []string{"build", a, "-k", k}},
		{name: "install", from: "built", args: []string{"install", a, "-k", k}},
		{name: "uninstall", from: "installed", args: []string{"uninstall", a, "-k", k}},
		{name: "unbuild", from: "installed", args: []string{"unbuild", a, "-k", k}},
		{name: "remove", from: "installed", args: []string{"remove", a, "--all"}},
		{name: "autoinstall", from: "added2", args: []string{"autoinstall", "-k", k}},
		{name: "kernel_prerm", from: "installed2", args: []string{"kernel_prerm", "-k", k}},
		{name: "dkms-autoinstall new kernel", from: "installed2", auto: true, args: []string{"-k", w.K2, "-j", "2"}},
		{name: "dkms-autoinstall removed kernel", from: "installed2both", auto: true, args: []string{"--remove", "-k", w.K2}},
		{name: "ldtarball", from: "ldclean", args: []string{"ldtarball", archive}},
		{name: "mktarball", from: "built", args: []string{"mktarball", a, "-k", k}},
	}
	var total, repaired, unreached int
	var report []string
	for _, sc := range scenarios {
		sc.world = w
		n, ok, un := sc.run(t)
		total, repaired, unreached = total+n, repaired+ok, unreached+un
		report = append(report, fmt.Sprintf("%-32s %4d interruptions, %4d repaired", sc.name, n, ok))
	}
	summary := fmt.Sprintf("interruptions: %d tried, %d repaired, %d anomalies (%d points not reached on replay) in %s",
		total, repaired, total-repaired, unreached, time.Since(start).Round(time.Second))
	t.Log("\n" + strings.Join(report, "\n") + "\n" + summary)
	if out := os.Getenv("CRASH_REPORT"); out != "" {
		f, err := os.OpenFile(out, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
		if err == nil {
			fmt.Fprintln(f, strings.Join(report, "\n")+"\n"+summary)
			f.Close()
		}
	}
	if total == 0 || repaired != total {
		t.Errorf("%s", summary)
	}
}

func (sc scenario) prog() string {
	if sc.auto {
		return sc.world.Auto
	}
	return sc.world.Dkms
}

// run tries every fault point of one scenario; it returns how many
// interruptions were tried, how many were repaired, and how many points a
// replay did not reach (the run ended first).
func (sc scenario) run(t *testing.T) (tried, ok, unreached int) {
	w := sc.world
	w.Restore(sc.from)
	logFile := w.Dir + "/points.log"
	os.Remove(logFile)
	first := w.Run(sc.prog(), RunOpts{FaultLog: logFile}, sc.args...)
	if first.Code < 0 {
		t.Fatalf("%s: uninterrupted run killed by %v", sc.name, first.Signal)
	}
	want := w.Fingerprint()
	if bad := append(w.Inconsistencies(), w.Leftovers()...); len(bad) > 0 {
		t.Fatalf("%s: the uninterrupted run leaves an inconsistent state:\n%s", sc.name, strings.Join(bad, "\n"))
	}
	second := w.Run(sc.prog(), RunOpts{}, sc.args...)
	b, _ := os.ReadFile(logFile)
	points := strings.Count(string(b), "\n")
	if points == 0 {
		t.Fatalf("%s: no fault point passed", sc.name)
	}
	for n := 1; n <= points; n++ {
		w.Restore(sc.from)
		r := w.Run(sc.prog(), RunOpts{FaultAt: n}, sc.args...)
		tried++
		var bad []string
		if r.Signal != syscall.SIGKILL {
			unreached++
		}
		if s := w.Survivors(3 * time.Second); len(s) > 0 {
			bad = append(bad, "processes left by the killed run: "+strings.Join(s, "; "))
		}
		again := w.Run(sc.prog(), RunOpts{}, sc.args...)
		if again.Code != first.Code && again.Code != second.Code {
			bad = append(bad, fmt.Sprintf("rerun exit %d (uninterrupted: %d, then %d)\n%s%s",
				again.Code, first.Code, second.Code, again.Stdout, again.Stderr))
		}
		if got := w.Fingerprint(); got != want {
			bad = append(bad, "state differs from the uninterrupted run's:\n"+diff(want, got))
		}
		bad = append(bad, w.Inconsistencies()...)
		for _, l := range w.Leftovers() {
			bad = append(bad, "left behind: "+l)
		}
		if len(bad) == 0 {
			ok++
			continue
		}
		t.Errorf("%s, killed at point %d (%s):\n%s", sc.name, n, pointName(string(b), n), strings.Join(bad, "\n"))
	}
	return tried, ok, unreached
}

func pointName(log string, n int) string {
	lines := strings.Split(log, "\n")
	if n-1 < len(lines) {
		return lines[n-1]
	}
	return "?"
}

// diff lists the lines of want missing from got (-) and those added (+).
func diff(want, got string) string {
	in := func(s string) map[string]bool {
		m := map[string]bool{}
		for _, l := range strings.Split(s, "\n") {
			m[l] = true
		}
		return m
	}
	w, g := in(want), in(got)
	var out []string
	for _, l := range strings.Split(want, "\n") {
		if !g[l] {
			out = append(out, "- "+l)
		}
	}
	for _, l := range strings.Split(got, "\n") {
		if !w[l] {
			out = append(out, "+ "+l)
		}
	}
	return strings.Join(out, "\n")
}
