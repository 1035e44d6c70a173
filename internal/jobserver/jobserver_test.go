package jobserver

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestMakeFlags(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, old, want string
	}{
		{"empty", "", " -j4 --jobserver-auth=3,4"},
		{"letters kept first", "s", " s -j4 --jobserver-auth=3,4"},
		{"replaces inherited jobserver", "ks -j8 --jobserver-auth=5,6", " ks -j4 --jobserver-auth=3,4"},
		{"old fds option", " -j2 --jobserver-fds=7,8", " -j4 --jobserver-auth=3,4"},
		{"bare -j", "-j", " -j4 --jobserver-auth=3,4"},
		{"long jobs", "--jobs=9 --no-print-directory", " -j4 --jobserver-auth=3,4 --no-print-directory"},
		{"keeps other dash-j words", "-jfoo", " -j4 --jobserver-auth=3,4 -jfoo"},
		{"variables", "s -j2 --jobserver-auth=9,10 -- V=1 -j3=x", " s -j4 --jobserver-auth=3,4 -- V=1 -j3=x"},
		{"only variables", "-- V=1", " -j4 --jobserver-auth=3,4 -- V=1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := MakeFlags(tt.old, 4, 3, 4); got != tt.want {
				t.Errorf("MakeFlags(%q) = %q, want %q", tt.old, got, tt.want)
			}
		})
	}
}

func TestAttachEnv(t *testing.T) {
	t.Parallel()
	s, err := New(3)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	other, _ := os.Open(os.DevNull)
	defer other.Close()
	cmd := exec.Command("true")
	cmd.Env = []string{"A=1", "MAKEFLAGS=s -j8 --jobserver-auth=3,4", "B=2"}
	cmd.ExtraFiles = []*os.File{other}
	s.Attach(cmd)
	want := []string{"A=1", "B=2", "MAKEFLAGS= s -j3 --jobserver-auth=4,5"}
	if strings.Join(cmd.Env, "\n") != strings.Join(want, "\n") {
		t.Errorf("Env = %q, want %q", cmd.Env, want)
	}
	if len(cmd.ExtraFiles) != 3 || cmd.ExtraFiles[1] != s.r || cmd.ExtraFiles[2] != s.w {
		t.Errorf("ExtraFiles = %v, want [devnull r w]", cmd.ExtraFiles)
	}
}

func TestAcquireBlocksAndCancels(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := New(2)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for i := 0; i < 2; i++ {
		if err := s.Acquire(ctx); err != nil {
			t.Fatalf("Acquire %d: %v", i, err)
		}
	}
	// The pipe is empty now: a third Acquire can only end by cancellation;
	// had it found a token it would return nil.
	wctx, wcancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- s.Acquire(wctx) }()
	wcancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("Acquire on empty pipe after cancel = %v, want context.Canceled", err)
	}
	// A token released later reaches a waiter that is still waiting.
	done2 := make(chan error, 1)
	go func() { done2 <- s.Acquire(ctx) }()
	s.Release()
	if err := <-done2; err != nil {
		t.Fatalf("Acquire after Release: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Acquire(ctx); !errors.Is(err, ErrClosed) {
		t.Errorf("Acquire after Close = %v, want ErrClosed", err)
	}
}

func TestNewRejectsBadSlots(t *testing.T) {
	t.Parallel()
	for _, n := range []int{-1, 0, 4097} {
		if s, err := New(n); err == nil {
			s.Close()
			t.Errorf("New(%d) succeeded, want error", n)
		}
	}
}

// TestMakeUsesServer runs real make with two targets that rendezvous
// through FIFOs: each opens the other's FIFO, which blocks until both run
// at once. With the MAKEFLAGS from Attach and no -j on the command line,
// make only finishes if it took a token from our pipe to run the second.
func TestMakeUsesServer(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("make"); err != nil {
		t.Skip("GNU make not installed")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	dir := t.TempDir()
	for _, f := range []string{"fa", "fb"} {
		if err := syscall.Mkfifo(filepath.Join(dir, f), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	mk := "all: a b\n" +
		"a:\n\t@echo go > fb; read x < fa; echo \"a MAKEFLAGS=$(MAKEFLAGS)\"\n" +
		"b:\n\t@read x < fb; echo go > fa\n"
	if err := os.WriteFile(filepath.Join(dir, "Makefile"), []byte(mk), 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := New(2)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	cmd := exec.CommandContext(ctx, "make", "-C", dir, "--no-print-directory")
	cmd.Env = append(os.Environ(), "MAKEFLAGS=")
	cmd.WaitDelay = time.Second
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := runAttached(ctx, s, cmd); err != nil {
		t.Fatalf("make under jobserver: %v (deadlock means make ran serially)\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "--jobserver-auth=3,4") {
		t.Errorf("make did not see the jobserver:\n%s", out.String())
	}
	if strings.Contains(out.String(), "warning") {
		t.Errorf("make warned:\n%s", out.String())
	}
	// Both tokens are back: the pipe holds exactly two.
	for i := 0; i < 2; i++ {
		if err := s.Acquire(ctx); err != nil {
			t.Fatalf("Acquire %d after make: %v", i, err)
		}
	}
}

// runAttached runs cmd as the engine runs a build: holding one token for
// the whole life of the make it starts, which pays for its implicit slot.
func runAttached(ctx context.Context, s *Server, cmd *exec.Cmd) error {
	if err := s.Acquire(ctx); err != nil {
		return err
	}
	defer s.Release()
	s.Attach(cmd)
	return cmd.Run()
}
