package jobserver

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

func TestInherited(t *testing.T) {
	t.Parallel()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	// Cleanup, not defer: the parallel subtests run after this returns.
	t.Cleanup(func() { r.Close(); w.Close() })
	open := fmt.Sprintf("%d,%d", r.Fd(), w.Fd())
	// Descriptor 1<<20 is above any RLIMIT_NOFILE default, so never open.
	closed := fmt.Sprintf("%d,%d", 1<<20, w.Fd())
	tests := []struct {
		name      string
		env       []string
		wantSlots int
		wantOK    bool
	}{
		{"none", []string{"PATH=/bin"}, 0, false},
		{"open", []string{"MAKEFLAGS= -j3 --jobserver-auth=" + open}, 3, true},
		{"letters first", []string{"MAKEFLAGS=s -j2 --jobserver-auth=" + open}, 2, true},
		{"closed descriptor", []string{"MAKEFLAGS= -j3 --jobserver-auth=" + closed}, 3, false},
		{"no descriptors", []string{"MAKEFLAGS= -j3"}, 3, false},
		{"malformed", []string{"MAKEFLAGS= --jobserver-auth=x"}, 0, false},
		{"last assignment wins", []string{"MAKEFLAGS= --jobserver-auth=" + open, "MAKEFLAGS="}, 0, false},
		{"variables are not options", []string{"MAKEFLAGS= -- X=--jobserver-auth=" + open}, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			slots, ok := Inherited(tt.env)
			if slots != tt.wantSlots || ok != tt.wantOK {
				t.Errorf("Inherited(%q) = %d, %v; want %d, %v", tt.env, slots, ok, tt.wantSlots, tt.wantOK)
			}
		})
	}
}

// TestInheritedByChild re-runs the test binary attached to a server, as
// dkms runs its isolated install child: the child must find the jobserver
// in its own environment and descriptors.
func TestInheritedByChild(t *testing.T) {
	t.Parallel()
	if os.Getenv("JOBSERVER_TEST_CHILD") == "1" {
		return // the parent test runs only as parent
	}
	s, err := New(3)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestInheritedChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), "JOBSERVER_TEST_CHILD=1")
	out, err := runCombined(ctx, s, cmd)
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	if !strings.Contains(out, "inherited 3 true") {
		t.Errorf("child did not see the jobserver:\n%s", out)
	}
}

func runCombined(ctx context.Context, s *Server, cmd *exec.Cmd) (string, error) {
	var b strings.Builder
	cmd.Stdout, cmd.Stderr = &b, &b
	err := s.Run(ctx, cmd)
	return b.String(), err
}

// TestInheritedChild is the child half of TestInheritedByChild.
func TestInheritedChild(t *testing.T) {
	if os.Getenv("JOBSERVER_TEST_CHILD") != "1" {
		t.Skip("runs only as the child of TestInheritedByChild")
	}
	slots, ok := Inherited(os.Environ())
	fmt.Printf("inherited %d %v\n", slots, ok)
}
