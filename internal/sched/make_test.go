package sched

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/dkms-go/dkms/internal/jobserver"
)

// The fake compiler announces itself on the shared event FIFO, then waits
// on its own FIFO until the test lets it finish. Writes of one short line
// to a FIFO are atomic, so the event order is the order things happened.
const fakeCC = `#!/bin/sh
f="$D/r.$1"
mkfifo "$f" || exit 1
echo "start $1" > "$D/ev"
read x < "$f"
echo "end $1" > "$D/ev"
`

const fakeMakefile = `T := t1 t2 t3 t4 t5 t6
all: $(T)
$(T):
	@sh $(D)/cc.sh $(B)-$@
.PHONY: all $(T)
`

// counter follows the compilers through the event FIFO. It holds every
// compiler until holdUntil of them wait at once (or no more can come, or
// more than slots already ran at once), and only then lets the oldest finish: concurrency therefore climbs as high as
// the builds allow, with no sleeps, and the count of running compilers
// (starts minus ends, in FIFO order) is exact because a make only starts a
// new compiler in a slot after the previous one has exited.
type counter struct {
	dir                     string
	slots, total, holdUntil int

	started, ended, cur, max int
	maxBuilds                int // most distinct builds with a running compiler
	running                  map[string]bool
	held                     []string
	events                   []string
}

func (c *counter) serve(ctx context.Context, lines <-chan string) error {
	c.running = map[string]bool{}
	for c.ended < c.total {
		var line string
		select {
		case line = <-lines:
		case <-ctx.Done():
			return fmt.Errorf("after %d starts and %d ends: %w", c.started, c.ended, ctx.Err())
		}
		c.events = append(c.events, line)
		kind, id, _ := strings.Cut(line, " ")
		switch kind {
		case "start":
			c.started++
			c.cur++
			c.max = max(c.max, c.cur)
			c.running[id] = true
			c.held = append(c.held, id)
			builds := map[string]bool{}
			for r := range c.running {
				b, _, _ := strings.Cut(r, "-")
				builds[b] = true
			}
			c.maxBuilds = max(c.maxBuilds, len(builds))
		case "end":
			c.ended++
			c.cur--
			delete(c.running, id)
		default:
			return fmt.Errorf("bad event %q", line)
		}
		// Once more than slots compilers ran at once the point is made;
		// holding further could stall builds at their last target.
		for len(c.held) > 0 && (len(c.held) >= c.holdUntil || c.started == c.total || c.max > c.slots) {
			id := c.held[0]
			c.held = c.held[1:]
			// Opening for writing waits for the compiler to open its
			// end, which it is about to do; a goroutine keeps a killed
			// compiler from hanging the test.
			go func() {
				if f, err := os.OpenFile(filepath.Join(c.dir, "r."+id), os.O_WRONLY, 0); err == nil {
					f.WriteString("go\n")
					f.Close()
				}
			}()
		}
	}
	return nil
}

// runFakeBuilds schedules `builds` independent jobs, each running real make
// on six fake compile targets under one jobserver of `slots`, with up to
// four jobs at once so that only the jobserver bounds the compilers.
func runFakeBuilds(t *testing.T, slots, builds, holdUntil int, makeArgs ...string) (*counter, []Result) {
	t.Helper()
	if _, err := exec.LookPath("make"); err != nil {
		t.Skip("GNU make not installed")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	dir := t.TempDir()
	for name, data := range map[string]string{"cc.sh": fakeCC, "Makefile": fakeMakefile} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := syscall.Mkfifo(filepath.Join(dir, "ev"), 0o600); err != nil {
		t.Fatal(err)
	}
	// Read-write keeps the FIFO from reporting end of file between writers.
	ev, err := os.OpenFile(filepath.Join(dir, "ev"), os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer ev.Close()
	lines := make(chan string)
	go func() {
		sc := bufio.NewScanner(ev)
		for sc.Scan() {
			select {
			case lines <- sc.Text():
			case <-ctx.Done():
				return
			}
		}
	}()

	srv, err := jobserver.New(slots)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()

	c := &counter{dir: dir, slots: slots, total: builds * 6, holdUntil: holdUntil}
	served := make(chan error, 1)
	go func() { served <- c.serve(ctx, lines) }()

	var jobs []Job
	for i := 1; i <= builds; i++ {
		jobs = append(jobs, job(fmt.Sprintf("b%d", i)))
	}
	outputs := make(map[string]*strings.Builder)
	for _, j := range jobs {
		outputs[j.ID] = &strings.Builder{}
	}
	rs := Run(ctx, jobs, Options{
		Parallel: 4,
		Run: func(ctx context.Context, j Job) int {
			args := append([]string{"-f", filepath.Join(dir, "Makefile"), "D=" + dir, "B=" + j.Name}, makeArgs...)
			cmd := exec.CommandContext(ctx, "make", args...)
			cmd.Dir = dir
			cmd.Stdout, cmd.Stderr = outputs[j.ID], outputs[j.ID]
			// Kill the fake compilers too if the test times out.
			cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
			cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
			cmd.WaitDelay = time.Second
			// As the engine does: one token for the build's whole life.
			if err := srv.Acquire(ctx); err != nil {
				fmt.Fprintf(outputs[j.ID], "\n%v", err)
				cancel()
				return 1
			}
			defer srv.Release()
			srv.Attach(cmd)
			if err := cmd.Run(); err != nil {
				fmt.Fprintf(outputs[j.ID], "\n%v", err)
				cancel()
				return 1
			}
			return 0
		},
	})
	if err := <-served; err != nil {
		for id, out := range outputs {
			t.Logf("%s output:\n%s", id, out)
		}
		t.Fatalf("counting compilers: %v\nevents: %v", err, c.events)
	}
	return c, rs
}

// TestJobserverBoundsCompilers is the scheduler test of the issue: four
// independent builds of six targets each, slots = 2. The builds overlap
// (compilers of two builds run at the same moment), the number of running
// compilers reaches the two slots and never exceeds them.
func TestJobserverBoundsCompilers(t *testing.T) {
	t.Parallel()
	const slots = 2
	c, rs := runFakeBuilds(t, slots, 4, slots)
	for _, r := range rs {
		if r.Outcome != Installed {
			t.Errorf("%s = %v", r.Job.ID, r.Outcome)
		}
	}
	if c.max > slots {
		t.Errorf("%d compilers ran at once with %d slots: %v", c.max, slots, c.events)
	}
	if c.max < slots {
		t.Errorf("at most %d compilers ran at once, slots %d unused: %v", c.max, slots, c.events)
	}
	if c.maxBuilds < 2 {
		t.Errorf("builds never overlapped: %v", c.events)
	}
}

// TestCounterSeesPrivateJobservers is the control for the test above: the
// same builds with -j4 on the make command line start private jobservers,
// and the counter must see more compilers than slots.
func TestCounterSeesPrivateJobservers(t *testing.T) {
	t.Parallel()
	const slots = 2
	c, _ := runFakeBuilds(t, slots, 4, slots+1, "-j4")
	if c.max <= slots {
		t.Errorf("with -j4 at most %d compilers ran at once, want more than %d: %v", c.max, slots, c.events)
	}
}
