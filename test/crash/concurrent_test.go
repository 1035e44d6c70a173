package crash

import (
	"fmt"
	"math/rand/v2"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// op is one run of the concurrency test.
type op struct {
	kind, module string // kind: install, remove, status, autoinstall, dkms-autoinstall
	tag          string // unique: pids are reused (pid_max may be 32768)
	r            Result
}

func (o *op) mutating() bool { return o.kind != "status" }

func (o *op) String() string {
	return fmt.Sprintf("%s %s (run %s, pid %d, exit %d)", o.kind, o.module, o.tag, o.r.Pid, o.r.Code)
}

// TestConcurrency runs 8 dkms processes at once on one tree for 60 s
// (CRASH_SECONDS): installs and removes of three modules, status,
// autoinstall and dkms-autoinstall. The mutating runs are replayed in the
// order in which they held the tree lock against a model of the tree
// (absent or installed per module): each answer (exit status, what it
// says it did) must be the one that order gives. Each status, which reads
// without the lock, must show for each module a state the model had, or
// one a run in flight passes through, while it ran. At the end status
// agrees with the files and modules.dep, no temporary is left and no
// process runs.
func TestConcurrency(t *testing.T) {
	w := newWorld(t, "concurrent")
	secs := 60
	if s, err := strconv.Atoi(os.Getenv("CRASH_SECONDS")); err == nil && s > 0 {
		secs = s
	}
	lockLog := w.Dir + "/lock.log"
	deadline := time.Now().Add(time.Duration(secs) * time.Second)
	var mu sync.Mutex
	var ops []*op
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func(seed uint64) {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(seed, 13))
			for time.Now().Before(deadline) {
				mu.Lock()
				o := &op{module: Modules[rng.IntN(len(Modules))], tag: strconv.Itoa(len(ops)) + "." + strconv.FormatUint(seed, 10)}
				ops = append(ops, o)
				mu.Unlock()
				prog := w.Dkms
				var args []string
				switch n := rng.IntN(20); {
				case n < 6:
					o.kind, args = "install", []string{"install", o.module + "/1.0", "-k", w.K}
				case n < 11:
					o.kind, args = "remove", []string{"remove", o.module + "/1.0", "--all"}
				case n < 15:
					o.kind, o.module, args = "status", "", []string{"status"}
				case n < 18:
					o.kind, o.module, args = "autoinstall", "", []string{"autoinstall", "-k", w.K}
				default:
					o.kind, o.module, prog, args = "dkms-autoinstall", "", w.Auto, []string{"-k", w.K, "-j", "2"}
				}
				r := w.Run(prog, RunOpts{LockLog: lockLog, LockTag: o.tag}, args...)
				mu.Lock()
				o.r = r
				mu.Unlock()
			}
		}(uint64(i + 1))
	}
	wg.Wait()
	anomalies := checkSerial(t, ops, lockLog)
	if s := w.Survivors(3 * time.Second); len(s) > 0 {
		anomalies = append(anomalies, "processes left: "+strings.Join(s, "; "))
	}
	anomalies = append(anomalies, w.Inconsistencies()...)
	for _, l := range w.Leftovers() {
		anomalies = append(anomalies, "left behind: "+l)
	}
	count := map[string]int{}
	for _, o := range ops {
		count[o.kind]++
	}
	summary := fmt.Sprintf("concurrency: 8 processes, %d s, %d operations (install %d, remove %d, status %d, autoinstall %d, dkms-autoinstall %d), %d anomalies",
		secs, len(ops), count["install"], count["remove"], count["status"], count["autoinstall"], count["dkms-autoinstall"], len(anomalies))
	t.Log(summary)
	if out := os.Getenv("CRASH_REPORT"); out != "" {
		f, err := os.OpenFile(out, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
		if err == nil {
			fmt.Fprintln(f, summary)
			f.Close()
		}
	}
	for i, a := range anomalies {
		if i == 20 {
			t.Errorf("... %d more", len(anomalies)-20)
			break
		}
		t.Error(a)
	}
	if count["install"] == 0 || count["remove"] == 0 || count["status"] == 0 {
		t.Errorf("too few operations to mean anything: %s", summary)
	}
}

// transient lists the states a mutating run passes through on its way.
func transient(o *op) []string {
	switch o.kind {
	case "install":
		return []string{"added", "built"}
	case "remove":
		return []string{"built", "added"}
	}
	return nil
}

// checkSerial replays the mutating runs in lock order and checks every
// answer against the model; see TestConcurrency.
func checkSerial(t *testing.T, ops []*op, lockLog string) []string {
	var bad []string
	b, err := os.ReadFile(lockLog)
	if err != nil {
		return []string{"no lock log: " + err.Error()}
	}
	byTag := map[string]*op{}
	for _, o := range ops {
		if o.mutating() {
			byTag[o.tag] = o
		}
	}
	var order []*op
	seen := map[string]bool{}
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		f := strings.Fields(l)
		if len(f) != 2 {
			bad = append(bad, "lock log line "+strconv.Quote(l))
			continue
		}
		o := byTag[f[1]]
		switch {
		case o == nil:
			bad = append(bad, "lock log names no mutating run: "+strconv.Quote(l))
		case seen[f[1]]:
			bad = append(bad, "took the lock twice: "+o.String())
		default:
			order = append(order, o)
			seen[f[1]] = true
		}
	}
	for _, o := range byTag {
		if !seen[o.tag] {
			bad = append(bad, "never held the lock: "+o.String())
		}
	}
	state := map[string]string{}
	for _, m := range Modules {
		state[m] = "" // absent
	}
	history := []map[string]string{clone(state)}
	for _, o := range order {
		out := o.r.Stdout
		switch o.kind {
		case "install":
			want := "Installing "
			if state[o.module] == "installed" {
				want = "already installed"
			}
			if o.r.Code != 0 || !strings.Contains(out, want) {
				bad = append(bad, fmt.Sprintf("%s: with %s %q it should say %q:\n%s%s", o, o.module, state[o.module], want, out, o.r.Stderr))
			}
			state[o.module] = "installed"
		case "remove":
			if state[o.module] == "" && o.r.Code != 3 || state[o.module] != "" && (o.r.Code != 0 || !strings.Contains(out, "Deleting module")) {
				bad = append(bad, fmt.Sprintf("%s: with %s %q:\n%s%s", o, o.module, state[o.module], out, o.r.Stderr))
			}
			state[o.module] = ""
		default: // autoinstall, dkms-autoinstall: every added module is installed already
			if o.r.Code != 0 || strings.Contains(out, "Installing") || strings.Contains(out, "Building") {
				bad = append(bad, fmt.Sprintf("%s: nothing to do, but:\n%s%s", o, out, o.r.Stderr))
			}
		}
		history = append(history, clone(state))
	}
	for _, s := range ops {
		if s.mutating() {
			continue
		}
		if s.r.Code != 0 || s.r.Stderr != "" {
			bad = append(bad, fmt.Sprintf("%s:\n%s%s", s, s.r.Stdout, s.r.Stderr))
			continue
		}
		got := Status(s.r.Stdout)
		a, z := s.r.Start, s.r.End
		for _, m := range Modules {
			allowed := map[string]bool{}
			for i := 0; i <= len(order); i++ {
				if (i == 0 || !order[i-1].r.Start.After(z)) && (i == len(order) || !order[i].r.End.Before(a)) {
					allowed[history[i][m]] = true
				}
			}
			for _, o := range order {
				if o.module == m && !o.r.Start.After(z) && !o.r.End.Before(a) {
					for _, st := range transient(o) {
						allowed[st] = true
					}
				}
			}
			g := got[m][""]
			for k, st := range got[m] {
				if k != "" {
					g = st
				}
			}
			if !allowed[g] {
				var keys []string
				for k := range allowed {
					keys = append(keys, strconv.Quote(k))
				}
				sort.Strings(keys)
				bad = append(bad, fmt.Sprintf("status at %s..%s shows %s %q; possible: %s\n%s",
					a.Format("15:04:05.000"), z.Format("15:04:05.000"), m, g, strings.Join(keys, " "), s.r.Stdout))
			}
		}
	}
	return bad
}

func clone(m map[string]string) map[string]string {
	c := make(map[string]string, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}
