package vm

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// fakeQEMU writes a shell script standing in for QEMU, so the run loop's
// verdict mapping, console streaming and process-group kill are tested without
// an emulator.
func fakeQEMU(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "qemu")
	if err := os.WriteFile(p, []byte("#!/bin/sh\n"+body), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestRunVerdicts(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		body string
		want Verdict
	}{
		{"pass", fmt.Sprintf("printf 'booting\\r\\nvmtest: ok\\r\\n'\nexit %d\n", PassValue<<1|1), VerdictPass},
		{"fail", fmt.Sprintf("echo 'vmtest: FAIL: x'\nexit %d\n", FailValue<<1|1), VerdictFail},
		{"powered off", "echo 'reboot: Power down'\nexit 0\n", VerdictNone},
		{"panic", "echo 'Kernel panic - not syncing'\nexit 1\n", VerdictPanic},
		{"killed by signal", "echo 'dying'\nkill -9 $$\n", VerdictPanic},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var streamed []string
			var logged []string
			res, err := Run(context.Background(), Config{
				QEMU:    fakeQEMU(t, tt.body),
				Kernel:  "/nonexistent/vmlinux",
				Accel:   Accel{Name: "tcg", Reason: "test"},
				Timeout: 30 * time.Second,
				Console: func(l string) { streamed = append(streamed, l) },
				Logf:    func(f string, a ...any) { logged = append(logged, fmt.Sprintf(f, a...)) },
			})
			if err != nil {
				t.Fatal(err)
			}
			if res.Verdict != tt.want {
				t.Errorf("verdict = %s (exit %d), want %s", res.Verdict, res.ExitCode, tt.want)
			}
			if len(res.Console) == 0 || strings.Join(streamed, "\n") != strings.Join(res.Console, "\n") {
				t.Errorf("console %q, streamed %q", res.Console, streamed)
			}
			for _, l := range res.Console {
				if strings.Contains(l, "\r") {
					t.Errorf("carriage return kept in %q", l)
				}
			}
			if !strings.Contains(strings.Join(logged, "\n"), "-kernel /nonexistent/vmlinux") {
				t.Errorf("command line not logged: %q", logged)
			}
		})
	}
}

// TestRunTimeoutKillsGroup checks the deadline and that a child the emulator
// started does not outlive the run.
func TestRunTimeoutKillsGroup(t *testing.T) {
	t.Parallel()
	pidFile := filepath.Join(t.TempDir(), "child.pid")
	body := fmt.Sprintf("sleep 300 &\necho $! > %s\necho started\nsleep 300\n", pidFile)
	start := time.Now()
	res, err := Run(context.Background(), Config{
		QEMU:    fakeQEMU(t, body),
		Kernel:  "vmlinux",
		Timeout: 500 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Verdict != VerdictTimeout {
		t.Errorf("verdict = %s, want timeout", res.Verdict)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("run took %s after a 500ms deadline", d)
	}
	b, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	// The child is reaped by init once killed; give that a moment.
	deadline := time.Now().Add(5 * time.Second)
	for syscall.Kill(pid, 0) == nil {
		if time.Now().After(deadline) {
			t.Fatalf("child %d of the emulator survived the deadline", pid)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestRunMissingBinary(t *testing.T) {
	t.Parallel()
	_, err := Run(context.Background(), Config{QEMU: filepath.Join(t.TempDir(), "no-qemu"), Kernel: "k"})
	if err == nil {
		t.Fatal("want an error for a missing emulator")
	}
}

func TestConfigArgs(t *testing.T) {
	t.Parallel()
	cfg := Config{
		Kernel:    "/cache/vmlinux",
		Initrd:    "/tmp/x/initramfs.cpio",
		Cmdline:   []string{"quiet", "module.sig_enforce=1"},
		Accel:     Accel{Name: "kvm"},
		ShareRoot: "/",
		Disks:     []Disk{{Path: "/cache/image.raw", Snapshot: true}, {Path: "/tmp/o.qcow2", Format: "qcow2"}},
	}
	got := cfg.CommandLine()
	for _, want := range []string{
		"qemu-system-x86_64 -machine pc,accel=kvm -cpu host -m 1024 -smp 1 ",
		"-no-reboot",
		"-device isa-debug-exit,iobase=0xf4,iosize=0x04",
		"-device pvpanic -action panic=exit-failure",
		"-kernel /cache/vmlinux -initrd /tmp/x/initramfs.cpio",
		"-fsdev local,id=hostroot,path=/,security_model=none,readonly=on,multidevs=remap",
		"-drive file=/cache/image.raw,if=none,id=disk0,format=raw,cache=unsafe,snapshot=on -device virtio-blk-pci,drive=disk0",
		"-drive file=/tmp/o.qcow2,if=none,id=disk1,format=qcow2,cache=unsafe -device virtio-blk-pci,drive=disk1",
		"-append 'console=ttyS0 panic=-1 quiet module.sig_enforce=1'",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("command line lacks %q:\n%s", want, got)
		}
	}
	if tcg := (Config{Kernel: "k"}).CommandLine(); !strings.Contains(tcg, "accel=tcg -cpu max") {
		t.Errorf("default accelerator not TCG: %s", tcg)
	}
}

func TestShellQuote(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"plain":         "plain",
		"a b":           "'a b'",
		"":              "''",
		"it's":          `'it'\''s'`,
		"file=x,id=y":   "file=x,id=y",
		"console=ttyS0": "console=ttyS0",
	} {
		if got := shellQuote(in); got != want {
			t.Errorf("shellQuote(%q) = %s, want %s", in, got, want)
		}
	}
}
