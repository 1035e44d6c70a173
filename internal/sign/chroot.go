package sign

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// policy applies try_sign_modules (delta D12.1) before anything else of
// the preparation: it reports whether to go on, having printed the reason
// when not.
func policy(c Config, out io.Writer) bool {
	switch {
	case c.Try == "false":
		fmt.Fprintln(out, "Module signing is disabled by policy, modules won't be signed")
		return false
	case c.Try != "true" && InChroot(c):
		fmt.Fprintln(out, "Running in chroot, modules won't be signed")
		return false
	}
	return true
}

// InChroot is upstream's chroot test: fakechroot's variables, a mount
// namespace other than PID 1's, or (as root) a root directory other than
// PID 1's. A root process that cannot examine /proc/1/root counts as in a
// chroot, as upstream decides; unlike upstream, nothing is printed about
// it (the stat diagnostic names no problem the user can act on).
func InChroot(c Config) bool {
	if v, _ := c.lookupEnv("FAKECHROOT"); v == "true" {
		_, base := c.lookupEnv("FAKECHROOT_BASE")
		if pre, _ := c.lookupEnv("LD_PRELOAD"); base && strings.Contains(pre, "libfakechroot.so") {
			return true
		}
	}
	sys := func(p string) string {
		if c.Root == "" || c.Root == "/" {
			return p
		}
		return filepath.Join(c.Root, p)
	}
	pid1, err1 := os.ReadFile(sys("/proc/1/mountinfo"))
	self, err2 := os.ReadFile(sys("/proc/self/mountinfo"))
	if err1 == nil && err2 == nil && !bytes.Equal(pid1, self) {
		return true
	}
	if c.euid() != 0 {
		return false
	}
	var init, root syscall.Stat_t
	if syscall.Stat(sys("/proc/1/root"), &init) != nil || syscall.Stat(sys("/"), &root) != nil {
		return true
	}
	return init.Dev != root.Dev || init.Ino != root.Ino
}

func (c Config) euid() int {
	if c.geteuid != nil {
		return c.geteuid()
	}
	return os.Geteuid()
}

// lookupEnv reads the environment dkms runs with: Env when given, else the
// process's own.
func (c Config) lookupEnv(name string) (string, bool) {
	if c.Env != nil {
		for i := len(c.Env) - 1; i >= 0; i-- {
			if k, v, ok := strings.Cut(c.Env[i], "="); ok && k == name {
				return v, true
			}
		}
		return "", false
	}
	if c.getenv != nil {
		v := c.getenv(name)
		return v, v != ""
	}
	return os.LookupEnv(name)
}
