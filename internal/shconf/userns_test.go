package shconf

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// nsAttackC is a program a module could ship and a conf run through
// find -exec: it asks for a user namespace (every capability inside it)
// by each system call that makes one, joins the user and mount namespaces
// given as files (a container's, which root made, pinned by a file or seen
// in /proc) when it has them, tries with what it got to make the mounts
// writable again, and writes the sentinel. Each attempt prints one line
// ending in "ok" or the error.
const nsAttackC = `#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/mount.h>
#include <linux/sched.h>

static int got;
static void say(const char *what, long r) {
	printf("%s: %s\n", what, r == 0 ? "ok" : strerror(errno));
	if (r == 0) got = 1;
}
static void child(const char *what, long pid) {
	if (pid == 0) _exit(0);
	if (pid > 0) { waitpid(pid, 0, 0); pid = 0; }
	printf("%s: %s\n", what, pid == 0 ? "ok" : strerror(errno));
}

int main(int argc, char **argv) {
	const char *sentinel = argv[1], *dir = argv[2];
	child("clone", syscall(SYS_clone, CLONE_NEWUSER | SIGCHLD, 0, 0, 0, 0));
	struct clone_args ca = {.flags = CLONE_NEWUSER, .exit_signal = SIGCHLD};
	child("clone3", syscall(SYS_clone3, &ca, sizeof ca));
	if (argc > 4) {
		int u = open(argv[3], O_RDONLY), m = open(argv[4], O_RDONLY);
		if (u < 0 || m < 0) printf("open namespaces: %s\n", strerror(errno));
		say("setns user", setns(u, CLONE_NEWUSER));
		say("setns mount", setns(m, CLONE_NEWNS));
	}
	say("unshare", unshare(CLONE_NEWUSER | CLONE_NEWNS));
	if (got) {
		struct mount_attr rw = {.attr_clr = MOUNT_ATTR_RDONLY};
		say("remount / rw", mount(NULL, "/", NULL, MS_REMOUNT | MS_BIND, NULL));
		say("mount_setattr / rw", syscall(SYS_mount_setattr, AT_FDCWD, "/", AT_RECURSIVE, &rw, sizeof rw));
		say("bind", mount(dir, dir, NULL, MS_BIND, NULL));
		say("bind rw", mount(NULL, dir, NULL, MS_REMOUNT | MS_BIND, NULL));
		long t = syscall(SYS_open_tree, AT_FDCWD, dir, OPEN_TREE_CLONE | AT_RECURSIVE);
		if (t >= 0) {
			say("detached rw", syscall(SYS_mount_setattr, t, "", AT_EMPTY_PATH | AT_RECURSIVE, &rw, sizeof rw));
			say("detached write", openat(t, strrchr(sentinel, '/') + 1, O_WRONLY | O_TRUNC) < 0 ? -1 : 0);
		}
	}
	int fd = open(sentinel, O_WRONLY | O_TRUNC);
	say("write", fd < 0 ? -1 : 0);
	if (fd >= 0) write(fd, "pwned\n", 6);
	return 0;
}
`

// pinnedEnv marks the run of TestUserNamespaceDenied in a mount namespace
// of its own, where it pins a user namespace to files.
const pinnedEnv = "DKMS_SHCONF_TEST_PINNED"

// TestUserNamespaceDenied: a program a conf runs (through find -exec) can
// make no user namespace, by unshare(1), unshare(2), clone or clone3, and
// join none (setns), so it gets no capability back to undo the read-only
// mounts with; in each confinement that runs programs (namespaces with
// Landlock, the mounts alone, Landlock alone) nothing is written. Before
// the seccomp filter denied them, each way to a user namespace worked from
// the jail (and joining one that root made gave every capability in it);
// the locked read-only mounts and Landlock held the writes. A second run
// in a mount namespace of its own pins a user namespace root made, and its
// mount namespace, to files, as a container runtime may, for setns to try.
func TestUserNamespaceDenied(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root (the namespace jail)")
	}
	pinned := os.Getenv(pinnedEnv) == "1"
	unshare, err := exec.LookPath("unshare")
	if err != nil {
		t.Skip("unshare(1) not installed")
	}
	var compiled []byte // the attack program, when gcc can build it
	if gcc, err := exec.LookPath("gcc"); err != nil {
		t.Log("gcc not installed: no rows for the system calls themselves")
	} else {
		src := filepath.Join(t.TempDir(), "nsattack.c")
		attack := filepath.Join(t.TempDir(), "nsattack")
		if err := os.WriteFile(src, []byte(nsAttackC), 0o644); err != nil {
			t.Fatal(err)
		}
		if out, err := exec.Command(gcc, "-o", attack, src).CombinedOutput(); err != nil {
			t.Fatalf("gcc: %v\n%s", err, out)
		}
		if compiled, err = os.ReadFile(attack); err != nil {
			t.Fatal(err)
		}
	}
	var nsFiles []string
	if pinned {
		nsFiles = pinUserNamespace(t, unshare)
	}

	for _, mode := range []struct {
		name       string
		noNS, noLL bool
	}{
		{"namespaces and Landlock", false, false},
		{"namespaces, mounts alone", false, true},
		{"Landlock alone", true, false},
	} {
		t.Run(mode.name, func(t *testing.T) {
			if v, err := landlockABI(); mode.noNS && (err != nil || v < 1) {
				t.Skip("no Landlock in this kernel")
			}
			forceNoNS.Store(mode.noNS)
			forceNoLL.Store(mode.noLL)
			defer forceNoNS.Store(false)
			defer forceNoLL.Store(false)

			a := newAttackEnv(t)
			out := writeAttackHeld(t, a, "userns-remount.conf", nil)["X"].Index(0)
			for _, opts := range []string{"-U -r -m", "-U -m", "-U -r -m -p -f --mount-proc", "-U -m -p -f --mount-proc"} {
				if !strings.Contains(out, "unshare "+opts+": failed") {
					t.Errorf("unshare %s did not fail: %q", opts, out)
				}
			}
			if !strings.Contains(out, "unshare failed: Operation not permitted") || strings.Contains(out, ": ok") {
				t.Errorf("unshare(1) in the jail: %q, want every namespace refused (EPERM) and no attempt ok", out)
			}

			if compiled == nil {
				return
			}
			if err := os.WriteFile(filepath.Join(a.src, "nsattack"), compiled, 0o755); err != nil {
				t.Fatal(err)
			}
			out = writeAttackHeld(t, a, "userns-syscalls.conf", map[string]string{"NSFILES": strings.Join(nsFiles, " ")})["X"].Index(0)
			want := []string{"clone: Operation not permitted", "clone3: Function not implemented",
				"unshare: Operation not permitted", "write: Read-only file system"}
			if mode.noNS {
				want[3] = "write: Permission denied" // Landlock's answer
			}
			if pinned {
				want = append(want, "setns user: Operation not permitted", "setns mount: Operation not permitted")
			}
			for _, w := range want {
				if !strings.Contains(out, w) {
					t.Errorf("nsattack: no %q in its output (its lines joined by the copy-back): %s", w, out)
				}
			}
			if strings.Contains(out, ": ok") {
				t.Errorf("nsattack: an attempt succeeded: %s", out)
			}
		})
	}

	if !pinned {
		t.Run("pinned", func(t *testing.T) {
			self, err := os.Executable()
			if err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command(unshare, "-m", "--propagation", "private", self,
				"-test.run", "^TestUserNamespaceDenied$", "-test.count=1", "-test.v")
			cmd.Env = append(os.Environ(), pinnedEnv+"=1")
			cmd.Dir, _ = os.Getwd()
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("the run with a pinned user namespace: %v\n%s", err, out)
			}
			t.Logf("%s", out)
		})
	}
}

// pinUserNamespace makes a user namespace (root inside is root outside)
// and a mount namespace it owns, as a container runtime does, binds them
// to two files and returns their paths; they are unmounted at the end of
// the test. Binding the mount namespace fails with EINVAL when the new
// namespace's id is not above that of the one binding it (the kernel's
// loop check). On Linux 6.18 here a run failed all ten tries (4
// December) and the next passed: the likely cause, not confirmed in the
// kernel's source, is ids handed out in per-CPU batches, so that on one
// CPU a new namespace keeps an id below the test's own. The attempts
// therefore go round the CPUs with taskset (30 of 30 runs passed so).
func pinUserNamespace(t *testing.T, unshare string) []string {
	t.Helper()
	taskset, err := exec.LookPath("taskset")
	if err != nil {
		t.Fatalf("taskset (util-linux) is needed to pin a namespace on each CPU in turn: %v", err)
	}
	var out []byte
	for i := range 4 * runtime.NumCPU() {
		dir := t.TempDir()
		files := []string{filepath.Join(dir, "user"), filepath.Join(dir, "mnt")}
		for _, f := range files {
			if err := os.WriteFile(f, nil, 0o644); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = unix.Unmount(f, unix.MNT_DETACH) })
		}
		out, err = exec.Command(taskset, "-c", strconv.Itoa(i%runtime.NumCPU()), unshare, "--user="+files[0],
			"--mount="+files[1], "-r", "--propagation", "private", "true").CombinedOutput()
		if err == nil {
			return files
		}
		for _, f := range files {
			_ = unix.Unmount(f, unix.MNT_DETACH)
		}
	}
	t.Fatalf("pinning a user namespace and its mount namespace: %s", out)
	return nil
}
