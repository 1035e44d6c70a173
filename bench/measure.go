package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// sample is one timed run of one command.
type sample struct {
	Wall   time.Duration
	CPU    time.Duration // user+sys of the process and the descendants it reaped
	MaxRSS int64         // KiB, largest single process in the tree
}

// stats is the median of each measure over the repetitions. The medians
// are taken separately, as is usual for benchmark summaries.
type stats struct {
	Wall, CPU time.Duration
	MaxRSS    int64
	N         int
	First     time.Duration // wall time of the untimed first run of a warm job
}

// job is one implementation's side of a scenario. prepare runs outside the
// timed region (fresh trees for commands that change them) and returns the
// command to time; check looks at the outcome so that a run which failed
// fast is an error and not a fast result.
type job struct {
	label   string
	prepare func(ctx context.Context, rep int) (*exec.Cmd, error)
	check   func(out []byte, exitCode int) error
	// maxReps caps the repetitions of a job whose single run takes
	// minutes (upstream at fleet scale); 0 means every repetition.
	maxReps int
	// quick jobs (a few ms) are timed without the GNU time wrapper, whose
	// start-up would add about a millisecond, and get their peak RSS from
	// one extra untimed run under it.
	quick bool
	// warm jobs run once, untimed, before the repetitions: the command
	// keeps a cache in the tree, and the repetitions measure the state a
	// machine is in after its first run. That first run's wall time is
	// reported on its own.
	warm bool
}

// gnuTime is GNU time, used only for the peak RSS: the rusage that wait4
// returns for a child that Go started with vfork+exec carries the Go
// parent's own high-water RSS (Linux copies it into the child at exec), so
// the child's real peak is only visible one fork further down. Without it
// the reported RSS has this process's RSS as a floor.
var gnuTime = func() string {
	if p, err := exec.LookPath("/usr/bin/time"); err == nil {
		return p
	}
	return ""
}()

// timeCmd runs cmd and returns its measures, combined output and exit code.
// A non-zero exit is not an error here: check decides (status of upstream's
// autoinstall, for instance, is part of what is verified).
func timeCmd(cmd *exec.Cmd, wrap bool) (sample, []byte, int, error) {
	var rssFile string
	if wrap && gnuTime != "" {
		f, err := os.CreateTemp("", "bench-rss.")
		if err != nil {
			return sample{}, nil, -1, err
		}
		f.Close()
		rssFile = f.Name()
		defer os.Remove(rssFile)
		cmd.Args = append([]string{gnuTime, "-q", "-f", "%M", "-o", rssFile, cmd.Path}, cmd.Args[1:]...)
		cmd.Path = gnuTime
	}
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	start := time.Now()
	err := cmd.Run()
	wall := time.Since(start)
	if cmd.ProcessState == nil {
		return sample{}, out.Bytes(), -1, fmt.Errorf("running %s: %w", cmd.Path, err)
	}
	s := sample{Wall: wall}
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		s.CPU = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
		s.MaxRSS = ru.Maxrss
	}
	if rssFile != "" {
		b, err := os.ReadFile(rssFile)
		if err != nil {
			return s, out.Bytes(), -1, err
		}
		// The last line is the number; GNU time puts a "Command exited
		// with non-zero status" line before it.
		f := strings.Fields(string(b))
		if len(f) == 0 {
			return s, out.Bytes(), -1, fmt.Errorf("no RSS from %s", gnuTime)
		}
		if s.MaxRSS, err = strconv.ParseInt(f[len(f)-1], 10, 64); err != nil {
			return s, out.Bytes(), -1, fmt.Errorf("RSS from %s: %w", gnuTime, err)
		}
	}
	return s, out.Bytes(), cmd.ProcessState.ExitCode(), nil
}

// compare runs reps repetitions of every job, alternating the order each
// repetition, and returns the medians in job order.
func compare(ctx context.Context, reps int, jobs ...job) ([]stats, error) {
	samples := make([][]sample, len(jobs))
	first := make([]time.Duration, len(jobs))
	for i, j := range jobs {
		if !j.warm {
			continue
		}
		cmd, err := j.prepare(ctx, 0)
		if err != nil {
			return nil, fmt.Errorf("%s: preparing: %w", j.label, err)
		}
		s, err := runJob(ctx, j, cmd, false)
		if err != nil {
			return nil, err
		}
		first[i] = s.Wall
	}
	for rep := 0; rep < reps; rep++ {
		order := make([]int, len(jobs))
		for i := range order {
			order[i] = i
			if rep%2 == 1 {
				order[i] = len(jobs) - 1 - i
			}
		}
		for _, i := range order {
			j := jobs[i]
			if j.maxReps > 0 && rep >= j.maxReps {
				continue
			}
			cmd, err := j.prepare(ctx, rep)
			if err != nil {
				return nil, fmt.Errorf("%s: preparing: %w", j.label, err)
			}
			s, err := runJob(ctx, j, cmd, !j.quick)
			if err != nil {
				return nil, err
			}
			samples[i] = append(samples[i], s)
		}
	}
	res := make([]stats, len(jobs))
	for i, ss := range samples {
		res[i] = median(ss)
		res[i].First = first[i]
		if jobs[i].quick && gnuTime != "" {
			cmd, err := jobs[i].prepare(ctx, reps)
			if err != nil {
				return nil, fmt.Errorf("%s: preparing: %w", jobs[i].label, err)
			}
			s, err := runJob(ctx, jobs[i], cmd, true)
			if err != nil {
				return nil, err
			}
			res[i].MaxRSS = s.MaxRSS
		}
	}
	return res, nil
}

func runJob(ctx context.Context, j job, cmd *exec.Cmd, wrap bool) (sample, error) {
	s, out, code, err := timeCmd(cmd, wrap)
	if err != nil {
		return s, fmt.Errorf("%s: %w", j.label, err)
	}
	if err := j.check(out, code); err != nil {
		return s, fmt.Errorf("%s: %w\ncommand: %s\noutput (tail):\n%s", j.label, err,
			strings.Join(cmd.Args, " "), tail(out, 30))
	}
	return s, nil
}

func median(ss []sample) stats {
	st := stats{N: len(ss)}
	if len(ss) == 0 {
		return st
	}
	walls := make([]time.Duration, len(ss))
	cpus := make([]time.Duration, len(ss))
	rss := make([]int64, len(ss))
	for i, s := range ss {
		walls[i], cpus[i], rss[i] = s.Wall, s.CPU, s.MaxRSS
	}
	st.Wall = medianOf(walls)
	st.CPU = medianOf(cpus)
	st.MaxRSS = medianOf(rss)
	return st
}

// medianOf returns the middle value, or the mean of the two middle values
// for an even count.
func medianOf[T time.Duration | int64](v []T) T {
	sort.Slice(v, func(i, j int) bool { return v[i] < v[j] })
	n := len(v)
	if n%2 == 1 {
		return v[n/2]
	}
	return (v[n/2-1] + v[n/2]) / 2
}

func tail(b []byte, lines int) string {
	ls := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(ls) > lines {
		ls = ls[len(ls)-lines:]
	}
	return strings.Join(ls, "\n")
}
