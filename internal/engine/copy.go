package engine

import (
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"syscall"
)

// copyTree copies the contents of src into dst like `cp -a src/. dst`:
// modes, ownership, times and symlinks are kept, same-named files are
// overwritten and unrelated files in dst stay.
func copyTree(src, dst string) error {
	// A directory's times and mode are set once everything below it has
	// been written, as writing into it would change them again.
	type dirMeta struct {
		path string
		info os.FileInfo
	}
	var dirs []dirMeta
	defer func() {
		for i := len(dirs) - 1; i >= 0; i-- {
			keepMeta(dirs[i].path, dirs[i].info)
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
			if err := os.MkdirAll(target, 0o755); err != nil {
				return err
			}
			dirs = append(dirs, dirMeta{target, info})
			return nil
		case info.Mode()&os.ModeSymlink != 0:
			link, err := os.Readlink(p)
			if err != nil {
				return err
			}
			os.Remove(target)
			if err := os.Symlink(link, target); err != nil {
				return err
			}
			keepOwner(target, info, true)
			return nil
		case info.Mode().IsRegular():
			if err := copyFile(p, target, info.Mode().Perm()); err != nil {
				return err
			}
			keepMeta(target, info)
			return nil
		}
		return nil
	})
}

// copyFile writes src to dst through a temporary file in the same
// directory, so a reader never sees a half-written dst.
func copyFile(src, dst string, mode os.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	tmp, err := os.CreateTemp(filepath.Dir(dst), ".dkms-copy-*")
	if err != nil {
		return err
	}
	if _, err := io.Copy(tmp, in); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return err
	}
	if err := tmp.Close(); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	os.Chmod(tmp.Name(), mode)
	if err := os.Rename(tmp.Name(), dst); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	return nil
}

func keepMeta(target string, info os.FileInfo) {
	os.Chmod(target, info.Mode().Perm()|info.Mode()&(os.ModeSetuid|os.ModeSetgid|os.ModeSticky))
	keepOwner(target, info, false)
	os.Chtimes(target, time.Now(), info.ModTime())
}

func keepOwner(target string, info os.FileInfo, link bool) {
	st, ok := info.Sys().(*syscall.Stat_t)
	if !ok || os.Geteuid() != 0 {
		return
	}
	if link {
		os.Lchown(target, int(st.Uid), int(st.Gid))
		return
	}
	os.Chown(target, int(st.Uid), int(st.Gid))
}
