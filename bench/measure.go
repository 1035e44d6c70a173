package main

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"sort"
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
}

// timeCmd runs cmd and returns its measures, combined output and exit code.
// A non-zero exit is not an error here: check decides (status of upstream's
// autoinstall, for instance, is part of what is verified).
func timeCmd(cmd *exec.Cmd) (sample, []byte, int, error) {
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
	return s, out.Bytes(), cmd.ProcessState.ExitCode(), nil
}

// compare runs reps repetitions of every job, alternating the order each
// repetition, and returns the medians in job order.
func compare(ctx context.Context, reps int, jobs ...job) ([]stats, error) {
	samples := make([][]sample, len(jobs))
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
			s, out, code, err := timeCmd(cmd)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", j.label, err)
			}
			if err := j.check(out, code); err != nil {
				return nil, fmt.Errorf("%s: %w\ncommand: %s\noutput (tail):\n%s", j.label, err,
					strings.Join(cmd.Args, " "), tail(out, 30))
			}
			samples[i] = append(samples[i], s)
		}
	}
	res := make([]stats, len(jobs))
	for i, ss := range samples {
		res[i] = median(ss)
	}
	return res, nil
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

// exitZero is the usual check: the command succeeded.
func exitZero(out []byte, code int) error {
	if code != 0 {
		return fmt.Errorf("exit status %d", code)
	}
	return nil
}
