package jobserver

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// debianKernel is the Debian kernel whose headers the test machines carry;
// the running kernel may be anything.
const debianKernel = "6.1.0-56-amd64"

// TestKbuildUnderServer builds the bundled example module with the real
// kernel headers the way dkms runs make under the shared jobserver (no -j
// on the command line) and checks that Kbuild's recursive makes accept the
// inherited pipe instead of warning and falling back.
func TestKbuildUnderServer(t *testing.T) {
	t.Parallel()
	kdir := filepath.Join("/lib/modules", debianKernel, "build")
	if _, err := os.Stat(filepath.Join(kdir, "Makefile")); err != nil {
		t.Skipf("kernel headers for %s not installed: %v", debianKernel, err)
	}
	for _, tool := range []string{"make", "gcc"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed", tool)
		}
	}
	src := filepath.Join("..", "..", "examples", "dkms-hello")
	dir := t.TempDir()
	for _, f := range []string{"Makefile", "dkms_hello.c"} {
		data, err := os.ReadFile(filepath.Join(src, f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, f), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	s, err := New(2)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	cmd := exec.CommandContext(ctx, "make", "KERNELRELEASE="+debianKernel, "-C", kdir, "M="+dir, "modules")
	cmd.Dir = dir
	cmd.WaitDelay = time.Second
	out, err := runCombined(ctx, s, cmd)
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
