package statuscache

import (
	"os"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/dkms-go/dkms/internal/fsops"
)

// Listing a directory costs four system calls (open, two getdents, close)
// and several times the time of one stat. Status lists every version and
// kernel directory of the tree on every run, so read-only runs keep the
// listings in the status cache and revalidate each with one stat: a
// directory's modification and change times move whenever an entry is
// added, removed or renamed, and a symlink cannot be retargeted without
// replacing it. Entries whose kind could change behind the directory's back
// (symlinks, unknown types) are stat'ed when used, as before.

// FileID identifies a file's state: same ID, same content for the purposes
// of the caches (a directory's entries, a file's bytes).
type FileID struct {
	Dev, Ino     uint64
	Size         int64
	Mtime, Ctime int64 // nanoseconds
}

func IDOf(st *syscall.Stat_t) FileID {
	return FileID{Dev: st.Dev, Ino: st.Ino, Size: st.Size,
		Mtime: st.Mtim.Sec*1e9 + st.Mtim.Nsec, Ctime: st.Ctim.Sec*1e9 + st.Ctim.Nsec}
}

// racyWindow: file times come from a clock that ticks in jiffies, so a
// change made in the same tick as our read can leave them unchanged. An
// ID whose times are this close to the time of the read is not trusted for
// later runs (git's "racily clean" entries have the same cure).
const racyWindow = time.Second

func (id FileID) Racy(now time.Time) bool {
	t := max(id.Mtime, id.Ctime)
	return now.UnixNano()-t < int64(racyWindow)
}

// Kinds of cached directory entries.
const (
	KindDir   byte = 'd' // a directory (not a symlink)
	KindOther byte = 'o' // not a directory, and cannot become one without a new entry
	KindLink  byte = 'l' // symlink: stat it when it matters
	KindCheck byte = 'u' // unknown type: lstat and stat it when it matters
)

type Listing struct {
	ID    FileID
	Names []string // hidden entries excluded, byte order
	Kinds []byte
	// Targets of the symlink entries ("" for others; nil when there are
	// none). A symlink cannot be retargeted in place, only replaced, which
	// changes the directory.
	Targets []string
}

func (l *Listing) Kind(name string) (byte, bool) {
	i := sort.SearchStrings(l.Names, name)
	if i < len(l.Names) && l.Names[i] == name {
		return l.Kinds[i], true
	}
	return 0, false
}

// Link returns the target of a symlink entry; ok is false when the entry
// is absent or not a symlink, known false when the listing cannot tell.
func (l *Listing) Link(name string) (target string, ok, known bool) {
	i := sort.SearchStrings(l.Names, name)
	if i == len(l.Names) || l.Names[i] != name {
		return "", false, true
	}
	switch l.Kinds[i] {
	case KindLink:
		return l.Targets[i], true, true
	case KindCheck:
		return "", false, false
	}
	return "", false, true
}

// List returns dir's listing, from the cache when dir's identity is
// unchanged, else read from dir and kept when not racy; nil when dir
// cannot be listed.
func (c *Cache) List(dir string) *Listing {
	var st syscall.Stat_t
	// The stat comes first: a directory changed between it and the read
	// below is stored under the older identity and read again next time.
	if syscall.Stat(dir, &st) != nil || st.Mode&syscall.S_IFMT != syscall.S_IFDIR {
		return nil
	}
	id := IDOf(&st)
	c.mu.Lock()
	l, ok := c.dirs[dir]
	c.usedDirs[dir] = true
	c.mu.Unlock()
	if ok && l.ID == id {
		return l
	}
	if l = ReadListing(dir, id, true); l == nil {
		return nil
	}
	if dir != c.root && !id.Racy(c.now) {
		c.mu.Lock()
		c.dirs[dir] = l
		c.dirty = true
		c.mu.Unlock()
	}
	return l
}

// ReadListing reads dir into a listing with identity id; withTargets
// also reads the target of every symlink (for listings kept in the cache).
func ReadListing(dir string, id FileID, withTargets bool) *Listing {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	l := &Listing{ID: id, Names: make([]string, 0, len(ents)), Kinds: make([]byte, 0, len(ents))}
	for _, de := range ents { // os.ReadDir sorts by name
		n := de.Name()
		if strings.HasPrefix(n, ".") {
			continue
		}
		k := KindOther
		switch t := de.Type(); {
		case t.IsDir():
			k = KindDir
		case t&os.ModeSymlink != 0:
			k = KindLink
		case t&os.ModeType == os.ModeIrregular:
			k = KindCheck
		}
		if k == KindLink && withTargets {
			target, err := os.Readlink(dir + "/" + n)
			if err != nil {
				k = KindCheck // replaced while we looked
			} else {
				if l.Targets == nil {
					l.Targets = make([]string, len(l.Names), cap(l.Names))
				}
				l.Targets = append(l.Targets, target)
			}
		}
		if k != KindLink && l.Targets != nil {
			l.Targets = append(l.Targets, "")
		}
		l.Names = append(l.Names, n)
		l.Kinds = append(l.Kinds, k)
	}
	return l
}

// Subdirs returns the names of the listing's entries that are directories
// (following symlinks, like the shell's -d test), in byte order. keep,
// when not nil, filters names before any stat; the entry's type saves a
// stat for all but symlinks and unknown types.
func (l *Listing) Subdirs(dir string, keep func(string) bool) []string {
	var out []string
	for i, n := range l.Names {
		if keep != nil && !keep(n) {
			continue
		}
		switch l.Kinds[i] {
		case KindDir:
			out = append(out, n)
		case KindLink, KindCheck:
			if fsops.IsDir(dir + "/" + n) {
				out = append(out, n)
			}
		}
	}
	return out
}
