package engine

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"

	"github.com/dkms-go/dkms/internal/fsops"
)

// lock creates the dkms tree if need be and takes its lock (tree.Lock)
// for the rest of the process. status reads without it.
func (e *Engine) lock() error {
	if e.tree.Locked() {
		return nil
	}
	if err := fsops.MkdirAll(e.L.DKMSTree); err != nil {
		return e.P.Die(1, "Could not create the DKMS tree "+e.L.DKMSTree+": "+err.Error())
	}
	if err := e.tree.Lock(); err != nil {
		return e.P.Die(1, "Could not lock "+e.L.LockFile()+": "+err.Error())
	}
	return nil
}

// lockIfWritable takes the lock, and repairs what killed runs left, when
// the tree exists and we may write to it; the action's own gates report
// every other case.
func (e *Engine) lockIfWritable(ctx context.Context) error {
	if fsops.IsDir(e.L.DKMSTree) && e.writable() {
		return e.LockTree(ctx)
	}
	return nil
}

// Unlock releases the tree lock.
func (e *Engine) Unlock() {
	e.tree.Unlock()
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
	out, err := runOutput("ps", "-o", "lstart", "--no-headers", "-p", pid)
	if err != nil {
		return ""
	}
	return strings.TrimSpace(out)
}

func (e *Engine) writeRPMSafeLock(m, v string) {
	pp := grandparent()
	f, err := createMktemp(e.TmpLocation + "/dkms_rpm_safe_upgrade_lock." + pp + ".")
	if err != nil {
		return
	}
	_, err = fmt.Fprintf(f, "%s-%s\n%s\n", m, v, startTime(pp))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	e.warn(err)
}

func (e *Engine) rpmSafeCancel(m, v string) bool {
	pp := grandparent()
	locks, _ := filepath.Glob(e.TmpLocation + "/dkms_rpm_safe_upgrade_lock." + pp + ".*")
	for _, l := range locks {
		b, err := os.ReadFile(l)
		if err != nil {
			continue
		}
		lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
		st := startTime(pp)
		if len(lines) >= 2 && lines[0] == m+"-"+v && st != "" && lines[len(lines)-1] == st {
			e.warn(fsops.RemoveFile(l))
			return true
		}
	}
	return false
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
