package sign

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fakeProc makes <root>/proc as the chroot test reads it: both mountinfo
// files, and /proc/1/root pointing at root itself (so "not a chroot").
func fakeProc(t *testing.T, root, pid1Mounts, selfMounts string) {
	t.Helper()
	put(t, root+"/proc/1/mountinfo", pid1Mounts, 0o444)
	put(t, root+"/proc/self/mountinfo", selfMounts, 0o444)
	if err := os.Symlink(root, root+"/proc/1/root"); err != nil {
		t.Fatal(err)
	}
}

func TestChrootPolicy(t *testing.T) {
	t.Parallel()
	const mounts = "22 27 0:21 / /proc rw - proc proc rw\n"
	const (
		disabled = "Module signing is disabled by policy, modules won't be signed\n"
		chroot   = "Running in chroot, modules won't be signed\n"
		goOn     = "Kernel config {d}/none not found, modules won't be signed\n"
	)
	tests := []struct {
		name  string
		try   string
		euid  int
		env   []string
		setup func(t *testing.T, d string)
		want  string
	}{
		{"false never signs, even outside a chroot", "false", 0, []string{}, nil, disabled},
		{"false is case-sensitive", "False", 0, []string{}, nil, goOn},
		{"true signs in a chroot", "true", 0, []string{}, func(t *testing.T, d string) { os.Remove(d + "/proc/1/root") }, goOn},
		{"unset outside a chroot", "", 0, []string{}, nil, goOn},
		{"not_in_chroot outside a chroot", "not_in_chroot", 0, []string{}, nil, goOn},
		{"other mount namespace", "", 0, []string{}, func(t *testing.T, d string) {
			put(t, d+"/proc/self/mountinfo", mounts+"99 27 0:40 / /tmp rw - tmpfs tmpfs rw\n", 0o444)
		}, chroot},
		{"unreadable mountinfo is no evidence", "", 1000, []string{}, func(t *testing.T, d string) {
			os.Remove(d + "/proc/1/mountinfo")
		}, goOn},
		{"other root directory", "", 0, []string{}, func(t *testing.T, d string) {
			os.Remove(d + "/proc/1/root")
			os.MkdirAll(d+"/elsewhere", 0o755)
			os.Symlink(d+"/elsewhere", d+"/proc/1/root")
		}, chroot},
		{"other root directory is not examined without root", "", 1000, []string{}, func(t *testing.T, d string) {
			os.Remove(d + "/proc/1/root")
			os.MkdirAll(d+"/elsewhere", 0o755)
			os.Symlink(d+"/elsewhere", d+"/proc/1/root")
		}, goOn},
		// Upstream's answer where /proc/1/root cannot be examined (ours
		// prints no stat diagnostic: out is stdout and nothing else is
		// written).
		{"unexaminable /proc/1/root counts as chroot", "whatever", 0, []string{}, func(t *testing.T, d string) {
			os.Remove(d + "/proc/1/root")
		}, chroot},
		{"fakechroot", "", 0, []string{"FAKECHROOT=true", "FAKECHROOT_BASE=", "LD_PRELOAD=/usr/lib/x86_64-linux-gnu/fakechroot/libfakechroot.so"}, nil, chroot},
		{"fakechroot needs FAKECHROOT_BASE set", "", 0, []string{"FAKECHROOT=true", "LD_PRELOAD=libfakechroot.so"}, nil, goOn},
		{"fakechroot needs the library preloaded", "", 0, []string{"FAKECHROOT=true", "FAKECHROOT_BASE=/x", "LD_PRELOAD=libother.so"}, nil, goOn},
		{"fakechroot needs FAKECHROOT exactly true", "", 0, []string{"FAKECHROOT=yes", "FAKECHROOT_BASE=/x", "LD_PRELOAD=libfakechroot.so"}, nil, goOn},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			d := t.TempDir()
			fakeProc(t, d, mounts, mounts)
			if tt.setup != nil {
				tt.setup(t, d)
			}
			euid := tt.euid
			c := Config{Kernel: "6.1.0-test", KernelConfig: d + "/none", Try: tt.try, Root: d, Env: tt.env,
				geteuid: func() int { return euid }}
			var out strings.Builder
			if s := Prepare(context.Background(), c, &out); s != nil {
				t.Fatalf("signer %+v", s)
			}
			if got, want := out.String(), strings.ReplaceAll(tt.want, "{d}", d); got != want {
				t.Errorf("output %q, want %q", got, want)
			}
		})
	}
}

// TestChrootRealProc: on the real /proc, the test answers without
// printing, whatever this machine is.
func TestChrootRealProc(t *testing.T) {
	t.Parallel()
	_, err := os.Stat(filepath.Join("/proc/1/root", "."))
	got := InChroot(Config{Env: []string{}})
	if os.Geteuid() == 0 && err != nil && !got {
		t.Errorf("root that cannot stat /proc/1/root must count as chroot (%v)", err)
	}
}
