package statuscache

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/dkms-go/dkms/internal/dkmsconf"
)

func newTestCache(now time.Time) *Cache {
	return &Cache{entries: map[string]cacheEntry{}, diffs: map[string]bool{}, dirs: map[string]*Listing{},
		used: map[string]bool{}, usedDirs: map[string]bool{}, usedSets: map[string]bool{}, now: now}
}

// TestListingRacy: a listing is kept for later runs only once the
// directory's times are older than the racy window, and a kept listing is
// dropped as soon as the directory changes.
func TestListingRacy(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	os.Mkdir(filepath.Join(dir, "a"), 0o755)
	os.WriteFile(filepath.Join(dir, "f"), nil, 0o644)
	os.Symlink("a", filepath.Join(dir, "l"))
	os.Mkdir(filepath.Join(dir, ".hidden"), 0o755)

	c := newTestCache(time.Now())
	l := c.List(dir)
	if l == nil || !reflect.DeepEqual(l.Names, []string{"a", "f", "l"}) || string(l.Kinds) != "dol" ||
		!reflect.DeepEqual(l.Targets, []string{"", "", "a"}) {
		t.Fatalf("listing: %+v", l)
	}
	if len(c.dirs) != 0 {
		t.Errorf("a directory changed just now was cached: %v", c.dirs)
	}
	later := newTestCache(time.Now().Add(2 * racyWindow))
	later.List(dir)
	if later.dirs[dir] == nil || !later.dirty {
		t.Fatalf("settled directory not cached")
	}
	os.Mkdir(filepath.Join(dir, "b"), 0o755)
	l = later.List(dir)
	if !reflect.DeepEqual(l.Names, []string{"a", "b", "f", "l"}) {
		t.Errorf("changed directory listed from the cache: %v", l.Names)
	}
	if later.List(filepath.Join(dir, "f")) != nil || later.List(filepath.Join(dir, "missing")) != nil {
		t.Errorf("a file or a missing path has a listing")
	}
}

func TestCacheFileRoundTrip(t *testing.T) {
	t.Parallel()
	c := newTestCache(time.Now())
	c.entries["k1"] = cacheEntry{Refs: []string{"kernelver", "arch"}, Sets: []recordSet{{Values: "vals",
		Records: []dkmsconf.Record{{BuiltName: "a", BuiltLocation: "src/", DestName: "a2", DestLocation: "/updates", Strip: true}, {DestName: "b"}}},
		{Values: "other"}}}
	c.entries["k2"] = cacheEntry{}
	c.diffs["d1"], c.diffs["d2"] = true, false
	c.dirs["/x/y"] = &Listing{ID: FileID{Dev: 1, Ino: 1 << 40, Size: 4096, Mtime: 1700000000123456789, Ctime: 1700000000987654321},
		Names: []string{"1.0", "source"}, Kinds: []byte{KindDir, KindLink}, Targets: []string{"", "/usr/src/x-1.0"}}
	c.dirs["/empty"] = &Listing{Names: []string{}, Kinds: []byte{}}
	b := c.encode()
	d := newTestCache(time.Now())
	if err := d.decode(b); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(d.entries, c.entries) || !reflect.DeepEqual(d.diffs, c.diffs) || !reflect.DeepEqual(d.dirs, c.dirs) {
		t.Errorf("round trip:\n%+v\n%+v\n%+v\nwant\n%+v\n%+v\n%+v", d.entries, d.diffs, d.dirs, c.entries, c.diffs, c.dirs)
	}
	// Every truncation, and trailing garbage, is refused as a whole.
	for n := range len(b) {
		if err := newTestCache(time.Now()).decode(b[:n]); err == nil {
			t.Fatalf("truncated to %d bytes: decoded", n)
		}
	}
	if err := newTestCache(time.Now()).decode(append(b, 0)); err == nil {
		t.Errorf("trailing byte accepted")
	}
}

// FuzzCacheDecode: the cache file is read by every status run, so any
// bytes must decode or be refused without a panic or a huge allocation.
func FuzzCacheDecode(f *testing.F) {
	c := newTestCache(time.Now())
	c.entries["k"] = cacheEntry{Refs: []string{"r"}, Sets: []recordSet{{Records: []dkmsconf.Record{{DestName: "m"}}}}}
	c.diffs["d"] = true
	c.dirs["/d"] = &Listing{Names: []string{"n", "s"}, Kinds: []byte{KindDir, KindLink}, Targets: []string{"", "t"}}
	f.Add(c.encode())
	f.Add([]byte(cacheMagic + "\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01"))
	f.Fuzz(func(t *testing.T, b []byte) {
		d := newTestCache(time.Now())
		if d.decode(b) == nil {
			if again := newTestCache(time.Now()); again.decode(d.encode()) != nil {
				t.Errorf("re-encoded cache does not decode")
			}
		}
	})
}
