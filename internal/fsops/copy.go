package fsops

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/dkms-go/dkms/internal/fault"
)

// CopyTree copies the contents of src into dst like `cp -a src/. dst`:
// modes, ownership, times and symlinks are kept, same-named files are
// overwritten and unrelated files in dst stay. Special files (devices,
// FIFOs, sockets) are skipped.
func CopyTree(src, dst string) error { return copyTree(src, dst, false) }

// CopyTreePortable is CopyTree for what goes into a package: permission
// bits, times and symlinks are kept, but set-ID and sticky bits and the
// owner are not (a package must not install them behind the user's back,
// and its archive records the packager as owner), and a special file is
// an error, since no package can carry it.
func CopyTreePortable(src, dst string) error { return copyTree(src, dst, true) }

func copyTree(src, dst string, portable bool) (err error) {
	// A directory's times and mode are set once everything below it has
	// been written, as writing into it would change them again.
	type dirMeta struct {
		path string
		info os.FileInfo
	}
	var dirs []dirMeta
	defer func() {
		for i := len(dirs) - 1; i >= 0; i-- {
			if merr := keepMeta(dirs[i].path, dirs[i].info, portable); err == nil {
				err = merr
			}
		}
	}()
	return filepath.WalkDir(src, func(p string, de fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		target := filepath.Join(dst, rel)
		info, err := os.Lstat(p)
		if err != nil {
			return err
		}
		switch {
		case info.IsDir():
			if err := MkdirAll(target); err != nil {
				return err
			}
			dirs = append(dirs, dirMeta{target, info})
			return nil
		case info.Mode()&os.ModeSymlink != 0:
			link, err := os.Readlink(p)
			if err != nil {
				return err
			}
			if err := RemoveFile(target); err != nil {
				return err
			}
			if err := SymlinkAt(link, target); err != nil {
				return err
			}
			if portable {
				return nil
			}
			return keepOwner(target, info, true)
		case info.Mode().IsRegular():
			if err := CopyFile(p, target, info.Mode().Perm()); err != nil {
				return err
			}
			return keepMeta(target, info, portable)
		case portable:
			return fmt.Errorf("%s: special files cannot be packaged", p)
		}
		return nil
	})
}

// CopyFile writes src to dst through a temporary file in the same
// directory, so a reader never sees a half-written dst.
func CopyFile(src, dst string, mode os.FileMode) error {
	return CopyFileVia(src, dst, filepath.Dir(dst), mode)
}

// CopyFileVia is CopyFile with the temporary file in tmpDir, which must be
// on dst's file system (else the temporary file goes beside dst).
func CopyFileVia(src, dst, tmpDir string, mode os.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	tmp := TempPath(tmpDir, "copy")
	fault.Point("create", tmp)
	out, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	fault.Point("write", tmp) // a kill here leaves a partial temporary
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		DropTemp(tmp)
		return err
	}
	if err := out.Chmod(mode); err != nil {
		out.Close()
		DropTemp(tmp)
		return err
	}
	if err := out.Close(); err != nil {
		DropTemp(tmp)
		return err
	}
	err = RenamePath(tmp, dst)
	if errors.Is(err, syscall.EXDEV) && tmpDir != filepath.Dir(dst) {
		DropTemp(tmp)
		return CopyFileVia(src, dst, filepath.Dir(dst), mode)
	}
	if err != nil {
		DropTemp(tmp)
		return err
	}
	return nil
}

// keepMeta gives target info's mode and modification time, and unless
// portable its set-ID and sticky bits and its owner.
func keepMeta(target string, info os.FileInfo, portable bool) error {
	mode := info.Mode().Perm()
	if !portable {
		// The owner first: chown clears the set-ID bits the mode then
		// sets, as cp -a orders it.
		if err := keepOwner(target, info, false); err != nil {
			return err
		}
		mode |= info.Mode() & (os.ModeSetuid | os.ModeSetgid | os.ModeSticky)
	}
	if err := os.Chmod(target, mode); err != nil {
		return err
	}
	return os.Chtimes(target, time.Now(), info.ModTime())
}

func keepOwner(target string, info os.FileInfo, link bool) error {
	st, ok := info.Sys().(*syscall.Stat_t)
	if !ok || os.Geteuid() != 0 {
		return nil
	}
	if link {
		return os.Lchown(target, int(st.Uid), int(st.Gid))
	}
	return os.Chown(target, int(st.Uid), int(st.Gid))
}
