package engine

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/dkms-go/dkms/internal/dkmsconf"
)

func newTestCache(now time.Time) *statusCache {
	return &statusCache{Entries: map[string]cacheEntry{}, Diffs: map[string]bool{}, Dirs: map[string]*dirListing{},
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
	l := c.listing(dir)
	if l == nil || !reflect.DeepEqual(l.Names, []string{"a", "f", "l"}) || string(l.Kinds) != "dol" ||
		!reflect.DeepEqual(l.Targets, []string{"", "", "a"}) {
		t.Fatalf("listing: %+v", l)
	}
	if len(c.Dirs) != 0 {
		t.Errorf("a directory changed just now was cached: %v", c.Dirs)
	}
	later := newTestCache(time.Now().Add(2 * racyWindow))
	later.listing(dir)
	if later.Dirs[dir] == nil || !later.dirty {
		t.Fatalf("settled directory not cached")
	}
	os.Mkdir(filepath.Join(dir, "b"), 0o755)
	l = later.listing(dir)
	if !reflect.DeepEqual(l.Names, []string{"a", "b", "f", "l"}) {
		t.Errorf("changed directory listed from the cache: %v", l.Names)
	}
	if later.listing(filepath.Join(dir, "f")) != nil || later.listing(filepath.Join(dir, "missing")) != nil {
		t.Errorf("a file or a missing path has a listing")
	}
}

func TestCacheFileRoundTrip(t *testing.T) {
	t.Parallel()
	c := newTestCache(time.Now())
	c.Entries["k1"] = cacheEntry{Refs: []string{"kernelver", "arch"}, Sets: []recordSet{{Values: "vals",
		Records: []dkmsconf.Record{{BuiltName: "a", BuiltLocation: "src/", DestName: "a2", DestLocation: "/updates", Strip: true}, {DestName: "b"}}},
		{Values: "other"}}}
	c.Entries["k2"] = cacheEntry{}
	c.Diffs["d1"], c.Diffs["d2"] = true, false
	c.Dirs["/x/y"] = &dirListing{ID: fileID{Dev: 1, Ino: 1 << 40, Size: 4096, Mtime: 1700000000123456789, Ctime: 1700000000987654321},
		Names: []string{"1.0", "source"}, Kinds: []byte{kindDir, kindLink}, Targets: []string{"", "/usr/src/x-1.0"}}
	c.Dirs["/empty"] = &dirListing{Names: []string{}, Kinds: []byte{}}
	b := c.encode()
	d := newTestCache(time.Now())
	if err := d.decode(b); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(d.Entries, c.Entries) || !reflect.DeepEqual(d.Diffs, c.Diffs) || !reflect.DeepEqual(d.Dirs, c.Dirs) {
		t.Errorf("round trip:\n%+v\n%+v\n%+v\nwant\n%+v\n%+v\n%+v", d.Entries, d.Diffs, d.Dirs, c.Entries, c.Diffs, c.Dirs)
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
	c.Entries["k"] = cacheEntry{Refs: []string{"r"}, Sets: []recordSet{{Records: []dkmsconf.Record{{DestName: "m"}}}}}
	c.Diffs["d"] = true
	c.Dirs["/d"] = &dirListing{Names: []string{"n", "s"}, Kinds: []byte{kindDir, kindLink}, Targets: []string{"", "t"}}
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
