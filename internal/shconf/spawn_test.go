package shconf

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// stopServer ends the running child, if any, so that the next
// evaluation starts one.
func stopServer() {
	lockServer()
	if current != nil {
		current.kill()
		_ = current.cmd.Wait()
		current = nil
	}
	unlockServer()
}

// TestChildStartBounded: a child that never starts (here a program that
// sleeps instead of answering) holds an evaluation no longer than the
// evaluation's own deadline or context, whichever ends first, whether
// the evaluation started that child or found Prestart starting it, and
// the error names the file and the cause.
func TestChildStartBounded(t *testing.T) {
	hang := filepath.Join(t.TempDir(), "hang")
	if err := os.WriteFile(hang, []byte("#!/bin/sh\nexec sleep 60\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	stopServer()
	forceProgram.Store(hang)
	defer func() {
		forceProgram.Store("")
		stopServer()
	}()
	conf := filepath.Join(t.TempDir(), "dkms.conf")
	if err := os.WriteFile(conf, []byte("X=$(uname -r)\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	const slack = 2 * time.Second // a loaded machine's scheduling, far below the 10 s default
	for _, tt := range []struct {
		name     string
		prestart bool
		timeout  time.Duration // the file's deadline (Options.Timeout)
		ctx      time.Duration // the caller's context, 0 = none
		bound    time.Duration
		want     string
	}{
		{"prestarted, deadline", true, time.Second, 0, time.Second,
			"the sandboxed evaluation did not start within 1s (it was killed)"},
		{"prestarted, context", true, 0, time.Second, time.Second,
			"evaluation interrupted: context deadline exceeded"},
		{"own start, deadline", false, time.Second, 0, time.Second + grace + time.Second,
			"the sandboxed evaluation did not start within 2.5s (it was killed)"},
		{"own start, context", false, 0, time.Second, time.Second,
			"evaluation interrupted: context deadline exceeded"},
		{"own start, context before deadline", false, 5 * time.Second, time.Second, time.Second,
			"evaluation interrupted: context deadline exceeded"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			defer stopServer()
			ctx := context.Background()
			if tt.ctx > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tt.ctx)
				defer cancel()
			}
			start := time.Now()
			if tt.prestart {
				Prestart()
			}
			_, err := EvalFile(ctx, conf, []string{"X"}, Options{Timeout: tt.timeout})
			took := time.Since(start)
			if took > tt.bound+slack {
				t.Errorf("took %v, bound %v", took, tt.bound)
			}
			var se *Error
			if !errors.As(err, &se) || se.File != conf || !strings.Contains(se.Msg, tt.want) {
				t.Errorf("err = %v, want an *Error for %s containing %q", err, conf, tt.want)
			}
		})
	}
}
