package statuscache

import (
	"encoding/binary"
	"errors"

	"github.com/dkms-go/dkms/internal/dkmsconf"
)

// The status cache file is a private, versioned binary format: status
// reads it on every run, and decoding JSON of a large tree cost more than
// the walk it saves. Strings are a uvarint length and the bytes; a file
// that does not decode completely is ignored as a whole.
const cacheMagic = "dkms-status-cache-6\n"

var errCacheFormat = errors.New("status cache: unknown or damaged format")

func (c *Cache) encode() []byte {
	b := []byte(cacheMagic)
	str := func(s string) { b = append(binary.AppendUvarint(b, uint64(len(s))), s...) }
	num := func(n uint64) { b = binary.AppendUvarint(b, n) }
	flag := func(f bool) {
		if f {
			b = append(b, 1)
		} else {
			b = append(b, 0)
		}
	}
	num(uint64(len(c.entries)))
	for k, en := range c.entries {
		str(k)
		num(uint64(len(en.Refs)))
		for _, r := range en.Refs {
			str(r)
		}
		num(uint64(len(en.Sets)))
		for _, set := range en.Sets {
			str(set.Values)
			num(uint64(len(set.Records)))
			for _, r := range set.Records {
				str(r.BuiltName)
				str(r.BuiltLocation)
				str(r.DestName)
				str(r.DestLocation)
				flag(r.Strip)
				x := r.Exclusive
				str(x.Kernel)
				str(x.KernelMin)
				str(x.KernelMax)
				str(x.Arch)
				str(x.Config)
			}
		}
	}
	num(uint64(len(c.diffs)))
	for k, d := range c.diffs {
		str(k)
		flag(d)
	}
	num(uint64(len(c.dirs)))
	for p, l := range c.dirs {
		str(p)
		num(l.ID.Dev)
		num(l.ID.Ino)
		num(uint64(l.ID.Size))
		num(uint64(l.ID.Mtime))
		num(uint64(l.ID.Ctime))
		num(uint64(len(l.Names)))
		for i, n := range l.Names {
			str(n)
			b = append(b, l.Kinds[i])
			if l.Kinds[i] == KindLink {
				str(l.Targets[i])
			}
		}
	}
	return b
}

// cacheReader decodes from one string, so that every decoded string is a
// slice of it rather than an allocation of its own.
type cacheReader struct {
	s   string
	bad bool
}

func (r *cacheReader) num() uint64 {
	if r.bad {
		return 0
	}
	var n uint64
	for i := 0; i < len(r.s) && i < binary.MaxVarintLen64; i++ {
		c := r.s[i]
		n |= uint64(c&0x7f) << (7 * i)
		if c < 0x80 {
			r.s = r.s[i+1:]
			return n
		}
	}
	r.bad = true
	return 0
}

// count reads a length that must fit in what is left (each item takes at
// least one byte), so a damaged file cannot ask for a huge allocation.
func (r *cacheReader) count() int {
	n := r.num()
	if n > uint64(len(r.s)) {
		r.bad = true
		return 0
	}
	return int(n)
}

func (r *cacheReader) str() string {
	n := r.count()
	if r.bad {
		return ""
	}
	s := r.s[:n]
	r.s = r.s[n:]
	return s
}

func (r *cacheReader) byte() byte {
	if r.bad || len(r.s) == 0 {
		r.bad = true
		return 0
	}
	c := r.s[0]
	r.s = r.s[1:]
	return c
}

func (c *Cache) decode(b []byte) error {
	s := string(b)
	if len(s) < len(cacheMagic) || s[:len(cacheMagic)] != cacheMagic {
		return errCacheFormat
	}
	r := &cacheReader{s: s[len(cacheMagic):]}
	n := r.count()
	entries := make(map[string]cacheEntry, n)
	for range n {
		k := r.str()
		var en cacheEntry
		if nr := r.count(); nr > 0 {
			en.Refs = make([]string, nr)
			for i := range en.Refs {
				en.Refs[i] = r.str()
			}
		}
		if ns := r.count(); ns > 0 {
			en.Sets = make([]recordSet, ns)
			for i := range en.Sets {
				set := &en.Sets[i]
				set.Values = r.str()
				if nr := r.count(); nr > 0 {
					set.Records = make([]dkmsconf.Record, nr)
					for j := range set.Records {
						rec := &set.Records[j]
						rec.BuiltName, rec.BuiltLocation, rec.DestName, rec.DestLocation = r.str(), r.str(), r.str(), r.str()
						rec.Strip = r.byte() == 1
						x := &rec.Exclusive
						x.Kernel, x.KernelMin, x.KernelMax, x.Arch, x.Config = r.str(), r.str(), r.str(), r.str(), r.str()
					}
				}
			}
		}
		if r.bad {
			return errCacheFormat
		}
		entries[k] = en
	}
	n = r.count()
	diffs := make(map[string]bool, n)
	for range n {
		k := r.str()
		diffs[k] = r.byte() == 1
	}
	n = r.count()
	dirs := make(map[string]*Listing, n)
	for range n {
		p := r.str()
		l := &Listing{ID: FileID{Dev: r.num(), Ino: r.num(), Size: int64(r.num()), Mtime: int64(r.num()), Ctime: int64(r.num())}}
		ne := r.count()
		l.Names, l.Kinds = make([]string, ne), make([]byte, ne)
		for i := range ne {
			l.Names[i] = r.str()
			l.Kinds[i] = r.byte()
			if l.Kinds[i] == KindLink {
				if l.Targets == nil {
					l.Targets = make([]string, ne)
				}
				l.Targets[i] = r.str()
			}
		}
		if r.bad {
			return errCacheFormat
		}
		dirs[p] = l
	}
	if r.bad || r.s != "" {
		return errCacheFormat
	}
	c.entries, c.diffs, c.dirs = entries, diffs, dirs
	return nil
}
