// Package statuscache is the cache behind a fast `dkms status`: the
// module records of dkms.conf reads, whether installed modules differ
// from their built copies, and directory listings of the tree, kept in a
// private binary file (file.go) and revalidated by file identity (FileID)
// on every read. What a key means is up to the caller (internal/engine);
// the cache only stores, looks up, prunes and saves.
package statuscache

import (
	"crypto/sha256"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/dkms-go/dkms/internal/dkmsconf"
)

// Cache remembers the module records of dkms.conf reads that
// depend on nothing but the files' text and known variables
// (dkmsconf.Pure), so `dkms status` need not evaluate hundreds of confs
// again. It lives in <dkms_tree>/.status-cache (paths.StatusCache); a stale or unreadable
// cache is simply ignored, and status still re-reads any conf whose files
// or variables changed.
type Cache struct {
	path    string
	old     string // the cache file of earlier versions, removed on save
	root    string // <dkms_tree>: its listing changes with every save, so it is not kept
	entries map[string]cacheEntry
	// diffs remembers whether an installed module differed from its built
	// copy, keyed by the identity of every file involved.
	diffs map[string]bool
	// dirs are directory listings by path (dir.go).
	dirs  map[string]*Listing
	dirty bool
	mu    sync.Mutex // status walks the tree with two workers
	// used records the keys looked up in this run; a full status keeps
	// only those, so entries of removed modules do not pile up.
	used, usedDirs, usedSets map[string]bool
	now                      time.Time // when the run started: what counts as racy
}

// Records looks up the records of a conf read: the entry of the chain
// (key), then the set for the values its referenced variables have now.
func (c *Cache) Records(key string, values func(refs []string) string) ([]dkmsconf.Record, bool) {
	c.mu.Lock()
	en, ok := c.entries[key]
	c.used[key] = true
	c.mu.Unlock()
	if !ok {
		return nil, false
	}
	vals := values(en.Refs)
	for _, set := range en.Sets {
		if set.Values == vals {
			c.mu.Lock()
			c.usedSets[key+"\x00"+vals] = true
			c.mu.Unlock()
			return set.Records, true
		}
	}
	return nil, false
}

// PutRecords adds the records read for one set of values. Entries are
// replaced, never changed in place: the other worker may be reading one.
func (c *Cache) PutRecords(key string, refs []string, vals string, recs []dkmsconf.Record) {
	c.mu.Lock()
	defer c.mu.Unlock()
	en, ok := c.entries[key]
	if !ok || !slices.Equal(en.Refs, refs) {
		en = cacheEntry{Refs: refs}
	}
	sets := make([]recordSet, 0, len(en.Sets)+1)
	for _, s := range en.Sets {
		if s.Values != vals {
			sets = append(sets, s)
		}
	}
	en.Sets = append(sets, recordSet{Values: vals, Records: recs})
	c.entries[key] = en
	c.used[key] = true
	c.usedSets[key+"\x00"+vals] = true
	c.dirty = true
}

func (c *Cache) Diff(key string) (bool, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	d, ok := c.diffs[key]
	c.used[key] = true
	return d, ok
}

func (c *Cache) PutDiff(key string, d bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.diffs[key] = d
	c.used[key] = true
	c.dirty = true
}

// Prune drops the entries this run did not use (call after a status over
// the whole tree).
func (c *Cache) Prune() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for k, en := range c.entries {
		if !c.used[k] {
			delete(c.entries, k)
			c.dirty = true
			continue
		}
		// Sets of kernels no longer in the tree go too.
		kept := slices.DeleteFunc(slices.Clone(en.Sets), func(s recordSet) bool { return !c.usedSets[k+"\x00"+s.Values] })
		if len(kept) != len(en.Sets) {
			en.Sets = kept
			c.entries[k] = en
			c.dirty = true
		}
	}
	for k := range c.diffs {
		if !c.used[k] {
			delete(c.diffs, k)
			c.dirty = true
		}
	}
	for k := range c.dirs {
		if !c.usedDirs[k] {
			delete(c.dirs, k)
			c.dirty = true
		}
	}
}

// cacheEntry is what is known of one conf chain: the variables it reads,
// and the records it produced for each set of their values (kernels whose
// values are the same share one).
type cacheEntry struct {
	Refs []string
	Sets []recordSet
}

type recordSet struct {
	Values  string
	Records []dkmsconf.Record
}

// Load reads the cache file at path; a missing, stale or damaged file
// gives an empty cache. old is the file of earlier versions, removed on
// save; root is <dkms_tree>, whose own listing is never kept.
func Load(path, old, root string) *Cache {
	c := &Cache{path: path, old: old, root: root, used: map[string]bool{}, usedDirs: map[string]bool{},
		usedSets: map[string]bool{}, now: time.Now()}
	if b, err := os.ReadFile(c.path); err == nil && c.decode(b) == nil {
		return c
	}
	c.entries, c.diffs, c.dirs = map[string]cacheEntry{}, map[string]bool{}, map[string]*Listing{}
	return c
}

// Now is when the run started: file times this close to it are racy.
func (c *Cache) Now() time.Time { return c.now }

// Save writes the cache back when it changed and the tree is writable,
// through a temporary named by tempPattern (os.CreateTemp) beside it;
// failures are ignored (status never needs write access).
func (c *Cache) Save(tempPattern string) {
	if c == nil || !c.dirty {
		return
	}
	// status reports nothing here: a cache it cannot write is not read.
	tmp, err := os.CreateTemp(filepath.Dir(c.path), tempPattern)
	if err != nil {
		return
	}
	tmp.Chmod(0o644) // status is for everyone; the cache holds nothing secret
	_, werr := tmp.Write(c.encode())
	if tmp.Close() != nil || werr != nil || os.Rename(tmp.Name(), c.path) != nil {
		if err := os.Remove(tmp.Name()); err != nil {
			return // the next run that takes the tree lock sweeps it
		}
		return
	}
	if err := os.Remove(c.old); err != nil {
		return // absent, or left to the version that reads it
	}
}

// AppendStatID appends what identifies a file's content cheaply (device,
// inode, size, modification and change times; "-" when absent) and
// reports whether it changed too recently to trust.
func AppendStatID(b []byte, f string, now time.Time) ([]byte, bool) {
	var st syscall.Stat_t
	if syscall.Stat(f, &st) != nil {
		return append(append(b, f...), ":-;"...), false
	}
	id := IDOf(&st)
	return AppendID(append(b, f...), id), id.Racy(now)
}

func AppendID(b []byte, id FileID) []byte {
	b = append(b, ':')
	b = strconv.AppendUint(b, id.Dev, 10)
	b = append(b, ':')
	b = strconv.AppendUint(b, id.Ino, 10)
	b = append(b, ':')
	b = strconv.AppendInt(b, id.Size, 10)
	b = append(b, ':')
	b = strconv.AppendInt(b, id.Mtime, 10)
	b = append(b, ':')
	b = strconv.AppendInt(b, id.Ctime, 10)
	return append(b, ';')
}

// HashKey shortens a cache key to 16 bytes.
func HashKey(b []byte) string {
	h := sha256.Sum256(b)
	return string(h[:16])
}
