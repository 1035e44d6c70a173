package engine

import (
	"errors"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"

	"github.com/dkms-go/dkms/internal/fault"
	"golang.org/x/sys/unix"
)

// Every change dkms makes to the trees goes through the functions below:
// each is a fault point of the crash harness (internal/fault), and each
// error is an *os.PathError or *os.LinkError, whose text names the
// operation and the file.

// tmpPrefix starts the name of every temporary file or directory dkms
// makes in the trees. The next run that takes the tree lock deletes what a
// killed run left under that name (sweepTemporaries).
const tmpPrefix = ".dkms-tmp-"

func mkdirAll(p string) error {
	if isDir(p) {
		return nil
	}
	fault.Point("mkdir", p)
	return os.MkdirAll(p, 0o755)
}

// removeFile deletes a file or an empty directory; one that is already
// gone is no error.
func removeFile(p string) error {
	fault.Point("remove", p)
	if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

// removeIfEmpty deletes the directory p when it is empty.
func removeIfEmpty(p string) error {
	fault.Point("rmdir", p)
	err := unix.Rmdir(p)
	if err == nil || errors.Is(err, unix.ENOTEMPTY) || errors.Is(err, unix.EEXIST) || errors.Is(err, unix.ENOENT) {
		return nil
	}
	return &os.PathError{Op: "rmdir", Path: p, Err: err}
}

func removeTree(p string) error {
	fault.Point("removeall", p)
	return os.RemoveAll(p)
}

func renamePath(from, to string) error {
	fault.Point("rename", to)
	return os.Rename(from, to)
}

func symlinkAt(target, link string) error {
	fault.Point("symlink", link)
	return os.Symlink(target, link)
}

func writeFile(p string, b []byte, mode os.FileMode) error {
	fault.Point("write", p)
	return os.WriteFile(p, b, mode)
}

// dropTemp deletes a temporary of this run after a failure that is being
// reported. Its own failure needs no report: the temporary carries the
// prefix, and the next run that takes the lock deletes it.
func dropTemp(p string) {
	if err := os.RemoveAll(p); err != nil {
		return // swept later
	}
}

// tempPath names a new temporary entry in dir: the prefix, what it is for
// and six random letters.
func tempPath(dir, what string) string {
	const chars = "abcdefghijklmnopqrstuvwxyz0123456789"
	b := make([]byte, 6)
	for i := range b {
		b[i] = chars[rand.IntN(len(chars))]
	}
	return dir + "/" + tmpPrefix + what + "-" + string(b)
}

// writeFileAtomic writes p through a temporary file in its directory.
func writeFileAtomic(p string, b []byte, mode os.FileMode) error {
	tmp := tempPath(filepath.Dir(p), "w")
	if err := writeFile(tmp, b, mode); err != nil {
		return err
	}
	if err := renamePath(tmp, p); err != nil {
		dropTemp(tmp)
		return err
	}
	return nil
}

// symlinkAtomic points link at target, replacing what link was, so a
// reader sees the old entry or the new link and nothing in between. The
// temporary link is made in tmpDir ("" for link's directory), on the same
// file system.
func symlinkAtomic(target, link, tmpDir string) error {
	if tmpDir == "" {
		tmpDir = filepath.Dir(link)
	}
	tmp := tempPath(tmpDir, "link")
	if err := symlinkAt(target, tmp); err != nil {
		return err
	}
	if err := renamePath(tmp, link); err != nil {
		dropTemp(tmp)
		return err
	}
	return nil
}

// removeTreeAtomic deletes the directory p so that it disappears at once:
// it is renamed to a temporary name beside it first, which the sweep of
// the next run deletes if this one is killed half-way.
func removeTreeAtomic(p string) error {
	if _, err := os.Lstat(p); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	tmp := tempPath(filepath.Dir(p), "del")
	if err := renamePath(p, tmp); err != nil {
		return err
	}
	return removeTree(tmp)
}

// warn reports a failed change of the tree that does not stop the action.
func (e *Engine) warn(err error) {
	if err != nil {
		e.P.Warning(err.Error())
	}
}
