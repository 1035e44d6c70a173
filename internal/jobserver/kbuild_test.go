package jobserver

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dkms-go/dkms/internal/testenv"
)

// TestKbuildUnderServer builds the bundled example module with the real
// kernel headers the way dkms runs make under the shared jobserver (no -j
// on the command line) and checks that Kbuild's recursive makes accept the
// inherited pipe instead of warning and falling back.
func TestKbuildUnderServer(t *testing.T) {
	t.Parallel()
	kdir := testenv.KernelBuildDir(t)
	dir := testenv.ExampleModuleDir(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	s, err := New(2)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	cmd := exec.CommandContext(ctx, "make", "KERNELRELEASE="+testenv.DebianKernel(t), "-C", kdir, "M="+dir, "modules")
	cmd.Dir = dir
	cmd.WaitDelay = time.Second
	var b strings.Builder
	cmd.Stdout, cmd.Stderr = &b, &b
	err = runAttached(ctx, s, cmd)
	out := b.String()
	if err != nil {
		t.Fatalf("kbuild under jobserver: %v\n%s", err, out)
	}
	if strings.Contains(out, "jobserver") || strings.Contains(out, "warning: -j") {
		t.Errorf("make complained about the jobserver:\n%s", out)
	}
	if _, err := os.Stat(filepath.Join(dir, "dkms_hello.ko")); err != nil {
		t.Errorf("module not built: %v\n%s", err, out)
	}
	// Every token is back in the pipe once the build is over.
	for i := 0; i < 2; i++ {
		if err := s.Acquire(ctx); err != nil {
			t.Fatalf("Acquire %d after build: %v", i, err)
		}
	}
}
