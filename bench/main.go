package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"
)

// row is one side-by-side comparison.
type row struct {
	ID, Name       string
	OursCmd, UpCmd string
	Ours, Up       stats
	Build          bool // report the ratio to the ideal wall time (CPU / cores)
	Note           string
}

type sweepPoint struct {
	N        int
	Ours, Up stats
	HasUp    bool
}

type results struct {
	Rows  []row
	Sweep []sweepPoint
	Notes []string
}

// bench carries one run of the harness.
type bench struct {
	w     *world
	reps  int
	small bool
	cores int
	log   io.Writer
	res   results

	loadStart  string // /proc/loadavg when the run started
	rev        string // git describe when the run started (the report and plot it writes would make it dirty)
	upSweepMax int    // largest status sweep size upstream ran at
}

func (b *bench) logf(format string, a ...any) {
	fmt.Fprintf(b.log, "bench: "+format+"\n", a...)
}

// options are the harness's knobs; bench_test.go fills them directly.
type options struct {
	Small     bool
	Reps      int
	Kernel    string
	BinDir    string
	Work      string // scratch directory ("" -> a new one under $TMPDIR, removed afterwards)
	Deb       string // upstream .deb to use instead of apt-get download
	Only      string // comma-separated scenario ids to run ("" -> all)
	Out, Plot string // report and plot paths ("" -> not written)
	Command   string // the command line recorded in the report
}

func main() {
	var o options
	flag.BoolVar(&o.Small, "small", os.Getenv("BENCH_SMALL") == "1", "tiny trees, one repetition (CI check of the harness)")
	flag.IntVar(&o.Reps, "reps", 5, "repetitions per scenario (builds use at most 3)")
	flag.StringVar(&o.Kernel, "kernel", "6.1.0-56-amd64", "Debian kernel with installed headers")
	flag.StringVar(&o.BinDir, "bin", "bin", "directory with our dkms and dkms-autoinstall")
	flag.StringVar(&o.Work, "work", "", "scratch directory (kept); default a temporary one that is removed")
	flag.StringVar(&o.Deb, "deb", os.Getenv("BENCH_UPSTREAM_DEB"), "upstream dkms .deb (default: apt-get download dkms)")
	flag.StringVar(&o.Only, "only", "", "comma-separated scenario ids (1-7)")
	flag.StringVar(&o.Out, "out", "docs/BENCHMARKS.md", "report to write between its markers, keeping the rest of the file (empty: none)")
	flag.StringVar(&o.Plot, "plot", "docs/bench-status.png", "plot to write (empty: none)")
	flag.StringVar(&o.Command, "command", "make bench", "command recorded in the report")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if _, err := run(ctx, o, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// run executes the selected scenarios and writes the report.
func run(ctx context.Context, o options, log io.Writer) (*results, error) {
	if o.Small {
		o.Reps = 1
	}
	if o.Reps < 1 {
		o.Reps = 1
	}
	work := o.Work
	if work == "" {
		d, err := os.MkdirTemp("", "dkms-bench.")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(d)
		work = d
	}
	work, err := filepath.Abs(work)
	if err != nil {
		return nil, err
	}
	bin, err := filepath.Abs(o.BinDir)
	if err != nil {
		return nil, err
	}
	start := time.Now()
	w, err := setupWorld(ctx, work, bin, o.Kernel, o.Deb)
	if err != nil {
		return nil, err
	}
	b := &bench{w: w, reps: o.Reps, small: o.Small, cores: runtime.NumCPU(), log: log, loadStart: loadavg(), rev: gitRev()}
	b.logf("upstream dkms %s, kernel %s, %d cores, %d repetitions, scratch %s", w.upVersion, o.Kernel, b.cores, o.Reps, work)
	scenarios := []struct {
		id  string
		run func(context.Context) error
	}{
		{"1", b.runStatus},
		{"2", b.runConf},
		{"3", b.runNothingToDo},
		{"4", b.runRemoval},
		{"5", b.runBuilds},
		{"6", b.runInitramfs},
		{"7", b.runDoctor},
	}
	for _, s := range scenarios {
		if o.Only != "" && !strings.Contains(","+o.Only+",", ","+s.id+",") {
			continue
		}
		if err := s.run(ctx); err != nil {
			return &b.res, fmt.Errorf("scenario %s: %w", s.id, err)
		}
	}
	if o.Plot != "" && len(b.res.Sweep) > 0 {
		if err := plotSweep(ctx, b.res.Sweep, o.Plot, filepath.Join(work, "plot")); err != nil {
			b.res.Notes = append(b.res.Notes, "plot not drawn: "+err.Error())
			o.Plot = ""
		}
	}
	if o.Out != "" {
		md := b.report(o, time.Since(start))
		if err := writeReport(o.Out, md); err != nil {
			return &b.res, err
		}
		b.logf("wrote %s", o.Out)
	}
	return &b.res, nil
}
