// Package rpmsafe is the lock file of --rpm_safe_upgrade (§7.11): add
// leaves one naming the module and the rpm transaction's process, and the
// remove that the same transaction runs next finds it and does nothing, so
// upgrading an rpm-packaged module does not remove the version just added.
package rpmsafe

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"

	"github.com/dkms-go/dkms/internal/fsops"
	"github.com/dkms-go/dkms/internal/proc"
)

// Mark leaves the lock of module m version v in directory tmp for the
// process that started our parent (rpm). A lock that cannot be created is
// no error, as upstream ignores its mktemp failing; a failed write is.
func Mark(tmp, m, v string) error {
	pp := grandparent()
	f, err := createMktemp(tmp + "/dkms_rpm_safe_upgrade_lock." + pp + ".")
	if err != nil {
		return nil
	}
	_, err = fmt.Fprintf(f, "%s-%s\n%s\n", m, v, startTime(pp))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// Cancel reports whether tmp holds a lock of module m version v left for
// the same rpm process, and deletes it; the error is that of the deletion.
func Cancel(tmp, m, v string) (bool, error) {
	pp := grandparent()
	locks, _ := filepath.Glob(tmp + "/dkms_rpm_safe_upgrade_lock." + pp + ".*")
	for _, l := range locks {
		b, err := os.ReadFile(l)
		if err != nil {
			continue
		}
		lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
		st := startTime(pp)
		if len(lines) >= 2 && lines[0] == m+"-"+v && st != "" && lines[len(lines)-1] == st {
			return true, fsops.RemoveFile(l)
		}
	}
	return false, nil
}

// grandparent returns the parent PID of our parent (§7.11 <PP>).
func grandparent() string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", os.Getppid()))
	if err != nil {
		return ""
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "PPid:"); ok {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// startTime is the start time of a process as `ps -o lstart` prints it.
func startTime(pid string) string {
	if pid == "" {
		return ""
	}
	var b bytes.Buffer
	cmd := proc.Command(context.Background(), false, "ps", "-o", "lstart", "--no-headers", "-p", pid)
	cmd.Stdout = &b
	if err := proc.Run(cmd); err != nil {
		return ""
	}
	return strings.TrimSpace(b.String())
}

// createMktemp creates a new file named prefix and six random letters or
// digits, as mktemp's XXXXXX does.
func createMktemp(prefix string) (*os.File, error) {
	const chars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	var err error
	for range 100 {
		b := make([]byte, 6)
		for i := range b {
			b[i] = chars[rand.IntN(len(chars))]
		}
		var f *os.File
		if f, err = os.OpenFile(prefix+string(b), os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600); !os.IsExist(err) {
			return f, err
		}
	}
	return nil, err
}
