package tarball

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Extract unpacks archive into destDir, which must be an existing
// directory. The compression is recognised from the archive's magic bytes
// (gzip, bzip2, xz, zstd, lz4 or none).
//
// The archive is treated as hostile. A first pass reads every header and
// refuses the whole archive (with a *RefusedError naming the member, which
// matches ErrRefused) for: absolute names or ".." components; symbolic
// links that resolve outside destDir, even through other links in the
// archive; hard links to anything but an earlier regular member; devices
// and fifos; members stored below a symbolic link or a file; duplicate
// non-directory entries; members that already exist in destDir; and
// members, sizes or totals beyond lim. Only then is the archive read again
// and written into a private staging directory beside destDir, whose
// content is moved into destDir once everything has been written. Any
// failure (a refusal, a write error, ctx cancellation) leaves destDir as
// it was.
//
// Ownership is not restored: files belong to the caller, since an archive
// must not be able to hand module files to another user. Set-user-ID and
// set-group-ID bits are dropped for the same reason, and so are the group
// and other write bits: what is extracted ends up in /usr/src and the dkms
// tree, where a file any user may change is a file root compiles or loads.
func Extract(ctx context.Context, archive, destDir string, lim Limits) error {
	open := func() (io.ReadCloser, error) { return os.Open(archive) }
	return extract(ctx, archive, open, destDir, lim)
}

// opener opens the archive again for each of the two passes.
type opener func() (io.ReadCloser, error)

// extract is Extract on an archive named archive (for messages) that open
// reads: the fuzz test gives it bytes in memory, so that an execution
// costs microseconds rather than the file writes of a real archive.
func extract(ctx context.Context, archive string, open opener, destDir string, lim Limits) error {
	lim = lim.withDefaults()
	if fi, err := os.Stat(destDir); err != nil {
		return fmt.Errorf("extracting %s: %w", archive, err)
	} else if !fi.IsDir() {
		return fmt.Errorf("extracting %s: %s is not a directory", archive, destDir)
	}
	p, seq, err := firstPass(ctx, open, destDir, lim)
	if err != nil {
		return fmt.Errorf("extracting %s: %w", archive, err)
	}
	for _, m := range p.members {
		top, _, _ := strings.Cut(m.name, "/")
		if _, err := os.Lstat(filepath.Join(destDir, top)); err == nil {
			return fmt.Errorf("extracting %s: %w", archive,
				refuse(m.raw, "%q already exists in %s", top, destDir))
		}
	}

	staging, err := os.MkdirTemp(filepath.Dir(filepath.Clean(destDir)), ".extract-*")
	if err != nil {
		return fmt.Errorf("extracting %s: %w", archive, err)
	}
	defer removeAll(staging)
	if err := secondPass(ctx, open, staging, p, seq); err != nil {
		return fmt.Errorf("extracting %s: %w", archive, err)
	}
	if err := applyMetadata(staging, p); err != nil {
		return fmt.Errorf("extracting %s: %w", archive, err)
	}
	if err := moveInto(staging, destDir); err != nil {
		return fmt.Errorf("extracting %s: %w", archive, err)
	}
	return nil
}

// stamp identifies a header so the second pass can prove it reads the
// same archive the first pass validated.
type stamp struct {
	name, link string
	typ        byte
	size       int64
}

func stampOf(h *tar.Header) stamp {
	return stamp{name: h.Name, link: h.Linkname, typ: h.Typeflag, size: h.Size}
}

// openTar opens the archive and returns a tar reader over its
// decompressed content. finish checks the end of the archive once the tar
// stream ended and releases everything; release releases everything
// without a check, after a failure.
func openTar(ctx context.Context, open opener) (tr *tar.Reader, finish func() error, release func(), err error) {
	f, err := open()
	if err != nil {
		return nil, nil, nil, err
	}
	zr, err := decompressor(ctx, f)
	if err != nil {
		f.Close()
		return nil, nil, nil, err
	}
	released := false
	release = func() {
		if !released {
			released = true
			zr.Close()
			f.Close()
		}
	}
	finish = func() error {
		released = true
		derr := drainTrailing(zr)
		zerr := zr.Close()
		f.Close()
		if err := ctx.Err(); err != nil {
			return err // the decoding program was killed
		}
		if derr != nil {
			return derr
		}
		return zerr
	}
	return tar.NewReader(zr), finish, release, nil
}

// maxTrailing bounds what may follow the end of the tar stream inside the
// compressed one: the zero padding of tar's records (10 KiB by default, 1
// MiB with `tar -b 2048`), far below a bomb's gigabytes.
const maxTrailing = 16 << 20

// drainTrailing reads the decompressed data past the end of the tar
// stream to its end, as GNU tar does, so that the decoder checks the whole
// archive: an external program's exit status and an in-process decoder's
// checksums and framing speak for all of it only once it is read through,
// and a program whose output is left unread dies of SIGPIPE. A truncated
// or corrupt archive whose decoded data happens to end at a member
// boundary reads as a clean, shorter tar stream: only this tells.
func drainTrailing(zr io.Reader) error {
	if _, plain := zr.(plainReader); plain {
		return nil
	}
	n, err := io.Copy(io.Discard, io.LimitReader(zr, maxTrailing+1))
	if err != nil {
		return fmt.Errorf("reading archive: %w", err)
	}
	if n > maxTrailing {
		return fmt.Errorf("reading archive: more than %d MiB of data after the end of the tar stream", maxTrailing>>20)
	}
	return nil
}

// nextHeader returns the next header that describes a file system object,
// skipping PAX global headers (metadata only).
func nextHeader(tr *tar.Reader) (*tar.Header, error) {
	for {
		h, err := tr.Next()
		if err != nil {
			return nil, err
		}
		if h.Typeflag != tar.TypeXGlobalHeader {
			return h, nil
		}
	}
}

// ErrNotArchive is matched by the error of Extract when not one member of
// the file could be read: it is no archive (or no readable one) at all, so
// nothing could have been extracted from it.
var ErrNotArchive = errors.New("not a tar archive")

// notArchive marks err as ErrNotArchive, keeping its text.
type notArchive struct{ err error }

func (n notArchive) Error() string        { return n.err.Error() }
func (n notArchive) Is(target error) bool { return target == ErrNotArchive }
func (n notArchive) Unwrap() error        { return n.err }

func firstPass(ctx context.Context, open opener, destDir string, lim Limits) (*plan, []stamp, error) {
	tr, finish, release, err := openTar(ctx, open)
	if err != nil {
		return nil, nil, notArchive{err}
	}
	defer release()
	p := &plan{byName: map[string]int{}}
	var seq []stamp
	var total int64
	for {
		if err := ctx.Err(); err != nil {
			return nil, nil, err
		}
		h, err := nextHeader(tr)
		if cerr := ctx.Err(); err != nil && cerr != nil {
			return nil, nil, cerr // the decoding program was killed: its output ended early
		}
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			err = fmt.Errorf("reading archive: %w", err)
			if len(seq) == 0 {
				err = notArchive{err}
			}
			return nil, nil, err
		}
		if len(seq) >= lim.MaxMembers {
			return nil, nil, refuse(h.Name, "more than %d members", lim.MaxMembers)
		}
		seq = append(seq, stampOf(h))
		if err := p.add(h, lim, &total); err != nil {
			return nil, nil, err
		}
	}
	if err := finish(); err != nil {
		if len(seq) == 0 {
			err = notArchive{err}
		}
		return nil, nil, err
	}
	if len(seq) == 0 {
		return nil, nil, notArchive{errors.New("reading archive: no members (not a tar archive?)")}
	}
	if err := p.check(destDir); err != nil {
		return nil, nil, err
	}
	return p, seq, nil
}

func secondPass(ctx context.Context, open opener, staging string, p *plan, seq []stamp) error {
	tr, finish, release, err := openTar(ctx, open)
	if err != nil {
		return err
	}
	defer release()
	changed := errors.New("archive changed while it was being extracted")
	for i := 0; ; i++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		h, err := nextHeader(tr)
		if cerr := ctx.Err(); err != nil && cerr != nil {
			return cerr
		}
		if errors.Is(err, io.EOF) {
			if i != len(seq) {
				return changed
			}
			return finish()
		}
		if err != nil {
			return fmt.Errorf("reading archive: %w", err)
		}
		if i >= len(seq) || stampOf(h) != seq[i] {
			return changed
		}
		name, _ := cleanName(h.Name)
		if name == "" {
			continue
		}
		if err := create(tr, staging, p.members[p.byName[name]]); err != nil {
			if cerr := ctx.Err(); cerr != nil {
				return cerr
			}
			return err
		}
	}
}

// create makes one member below staging. Parents the archive does not
// list are created as plain directories, as tar does.
func create(r io.Reader, staging string, m member) error {
	dst := filepath.Join(staging, filepath.FromSlash(m.name))
	if m.kind != kindDir {
		if err := os.MkdirAll(filepath.Dir(dst), 0o700); err != nil {
			return err
		}
	}
	switch m.kind {
	case kindDir:
		return os.MkdirAll(dst, 0o700)
	case kindSymlink:
		return os.Symlink(m.link, dst)
	case kindHardlink:
		return os.Link(filepath.Join(staging, filepath.FromSlash(m.link)), dst)
	}
	f, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL|syscallNoFollow, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.CopyN(f, r, m.size); err != nil {
		f.Close()
		return fmt.Errorf("writing %s: %w", m.raw, err)
	}
	return f.Close()
}

// applyMetadata sets modes and times once all content exists, deepest
// first, so a read-only directory does not block writing its children.
func applyMetadata(staging string, p *plan) error {
	for i := len(p.members) - 1; i >= 0; i-- {
		m := p.members[i]
		if m.kind == kindSymlink || m.kind == kindHardlink {
			continue
		}
		dst := filepath.Join(staging, filepath.FromSlash(m.name))
		perm := fs.FileMode(m.mode) & fs.ModePerm &^ 0o022
		if m.kind == kindDir && m.mode&0o1000 != 0 {
			perm |= fs.ModeSticky
		}
		if err := os.Chmod(dst, perm); err != nil {
			return err
		}
		t := time.Unix(m.mtime, 0)
		if err := os.Chtimes(dst, t, t); err != nil {
			return err
		}
	}
	return nil
}

// moveInto renames every top-level entry of staging into destDir. Renames
// within one file system are atomic, and a failure half way moves the
// entries already placed back out, keeping destDir unchanged.
func moveInto(staging, destDir string) error {
	entries, err := os.ReadDir(staging)
	if err != nil {
		return err
	}
	var moved []string
	for _, e := range entries {
		from, to := filepath.Join(staging, e.Name()), filepath.Join(destDir, e.Name())
		if err := os.Rename(from, to); err != nil {
			for _, n := range moved {
				os.Rename(filepath.Join(destDir, n), filepath.Join(staging, n))
			}
			return err
		}
		moved = append(moved, e.Name())
	}
	return nil
}

// removeAll deletes the staging tree even when the archive gave some of
// its directories modes without owner write permission.
func removeAll(dir string) {
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			os.Chmod(p, 0o700)
		}
		return nil
	})
	os.RemoveAll(dir)
}
