// Package fsops holds every change dkms makes to the trees and the small
// file tests around them. Each change is a fault point of the crash
// harness (internal/fault), and each error is an *os.PathError or
// *os.LinkError, whose text names the operation and the file.
package fsops

import (
	"errors"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/dkms-go/dkms/internal/fault"
	"golang.org/x/sys/unix"
)

// TmpPrefix starts the name of every temporary file or directory dkms
// makes in the trees. The next run that takes the tree lock deletes what a
// killed run left under that name (the engine's sweepTemporaries).
const TmpPrefix = ".dkms-tmp-"

func MkdirAll(p string) error {
	if IsDir(p) {
		return nil
	}
	fault.Point("mkdir", p)
	return os.MkdirAll(p, 0o755)
}

// RemoveFile deletes a file or an empty directory; one that is already
// gone is no error.
func RemoveFile(p string) error {
	fault.Point("remove", p)
	if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

// RemoveIfEmpty deletes the directory p when it is empty.
func RemoveIfEmpty(p string) error {
	fault.Point("rmdir", p)
	err := unix.Rmdir(p)
	if err == nil || errors.Is(err, unix.ENOTEMPTY) || errors.Is(err, unix.EEXIST) || errors.Is(err, unix.ENOENT) {
		return nil
	}
	return &os.PathError{Op: "rmdir", Path: p, Err: err}
}

func RemoveTree(p string) error {
	fault.Point("removeall", p)
	return os.RemoveAll(p)
}

func RenamePath(from, to string) error {
	fault.Point("rename", to)
	return os.Rename(from, to)
}

func SymlinkAt(target, link string) error {
	fault.Point("symlink", link)
	return os.Symlink(target, link)
}

func WriteFile(p string, b []byte, mode os.FileMode) error {
	fault.Point("write", p)
	return os.WriteFile(p, b, mode)
}

// DropTemp deletes a temporary of this run after a failure that is being
// reported. Its own failure needs no report: the temporary carries the
// prefix, and the next run that takes the lock deletes it.
func DropTemp(p string) {
	if err := os.RemoveAll(p); err != nil {
		return // swept later
	}
}

// TempPath names a new temporary entry in dir: the prefix, what it is for
// and six random letters.
func TempPath(dir, what string) string {
	const chars = "abcdefghijklmnopqrstuvwxyz0123456789"
	b := make([]byte, 6)
	for i := range b {
		b[i] = chars[rand.IntN(len(chars))]
	}
	return dir + "/" + TmpPrefix + what + "-" + string(b)
}

// WriteFileAtomic writes p through a temporary file in its directory.
func WriteFileAtomic(p string, b []byte, mode os.FileMode) error {
	tmp := TempPath(filepath.Dir(p), "w")
	if err := WriteFile(tmp, b, mode); err != nil {
		return err
	}
	if err := RenamePath(tmp, p); err != nil {
		DropTemp(tmp)
		return err
	}
	return nil
}

// SymlinkAtomic points link at target, replacing what link was, so a
// reader sees the old entry or the new link and nothing in between. The
// temporary link is made in tmpDir ("" for link's directory), on the same
// file system.
func SymlinkAtomic(target, link, tmpDir string) error {
	if tmpDir == "" {
		tmpDir = filepath.Dir(link)
	}
	tmp := TempPath(tmpDir, "link")
	if err := SymlinkAt(target, tmp); err != nil {
		return err
	}
	if err := RenamePath(tmp, link); err != nil {
		DropTemp(tmp)
		return err
	}
	return nil
}

// RemoveTreeAtomic deletes the directory p so that it disappears at once:
// it is renamed to a temporary name beside it first, which the sweep of
// the next run deletes if this one is killed half-way.
func RemoveTreeAtomic(p string) error {
	if _, err := os.Lstat(p); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	tmp := TempPath(filepath.Dir(p), "del")
	if err := RenamePath(p, tmp); err != nil {
		return err
	}
	return RemoveTree(tmp)
}

func IsDir(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.IsDir()
}

func IsRegular(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.Mode().IsRegular()
}

func IsSymlink(p string) bool {
	st, err := os.Lstat(p)
	return err == nil && st.Mode()&os.ModeSymlink != 0
}

func Exists(p string) bool {
	_, err := os.Lstat(p)
	return err == nil
}

// ReadDirNames lists directory entries sorted in byte order, without hidden
// ones, as a shell glob does in the C locale.
func ReadDirNames(dir string) []string {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	names := make([]string, 0, len(ents))
	for _, de := range ents {
		if strings.HasPrefix(de.Name(), ".") {
			continue
		}
		names = append(names, de.Name())
	}
	sort.Strings(names)
	return names
}

// RemoveEmptyParents deletes now-empty directories from dir upwards, never
// reaching stop.
func RemoveEmptyParents(dir, stop string) {
	stop = filepath.Clean(stop)
	for d := filepath.Clean(dir); d != stop && strings.HasPrefix(d, stop+"/"); d = filepath.Dir(d) {
		fault.Point("rmdir", d)
		if unix.Rmdir(d) != nil {
			return // not empty (or not there): the parents are not either
		}
	}
}

// RemoveEmptyDirs deletes every empty directory below root, deepest first,
// and root itself if it ends up empty. It returns the first failure other
// than a directory that is not empty.
func RemoveEmptyDirs(root string) error {
	var dirs []string
	filepath.WalkDir(root, func(p string, de fs.DirEntry, err error) error {
		if err == nil && de.IsDir() {
			dirs = append(dirs, p)
		}
		return nil
	})
	var first error
	for i := len(dirs) - 1; i >= 0; i-- {
		if err := RemoveIfEmpty(dirs[i]); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// HasSubdir reports whether dir has at least one subdirectory.
func HasSubdir(dir string) bool {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return false
	}
	for _, de := range ents {
		if de.IsDir() {
			return true
		}
	}
	return false
}

// IsRealDir is a directory that is not a symbolic link.
func IsRealDir(p string) bool {
	st, err := os.Lstat(p)
	return err == nil && st.IsDir()
}
