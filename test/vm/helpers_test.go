package vm

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"
)

// vmTestMode is DKMS_VMTEST: "" (skip VM tests when something is missing),
// "1" (missing QEMU or kernel is a failure) or "full" (also the slow
// scenarios).
func vmTestMode() string { return os.Getenv("DKMS_VMTEST") }

// requireVM returns the kernel to boot, or skips the test with the reason when
// this machine cannot run VMs, unless DKMS_VMTEST demands the VM tests.
func requireVM(t *testing.T) Kernel {
	t.Helper()
	skip := func(format string, args ...any) {
		t.Helper()
		if vmTestMode() != "" {
			t.Fatalf("DKMS_VMTEST=%s but: "+format, append([]any{vmTestMode()}, args...)...)
		}
		t.Skipf("VM test skipped (set DKMS_VMTEST=1 to make this a failure): "+format, args...)
	}
	if testing.Short() && vmTestMode() == "" {
		t.Skip("VM test skipped in -short mode")
	}
	if runtime.GOARCH != "amd64" {
		skip("host is %s, the harness boots x86_64 kernels", runtime.GOARCH)
	}
	if _, err := exec.LookPath("qemu-system-x86_64"); err != nil {
		skip("qemu-system-x86_64 not installed (Debian package qemu-system-x86)")
	}
	if _, err := os.Stat("/bin/busybox"); err != nil {
		skip("/bin/busybox missing (Debian package busybox-static)")
	}
	k, err := FindKernel("/", os.Getenv("DKMS_VM_KERNEL"))
	if err != nil {
		skip("%v (Debian package linux-image-amd64)", err)
	}
	return k
}

// requireHeaders additionally needs the kernel's headers and a compiler.
func requireHeaders(t *testing.T, k Kernel) {
	t.Helper()
	if k.BuildDir != "" {
		if _, err := exec.LookPath("gcc"); err == nil {
			return
		}
	}
	if vmTestMode() != "" {
		t.Fatalf("DKMS_VMTEST=%s but kernel %s has no headers or gcc is missing", vmTestMode(), k.Version)
	}
	t.Skipf("VM test skipped: kernel %s needs headers (linux-headers-amd64) and gcc", k.Version)
}

// boot runs b with the test's logger and a deadline derived from the test's.
func boot(t *testing.T, b Boot) Result {
	t.Helper()
	ctx := context.Background()
	if d, ok := t.Deadline(); ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, d.Add(-10*time.Second))
		defer cancel()
	}
	b.Logf = t.Logf
	// Host-side elapsed time on each line shows where a slow run spends it.
	start := time.Now()
	b.Console = func(l string) { t.Logf("console %6.1fs: %s", time.Since(start).Seconds(), l) }
	if b.WorkDir == "" {
		b.WorkDir = t.TempDir()
	}
	res, err := b.Run(ctx)
	if err != nil {
		t.Fatalf("VM run: %v", err)
	}
	return res
}

var (
	helloOnce sync.Once
	helloDir  string
	helloKo   string
	helloErr  error
)

// TestMain removes what the once-per-binary helpers built for all tests.
func TestMain(m *testing.M) {
	code := m.Run()
	if helloDir != "" {
		os.RemoveAll(helloDir)
	}
	if stageDir != "" && os.Getenv("DKMS_VM_STAGE") == "" {
		os.RemoveAll(stageDir)
	}
	os.Exit(code)
}

// helloModule builds examples/dkms-hello on the host once per test binary.
func helloModule(t *testing.T, k Kernel) string {
	t.Helper()
	requireHeaders(t, k)
	helloOnce.Do(func() {
		dir, err := os.MkdirTemp("", "dkms-hello-build-")
		if err != nil {
			helloErr = err
			return
		}
		helloDir = dir
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		helloKo, helloErr = BuildModule(ctx, k, filepath.Join(repoRoot(t), "examples", "dkms-hello"), dir, "dkms_hello")
	})
	if helloErr != nil {
		t.Fatalf("building the example module: %v", helloErr)
	}
	return helloKo
}

// repoRoot is the module root, two levels above this package.
func repoRoot(t *testing.T) string {
	t.Helper()
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Dir(filepath.Dir(wd))
}

const helloLine = "dkms_hello: hello from a DKMS-built module"
