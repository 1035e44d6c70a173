package engine

import (
	"bytes"
	"context"
	"crypto/sha256"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/dkms-go/dkms/internal/dkmsconf"
	"github.com/dkms-go/dkms/internal/ui"
)

// statusCache remembers the module records of dkms.conf reads that
// depend on nothing but the files' text and known variables
// (dkmsconf.Pure), so `dkms status` need not evaluate hundreds of confs
// again. It lives in <dkms_tree>/.status-cache (paths.StatusCache); a stale or unreadable
// cache is simply ignored, and status still re-reads any conf whose files
// or variables changed.
type statusCache struct {
	path    string
	old     string // the cache file of earlier versions, removed on save
	root    string // <dkms_tree>: its listing changes with every save, so it is not kept
	Entries map[string]cacheEntry
	// Diffs remembers whether an installed module differed from its built
	// copy, keyed by the identity of every file involved.
	Diffs map[string]bool
	// Dirs are directory listings by path (dircache.go).
	Dirs  map[string]*dirListing
	dirty bool
	mu    sync.Mutex // status walks the tree with two workers
	// used records the keys looked up in this run; a full status keeps
	// only those, so entries of removed modules do not pile up.
	used, usedDirs, usedSets map[string]bool
	now                      time.Time // when the run started: what counts as racy
}

// records looks up the records of a conf read: the entry of the chain
// (key), then the set for the values its referenced variables have now.
func (c *statusCache) records(key string, values func(refs []string) string) ([]dkmsconf.Record, bool) {
	c.mu.Lock()
	en, ok := c.Entries[key]
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

// putRecords adds the records read for one set of values. Entries are
// replaced, never changed in place: the other worker may be reading one.
func (c *statusCache) putRecords(key string, refs []string, vals string, recs []dkmsconf.Record) {
	c.mu.Lock()
	defer c.mu.Unlock()
	en, ok := c.Entries[key]
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
	c.Entries[key] = en
	c.used[key] = true
	c.usedSets[key+"\x00"+vals] = true
	c.dirty = true
}

func (c *statusCache) diff(key string) (bool, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	d, ok := c.Diffs[key]
	c.used[key] = true
	return d, ok
}

func (c *statusCache) putDiff(key string, d bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.Diffs[key] = d
	c.used[key] = true
	c.dirty = true
}

// prune drops the entries this run did not use (call after a status over
// the whole tree).
func (c *statusCache) prune() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for k, en := range c.Entries {
		if !c.used[k] {
			delete(c.Entries, k)
			c.dirty = true
			continue
		}
		// Sets of kernels no longer in the tree go too.
		kept := slices.DeleteFunc(slices.Clone(en.Sets), func(s recordSet) bool { return !c.usedSets[k+"\x00"+s.Values] })
		if len(kept) != len(en.Sets) {
			en.Sets = kept
			c.Entries[k] = en
			c.dirty = true
		}
	}
	for k := range c.Diffs {
		if !c.used[k] {
			delete(c.Diffs, k)
			c.dirty = true
		}
	}
	for k := range c.Dirs {
		if !c.usedDirs[k] {
			delete(c.Dirs, k)
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

func (e *Engine) loadStatusCache() *statusCache {
	c := &statusCache{path: e.L.StatusCache(), old: e.L.OldStatusCache(), root: e.L.DKMSTree, used: map[string]bool{}, usedDirs: map[string]bool{},
		usedSets: map[string]bool{}, now: time.Now()}
	if b, err := os.ReadFile(c.path); err == nil && c.decode(b) == nil {
		return c
	}
	c.Entries, c.Diffs, c.Dirs = map[string]cacheEntry{}, map[string]bool{}, map[string]*dirListing{}
	return c
}

// save writes the cache back when it changed and the tree is writable;
// failures are ignored (status never needs write access).
func (c *statusCache) save() {
	if c == nil || !c.dirty {
		return
	}
	// status reports nothing here: a cache it cannot write is not read.
	tmp, err := os.CreateTemp(filepath.Dir(c.path), tmpPrefix+"status-*")
	if err != nil {
		return
	}
	tmp.Chmod(0o644) // status is for everyone; the cache holds nothing secret
	_, werr := tmp.Write(c.encode())
	if tmp.Close() != nil || werr != nil || os.Rename(tmp.Name(), c.path) != nil {
		dropTemp(tmp.Name())
		return
	}
	if err := os.Remove(c.old); err != nil {
		return // absent, or left to the version that reads it
	}
}

// confKey is the cache key of a line's conf read: the module and version
// (and the kernel and arch when /etc/dkms has override files for the
// module), and the identity of every file of the evaluation chain that
// exists (the chain's names follow from those, so absent files need no
// mention). What else the read depends on is in the variables it reads,
// whose values select a record set of the entry. It also reports whether
// a file changed too recently to be trusted later. The override files of
// /etc/dkms are looked up in one listing of that directory, taken once per
// run.
func (e *Engine) confKey(ro dkmsconf.ReadOptions, now time.Time) (string, bool) {
	b := make([]byte, 0, 256)
	for _, s := range []string{ro.Module, ro.Version} {
		b = append(append(b, s...), 0)
	}
	b, racy := e.memoStatID(b, ro.Path, now)
	if e.etcMentions(ro.Module) {
		// Override files may be named for the kernel and arch.
		b = append(append(append(append(b, ro.Kernel...), 0), ro.Arch...), 0)
		etc := e.L.EtcDir() + "/"
		for _, f := range dkmsconf.Candidates(ro)[1:] {
			if strings.HasPrefix(f, etc) && !e.etcNames[f[len(etc):]] {
				continue
			}
			var r bool
			b, r = e.memoStatID(b, f, now)
			racy = racy || r
		}
	}
	return hashKey(b), racy
}

// etcMentions reports whether /etc/dkms has an entry that could be an
// override file of module m (<m>.conf or <m>-...).
func (e *Engine) etcMentions(m string) bool {
	if e.etcNames == nil {
		e.etcNames = map[string]bool{}
		if ents, err := os.ReadDir(e.L.EtcDir()); err == nil {
			for _, de := range ents {
				e.etcNames[de.Name()] = true
			}
		}
	}
	for n := range e.etcNames {
		if strings.HasPrefix(n, m) && len(n) > len(m) && (n[len(m)] == '.' || n[len(m)] == '-') {
			return true
		}
	}
	return false
}

// memoStatID is appendStatID remembered for the run in read-only runs
// (the lines of one version share its dkms.conf).
func (e *Engine) memoStatID(b []byte, f string, now time.Time) ([]byte, bool) {
	if m, ok := e.statMemo[f]; ok {
		return append(b, m.id...), m.racy
	}
	start := len(b)
	b, r := appendStatID(b, f, now)
	if e.lockFile == nil {
		if e.statMemo == nil {
			e.statMemo = map[string]memoID{}
		}
		e.statMemo[f] = memoID{string(b[start:]), r}
	}
	return b, r
}

type memoID struct {
	id   string
	racy bool
}

// appendStatID appends what identifies a file's content cheaply (device,
// inode, size, modification and change times; "-" when absent) and
// reports whether it changed too recently to trust.
func appendStatID(b []byte, f string, now time.Time) ([]byte, bool) {
	var st syscall.Stat_t
	if syscall.Stat(f, &st) != nil {
		return append(append(b, f...), ":-;"...), false
	}
	id := idOf(&st)
	return appendID(append(b, f...), id), id.racy(now)
}

func appendID(b []byte, id fileID) []byte {
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

// installedDiffers is the check behind "(Differences between built and
// installed modules)": the installed copy (§7.6 B) is missing or differs
// byte-wise from the built one. Remembered by the identity of the built file
// (builtID, already stat'ed by the caller) and of the candidate locations
// in order: when the first candidate is the installed copy, the answer
// depends on those two files alone and is remembered under them, so the
// other candidates need no stat next time.
func (e *Engine) installedDiffers(c *statusCache, r dkmsconf.Record, k, built string, builtID fileID) bool {
	cands := e.installedCandidates(r, k, built)
	key := appendID(append(make([]byte, 0, 256), built...), builtID)
	racy := builtID.racy(c.now)
	var rp bool
	key, rp = appendStatID(key, cands[0], c.now)
	racy = racy || rp
	firstKey := hashKey(append(key, "first"...))
	if d, ok := c.diff(firstKey); ok {
		return d
	}
	for _, p := range cands[1:] {
		key, rp = appendStatID(key, p, c.now)
		racy = racy || rp
	}
	id := hashKey(key)
	if d, ok := c.diff(id); ok {
		return d
	}
	inst := e.installedCopy(r, k, built)
	d := inst == "" || !sameFile(inst, built)
	switch {
	case racy:
	case inst == cands[0]:
		c.putDiff(firstKey, d)
	default:
		c.putDiff(id, d)
	}
	return d
}

// hashKey shortens a cache key to 16 bytes.
func hashKey(b []byte) string {
	h := sha256.Sum256(b)
	return string(h[:16])
}

// refValues renders the current values of the variables a pure conf reads.
// vars is called only when there are refs: most confs read none.
func (e *Engine) refValues(refs []string, vars func() map[string]string) string {
	if len(refs) == 0 {
		return ""
	}
	vs := vars()
	var b []byte
	for _, r := range refs {
		if v, ok := vs[r]; ok {
			b = strconv.AppendQuote(append(append(b, r...), "=v"...), v)
		} else if v, ok := lookupEnv(e.Env, r); ok {
			b = strconv.AppendQuote(append(append(b, r...), "=e"...), v)
		} else {
			b = append(append(b, r...), '-')
		}
		b = append(b, ';')
	}
	return hashKey(b)
}

func lookupEnv(env []string, name string) (string, bool) {
	for i := len(env) - 1; i >= 0; i-- {
		if k, v, ok := strings.Cut(env[i], "="); ok && k == name {
			return v, true
		}
	}
	return "", false
}

// statusRecords returns the records of a module's conf for status,
// from the cache when its fingerprint and inputs are unchanged.
func (e *Engine) statusRecords(ctx context.Context, c *statusCache, m, v, k, a string) ([]dkmsconf.Record, bool) {
	if !e.confCacheable(c) {
		conf, err := e.statusConf(ctx, confRead{m: m, v: v, k: k, a: a, quiet: true})
		if err != nil {
			return nil, false
		}
		return conf.Records, true
	}
	q := e.confQuery(c, m, v, k, a)
	if recs, ok := c.records(q.key, q.values); ok {
		return recs, true
	}
	conf, err := e.statusConf(ctx, confRead{m: m, v: v, k: k, a: a, quiet: true})
	if err != nil {
		return nil, false
	}
	if refs, pure := dkmsconf.Pure(dkmsconf.Candidates(q.ro)); pure && !q.racy {
		c.putRecords(q.key, refs, q.values(refs), conf.Records)
	}
	return conf.Records, true
}

// statusConf reads a conf for status, which holds no lock: when the read
// fails because the module was removed meanwhile (its source link is gone),
// the module is gone, not broken, and the read's messages are dropped.
func (e *Engine) statusConf(ctx context.Context, r confRead) (*dkmsconf.Conf, error) {
	var buf bytes.Buffer
	saved := e.P
	e.P = ui.New(saved.Stdout(), &buf)
	c, err := e.readConf(ctx, r)
	e.P = saved
	if err != nil && !exists(e.L.SourceLink(r.m, r.v)) {
		return nil, err
	}
	saved.Stderr().Write(buf.Bytes()) // as the read would have printed it
	return c, err
}

// cachedRecords returns the records of a module's conf only when the
// cache has them: it never evaluates the conf.
func (e *Engine) cachedRecords(c *statusCache, m, v, k, a string) ([]dkmsconf.Record, bool) {
	if !e.confCacheable(c) {
		return nil, false
	}
	q := e.confQuery(c, m, v, k, a)
	return c.records(q.key, q.values)
}

// confCacheable: directives and -c change what a read prints or reads.
func (e *Engine) confCacheable(c *statusCache) bool {
	return c != nil && len(e.O.Directives) == 0 && e.O.ConfPath == "" && !hasDirectiveEnv(e.Env)
}

type confQuery struct {
	ro     dkmsconf.ReadOptions
	key    string
	racy   bool
	values func(refs []string) string
}

func (e *Engine) confQuery(c *statusCache, m, v, k, a string) confQuery {
	q := confQuery{ro: dkmsconf.ReadOptions{Path: e.L.SourceLink(m, v) + "/dkms.conf", EtcDir: e.L.EtcDir(),
		Module: m, Version: v, Kernel: k, Arch: a}}
	q.key, q.racy = e.confKey(q.ro, c.now)
	var vm map[string]string
	vars := func() map[string]string {
		if vm == nil {
			vm = e.confVars(m, v, k, a)
		}
		return vm
	}
	q.values = func(refs []string) string { return e.refValues(refs, vars) }
	return q
}

func hasDirectiveEnv(env []string) bool {
	for _, kv := range env {
		if strings.HasPrefix(kv, "DKMS_DIRECTIVE") {
			return true
		}
	}
	return false
}
