package vm

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/cavaliergopher/cpio"
	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"
)

// Initramfs writes a newc cpio archive, the format the kernel unpacks into its
// rootfs. Parent directories are created implicitly, because the kernel refuses
// to create a file whose directory is missing from the archive.
type Initramfs struct {
	w    *cpio.Writer
	dirs map[string]bool
}

// NewInitramfs starts an uncompressed archive on w. Uncompressed costs a few
// megabytes of guest memory but saves the guest decompressing it under TCG.
func NewInitramfs(w io.Writer) *Initramfs {
	return &Initramfs{w: cpio.NewWriter(w), dirs: map[string]bool{"": true, ".": true}}
}

// Dir adds a directory and its missing parents.
func (r *Initramfs) Dir(name string) error {
	name = clean(name)
	if r.dirs[name] {
		return nil
	}
	if err := r.Dir(path.Dir(name)); err != nil {
		return err
	}
	r.dirs[name] = true
	if err := r.w.WriteHeader(&cpio.Header{Name: name, Mode: cpio.TypeDir | 0o755, Links: 2}); err != nil {
		return fmt.Errorf("initramfs dir %s: %w", name, err)
	}
	return nil
}

// File adds a regular file with the given permission bits.
func (r *Initramfs) File(name string, perm os.FileMode, data []byte) error {
	name = clean(name)
	if err := r.Dir(path.Dir(name)); err != nil {
		return err
	}
	hdr := &cpio.Header{Name: name, Mode: cpio.TypeReg | cpio.FileMode(perm.Perm()), Size: int64(len(data))}
	if err := r.w.WriteHeader(hdr); err != nil {
		return fmt.Errorf("initramfs file %s: %w", name, err)
	}
	if _, err := r.w.Write(data); err != nil {
		return fmt.Errorf("initramfs file %s: %w", name, err)
	}
	return nil
}

// CopyFile adds the host file src as name, keeping its permission bits.
func (r *Initramfs) CopyFile(name, src string) error {
	fi, err := os.Stat(src)
	if err != nil {
		return fmt.Errorf("initramfs: %w", err)
	}
	data, err := os.ReadFile(src)
	if err != nil {
		return fmt.Errorf("initramfs: %w", err)
	}
	return r.File(name, fi.Mode(), data)
}

// Symlink adds a symbolic link; newc stores the target as the entry's data.
func (r *Initramfs) Symlink(name, target string) error {
	name = clean(name)
	if err := r.Dir(path.Dir(name)); err != nil {
		return err
	}
	hdr := &cpio.Header{Name: name, Mode: cpio.TypeSymlink | 0o777, Size: int64(len(target))}
	if err := r.w.WriteHeader(hdr); err != nil {
		return fmt.Errorf("initramfs symlink %s: %w", name, err)
	}
	if _, err := r.w.Write([]byte(target)); err != nil {
		return fmt.Errorf("initramfs symlink %s: %w", name, err)
	}
	return nil
}

// Tree adds the host directory src and everything below it as dst, keeping
// permission bits and symbolic links (a dkms tree's source link must stay a
// link).
func (r *Initramfs) Tree(dst, src string) error {
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return fmt.Errorf("initramfs tree: %w", err)
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		name := path.Join(dst, filepath.ToSlash(rel))
		switch {
		case d.IsDir():
			return r.Dir(name)
		case d.Type()&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return fmt.Errorf("initramfs tree: %w", err)
			}
			return r.Symlink(name, target)
		case d.Type().IsRegular():
			return r.CopyFile(name, p)
		}
		return fmt.Errorf("initramfs tree: %s: unsupported file type %s", p, d.Type())
	})
}

// Module adds the kernel module at host path src as name, decompressing .ko.xz,
// .ko.zst and .ko.gz on the way: busybox's insmod may lack decompression
// support, and a plain .ko loads everywhere. name keeps its .ko suffix.
func (r *Initramfs) Module(name, src string) error {
	data, err := ReadModule(src)
	if err != nil {
		return fmt.Errorf("initramfs: %w", err)
	}
	return r.File(name, 0o644, data)
}

// Close writes the trailer. The underlying writer is not closed.
func (r *Initramfs) Close() error {
	if err := r.w.Close(); err != nil {
		return fmt.Errorf("initramfs trailer: %w", err)
	}
	return nil
}

func clean(name string) string {
	return strings.TrimPrefix(path.Clean("/"+name), "/")
}

// ReadModule returns the uncompressed ELF bytes of a kernel module file.
func ReadModule(src string) ([]byte, error) {
	f, err := os.Open(src)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var rd io.Reader
	switch filepath.Ext(src) {
	case ".ko":
		rd = f
	case ".xz":
		x, err := xz.NewReader(bufio.NewReader(f))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", src, err)
		}
		rd = x
	case ".zst":
		z, err := zstd.NewReader(f)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", src, err)
		}
		defer z.Close()
		rd = z
	case ".gz":
		z, err := gzip.NewReader(f)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", src, err)
		}
		rd = z
	default:
		return nil, fmt.Errorf("%s: not a kernel module file name", src)
	}
	data, err := io.ReadAll(rd)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", src, err)
	}
	if !bytes.HasPrefix(data, []byte("\x7fELF")) {
		return nil, fmt.Errorf("%s: not an ELF module", src)
	}
	return data, nil
}
