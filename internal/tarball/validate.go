package tarball

import (
	"archive/tar"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// ErrRefused is matched (errors.Is) by every refusal of a hostile or
// malformed archive, as opposed to I/O failures.
var ErrRefused = errors.New("archive refused")

// RefusedError names the member that made Extract refuse an archive.
type RefusedError struct {
	Member string // the member name as stored in the archive
	Reason string
}

func (e *RefusedError) Error() string {
	return fmt.Sprintf("refusing archive member %q: %s", e.Member, e.Reason)
}

// Is makes errors.Is(err, ErrRefused) true for every RefusedError.
func (e *RefusedError) Is(target error) bool { return target == ErrRefused }

func refuse(member, format string, args ...any) error {
	return &RefusedError{Member: member, Reason: fmt.Sprintf(format, args...)}
}

// Limits bounds what Extract accepts. A zero or negative field means the
// corresponding DefaultLimits value, so the zero Limits is still safe.
type Limits struct {
	MaxMembers    int   // headers in the archive, directories included
	MaxMemberSize int64 // bytes of one regular file
	MaxTotalSize  int64 // bytes of all regular files together
}

// DefaultLimits returns bounds far above any real module archive (a few
// hundred files and megabytes) yet small enough that a decompression bomb
// cannot fill a disk.
func DefaultLimits() Limits {
	return Limits{MaxMembers: 100000, MaxMemberSize: 1 << 30, MaxTotalSize: 4 << 30}
}

func (l Limits) withDefaults() Limits {
	d := DefaultLimits()
	if l.MaxMembers <= 0 {
		l.MaxMembers = d.MaxMembers
	}
	if l.MaxMemberSize <= 0 {
		l.MaxMemberSize = d.MaxMemberSize
	}
	if l.MaxTotalSize <= 0 {
		l.MaxTotalSize = d.MaxTotalSize
	}
	return l
}

// kind is the subset of tar types Extract will create.
type kind int

const (
	kindDir kind = iota
	kindFile
	kindSymlink
	kindHardlink
)

// member is a validated header: name and link are cleaned, slash
// separated and relative to the extraction root.
type member struct {
	raw   string // name as stored, for messages and the second-pass check
	name  string
	kind  kind
	link  string // symlink target as stored, or cleaned hard-link target
	size  int64
	mode  int64
	mtime int64 // Unix seconds
}

// cleanName turns a stored member name into a root-relative path, or
// explains why it is unacceptable. "" means the archive root itself.
func cleanName(raw string) (string, error) {
	if raw == "" {
		return "", errors.New("empty name")
	}
	if strings.HasPrefix(raw, "/") {
		return "", errors.New("absolute path")
	}
	if strings.ContainsRune(raw, 0) {
		return "", errors.New("name contains a NUL byte")
	}
	for _, c := range strings.Split(raw, "/") {
		if c == ".." {
			return "", errors.New(`path contains a ".." component`)
		}
	}
	name := path.Clean(raw)
	if name == "." {
		return "", nil
	}
	return name, nil
}

// plan is the outcome of the first pass: every member, validated.
type plan struct {
	members []member
	byName  map[string]int // index into members of the entry owning a path
}

// add validates one header against the members seen so far.
func (p *plan) add(h *tar.Header, lim Limits, total *int64) error {
	name, err := cleanName(h.Name)
	if err != nil {
		return refuse(h.Name, "%v", err)
	}
	m := member{raw: h.Name, name: name, mode: h.Mode, mtime: h.ModTime.Unix()}
	switch h.Typeflag {
	case tar.TypeDir:
		m.kind = kindDir
	case tar.TypeReg, tar.TypeGNUSparse: // tar.Reader reports the old '\x00' type as TypeReg
		m.kind = kindFile
		m.size = h.Size
		if h.Size < 0 || h.Size > lim.MaxMemberSize {
			return refuse(h.Name, "size %d exceeds the limit of %d bytes", h.Size, lim.MaxMemberSize)
		}
		*total += h.Size
		if *total > lim.MaxTotalSize {
			return refuse(h.Name, "total size exceeds the limit of %d bytes", lim.MaxTotalSize)
		}
	case tar.TypeSymlink:
		m.kind = kindSymlink
		m.link = h.Linkname
		if h.Linkname == "" {
			return refuse(h.Name, "symbolic link without a target")
		}
	case tar.TypeLink:
		m.kind = kindHardlink
		target, err := cleanName(h.Linkname)
		if err != nil || target == "" {
			return refuse(h.Name, "hard link to %q points outside the archive", h.Linkname)
		}
		i, ok := p.byName[target]
		if !ok {
			return refuse(h.Name, "hard link to %q, which is not an earlier member", h.Linkname)
		}
		if k := p.members[i].kind; k != kindFile && k != kindHardlink {
			return refuse(h.Name, "hard link to %q, which is not a regular file", h.Linkname)
		}
		m.link = target
	case tar.TypeChar, tar.TypeBlock:
		return refuse(h.Name, "device files are not allowed")
	case tar.TypeFifo:
		return refuse(h.Name, "named pipes are not allowed")
	default:
		return refuse(h.Name, "unsupported member type %q", h.Typeflag)
	}
	if name == "" {
		if m.kind != kindDir {
			return refuse(h.Name, "the archive root must be a directory")
		}
		// The root entry ("./") describes destDir itself, which already
		// exists; there is nothing to create for it.
		return nil
	}
	if i, dup := p.byName[name]; dup {
		// Repeated directories merge (tar -r and concatenated archives do
		// this); anything else would silently replace content.
		if p.members[i].kind == kindDir && m.kind == kindDir {
			p.members[i] = m
			return nil
		}
		return refuse(h.Name, "duplicate entry for %q", name)
	}
	p.byName[name] = len(p.members)
	p.members = append(p.members, m)
	return nil
}

// check runs the whole-archive rules that need every member: parents must
// be directories (never a symlink member, which would redirect the write),
// and symlinks must resolve inside the root.
func (p *plan) check(destDir string) error {
	for _, m := range p.members {
		for dir := path.Dir(m.name); dir != "."; dir = path.Dir(dir) {
			i, ok := p.byName[dir]
			if !ok {
				continue
			}
			switch p.members[i].kind {
			case kindDir:
			case kindSymlink:
				return refuse(m.raw, "path goes through the symbolic link %q", p.members[i].raw)
			default:
				return refuse(m.raw, "parent %q is not a directory", p.members[i].raw)
			}
		}
		if m.kind == kindSymlink {
			if err := p.resolve(m, destDir); err != nil {
				return refuse(m.raw, "symbolic link to %q: %v", m.link, err)
			}
		}
	}
	return nil
}

// maxLinkHops matches the kernel's limit on nested symlinks.
const maxLinkHops = 40

// resolve follows the symlink member m through the archive's own symlinks
// the way the kernel would after extraction, and fails if any step climbs
// above the root. Doing this on the member set rather than lexically
// catches chains such as d/s -> .. followed by d/t -> s/../.. .
// Paths the archive does not define are looked up in destDir, so a link
// through a symbolic link already there is refused too.
func (p *plan) resolve(m member, destDir string) error {
	if strings.HasPrefix(m.link, "/") {
		return errors.New("absolute target points outside the destination")
	}
	stack := splitPath(path.Dir(m.name))
	todo := splitPath(m.link)
	hops := 0
	for len(todo) > 0 {
		c := todo[0]
		todo = todo[1:]
		switch c {
		case "", ".":
			continue
		case "..":
			if len(stack) == 0 {
				return errors.New("target resolves outside the destination")
			}
			stack = stack[:len(stack)-1]
			continue
		}
		cur := path.Join(append(append([]string{}, stack...), c)...)
		i, ok := p.byName[cur]
		if !ok {
			if fi, err := os.Lstat(filepath.Join(destDir, filepath.FromSlash(cur))); err == nil && fi.Mode()&fs.ModeSymlink != 0 {
				return fmt.Errorf("target goes through %q, a symbolic link already in the destination", cur)
			}
		}
		if !ok || p.members[i].kind != kindSymlink {
			stack = append(stack, c)
			continue
		}
		if hops++; hops > maxLinkHops {
			return errors.New("too many levels of symbolic links")
		}
		t := p.members[i].link
		if strings.HasPrefix(t, "/") {
			return fmt.Errorf("target goes through %q, an absolute link", cur)
		}
		todo = append(splitPath(t), todo...)
	}
	return nil
}

func splitPath(p string) []string {
	if p == "." || p == "" {
		return nil
	}
	return strings.Split(p, "/")
}
