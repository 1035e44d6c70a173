package engine

import (
	"os"
	"sort"
	"strings"
	"syscall"
	"time"
)

// Listing a directory costs four system calls (open, two getdents, close)
// and several times the time of one stat. Status lists every version and
// kernel directory of the tree on every run, so read-only runs keep the
// listings in the status cache and revalidate each with one stat: a
// directory's modification and change times move whenever an entry is
// added, removed or renamed, and a symlink cannot be retargeted without
// replacing it. Entries whose kind could change behind the directory's back
// (symlinks, unknown types) are stat'ed when used, as before.

// fileID identifies a file's state: same ID, same content for the purposes
// of the caches (a directory's entries, a file's bytes).
type fileID struct {
	Dev, Ino     uint64
	Size         int64
	Mtime, Ctime int64 // nanoseconds
}

func idOf(st *syscall.Stat_t) fileID {
	return fileID{Dev: st.Dev, Ino: st.Ino, Size: st.Size,
		Mtime: st.Mtim.Sec*1e9 + st.Mtim.Nsec, Ctime: st.Ctim.Sec*1e9 + st.Ctim.Nsec}
}

// racyWindow: file times come from a clock that ticks in jiffies, so a
// change made in the same tick as our read can leave them unchanged. An
// ID whose times are this close to the time of the read is not trusted for
// later runs (git's "racily clean" entries have the same cure).
const racyWindow = time.Second

func (id fileID) racy(now time.Time) bool {
	t := max(id.Mtime, id.Ctime)
	return now.UnixNano()-t < int64(racyWindow)
}

// Kinds of cached directory entries.
const (
	kindDir   byte = 'd' // a directory (not a symlink)
	kindOther byte = 'o' // not a directory, and cannot become one without a new entry
	kindLink  byte = 'l' // symlink: stat it when it matters
	kindCheck byte = 'u' // unknown type: lstat and stat it when it matters
)

type dirListing struct {
	ID    fileID
	Names []string // hidden entries excluded, byte order
	Kinds []byte
	// Targets of the symlink entries ("" for others; nil when there are
	// none). A symlink cannot be retargeted in place, only replaced, which
	// changes the directory.
	Targets []string
}

func (l *dirListing) kind(name string) (byte, bool) {
	i := sort.SearchStrings(l.Names, name)
	if i < len(l.Names) && l.Names[i] == name {
		return l.Kinds[i], true
	}
	return 0, false
}

// link returns the target of a symlink entry; ok is false when the entry
// is absent or not a symlink, known false when the listing cannot tell.
func (l *dirListing) link(name string) (target string, ok, known bool) {
	i := sort.SearchStrings(l.Names, name)
	if i == len(l.Names) || l.Names[i] != name {
		return "", false, true
	}
	switch l.Kinds[i] {
	case kindLink:
		return l.Targets[i], true, true
	case kindCheck:
		return "", false, false
	}
	return "", false, true
}

// listDir returns dir's listing, from this run's memo, the status cache
// (when dir's identity is unchanged) or the directory itself; nil when dir
// cannot be listed. Only read-only runs with a cache call it.
func (e *Engine) listDir(dir string) *dirListing {
	if l, ok := e.listed[dir]; ok {
		return l
	}
	l := e.lists.listing(dir)
	if e.listed == nil {
		e.listed = map[string]*dirListing{}
	}
	e.listed[dir] = l
	return l
}

func (c *statusCache) listing(dir string) *dirListing {
	var st syscall.Stat_t
	// The stat comes first: a directory changed between it and the read
	// below is stored under the older identity and read again next time.
	if syscall.Stat(dir, &st) != nil || st.Mode&syscall.S_IFMT != syscall.S_IFDIR {
		return nil
	}
	id := idOf(&st)
	c.mu.Lock()
	l, ok := c.Dirs[dir]
	c.usedDirs[dir] = true
	c.mu.Unlock()
	if ok && l.ID == id {
		return l
	}
	if l = readListing(dir, id, true); l == nil {
		return nil
	}
	if dir != c.root && !id.racy(c.now) {
		c.mu.Lock()
		c.Dirs[dir] = l
		c.dirty = true
		c.mu.Unlock()
	}
	return l
}

// readListing reads dir into a listing with identity id; withTargets
// also reads the target of every symlink (for listings kept in the cache).
func readListing(dir string, id fileID, withTargets bool) *dirListing {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	l := &dirListing{ID: id, Names: make([]string, 0, len(ents)), Kinds: make([]byte, 0, len(ents))}
	for _, de := range ents { // os.ReadDir sorts by name
		n := de.Name()
		if strings.HasPrefix(n, ".") {
			continue
		}
		k := kindOther
		switch t := de.Type(); {
		case t.IsDir():
			k = kindDir
		case t&os.ModeSymlink != 0:
			k = kindLink
		case t&os.ModeType == os.ModeIrregular:
			k = kindCheck
		}
		if k == kindLink && withTargets {
			target, err := os.Readlink(dir + "/" + n)
			if err != nil {
				k = kindCheck // replaced while we looked
			} else {
				if l.Targets == nil {
					l.Targets = make([]string, len(l.Names), cap(l.Names))
				}
				l.Targets = append(l.Targets, target)
			}
		}
		if k != kindLink && l.Targets != nil {
			l.Targets = append(l.Targets, "")
		}
		l.Names = append(l.Names, n)
		l.Kinds = append(l.Kinds, k)
	}
	return l
}

// subdirs returns the names of the listing's entries that are directories
// (following symlinks, like the shell's -d test), in byte order. keep,
// when not nil, filters names before any stat; the entry's type saves a
// stat for all but symlinks and unknown types.
func (l *dirListing) subdirs(dir string, keep func(string) bool) []string {
	var out []string
	for i, n := range l.Names {
		if keep != nil && !keep(n) {
			continue
		}
		switch l.Kinds[i] {
		case kindDir:
			out = append(out, n)
		case kindLink, kindCheck:
			if isDir(dir + "/" + n) {
				out = append(out, n)
			}
		}
	}
	return out
}

// subdirsOf lists the subdirectories of dir (dirListing.subdirs), through
// the listing cache in a read-only run with one.
func (e *Engine) subdirsOf(dir string, keep func(string) bool) []string {
	l := (*dirListing)(nil)
	if e.lists != nil {
		l = e.listDir(dir)
	} else {
		l = readListing(dir, fileID{}, false)
	}
	if l == nil {
		return nil
	}
	return l.subdirs(dir, keep)
}

// listedPlainDir answers plainDir from a listing of p's parent. Inside
// the tree that listing is wanted anyway: the directories a kernel link
// points into are the ones status walks.
func (e *Engine) listedPlainDir(p string) (plain, known bool) {
	i := strings.LastIndexByte(p, '/')
	if i <= 0 {
		return false, false
	}
	l := e.listDir(p[:i])
	if l == nil {
		return false, true
	}
	switch k, _ := l.kind(p[i+1:]); k {
	case kindDir:
		return true, true
	case kindCheck:
		return false, false
	}
	return false, true // absent, a symlink or not a directory
}
