package engine

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"sync"
	"syscall"

	"github.com/dkms-project/dkms/internal/dkmsconf"
)

// statusCache remembers the module records of dkms.conf reads that
// depend on nothing but the files' text and known variables
// (dkmsconf.Pure), so `dkms status` need not evaluate hundreds of confs
// again. It lives in <dkms_tree>/.status-cache.json; a stale or unreadable
// cache is simply ignored, and status still re-reads any conf whose files
// or variables changed.
type statusCache struct {
	path    string
	Entries map[string]cacheEntry `json:"entries"`
	// Diffs remembers whether an installed module differed from its built
	// copy, keyed by the identity of every file involved.
	Diffs map[string]bool `json:"diffs"`
	dirty bool
	mu    sync.Mutex // status walks the tree with two workers
	// used records the keys looked up in this run; a full status keeps
	// only those, so entries of removed modules do not pile up.
	used map[string]bool
}

func (c *statusCache) entry(key string) (cacheEntry, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	en, ok := c.Entries[key]
	c.used[key] = true
	return en, ok
}

func (c *statusCache) putEntry(key string, en cacheEntry) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.Entries[key] = en
	c.used[key] = true
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
	for k := range c.Entries {
		if !c.used[k] {
			delete(c.Entries, k)
			c.dirty = true
		}
	}
	for k := range c.Diffs {
		if !c.used[k] {
			delete(c.Diffs, k)
			c.dirty = true
		}
	}
}

type cacheEntry struct {
	Refs    []string          `json:"refs"`
	Values  string            `json:"values"`
	Records []dkmsconf.Record `json:"records"`
}

const cacheFormat = "dkms-status-cache-2"

func (e *Engine) loadStatusCache() *statusCache {
	c := &statusCache{path: e.L.DKMSTree + "/.status-cache.json", Entries: map[string]cacheEntry{}, Diffs: map[string]bool{},
		used: map[string]bool{}}
	if b, err := os.ReadFile(c.path); err == nil {
		var onDisk struct {
			Format  string                `json:"format"`
			Entries map[string]cacheEntry `json:"entries"`
			Diffs   map[string]bool       `json:"diffs"`
		}
		if json.Unmarshal(b, &onDisk) == nil && onDisk.Format == cacheFormat && onDisk.Entries != nil && onDisk.Diffs != nil {
			c.Entries, c.Diffs = onDisk.Entries, onDisk.Diffs
		}
	}
	return c
}

// save writes the cache back when it changed and the tree is writable;
// failures are ignored (status never needs write access).
func (c *statusCache) save() {
	if c == nil || !c.dirty {
		return
	}
	b, err := json.Marshal(map[string]any{"format": cacheFormat, "entries": c.Entries, "diffs": c.Diffs})
	if err != nil {
		return
	}
	tmp, err := os.CreateTemp(strings.TrimSuffix(c.path, "/.status-cache.json"), ".status-cache-*")
	if err != nil {
		return
	}
	tmp.Chmod(0o644) // status is for everyone; the cache holds nothing secret
	_, werr := tmp.Write(b)
	if tmp.Close() != nil || werr != nil || os.Rename(tmp.Name(), c.path) != nil {
		os.Remove(tmp.Name())
	}
}

// fingerprint identifies the chain files of a conf read by their identity
// and modification time (absent files included). The override files of
// /etc/dkms are looked up in one listing of that directory, taken once per
// run, rather than with a stat each.
func (e *Engine) fingerprint(files []string) string {
	if e.etcNames == nil {
		e.etcNames = map[string]bool{}
		if ents, err := os.ReadDir(e.L.EtcDir()); err == nil {
			for _, de := range ents {
				e.etcNames[de.Name()] = true
			}
		}
	}
	etc := e.L.EtcDir() + "/"
	var b strings.Builder
	for i, f := range files {
		if i > 0 && strings.HasPrefix(f, etc) && !e.etcNames[f[len(etc):]] {
			fmt.Fprintf(&b, "%s:-;", f)
			continue
		}
		if id, ok := e.statMemo[f]; ok {
			b.WriteString(id)
			continue
		}
		var one strings.Builder
		statID(&one, f)
		if e.lockFile == nil {
			if e.statMemo == nil {
				e.statMemo = map[string]string{}
			}
			e.statMemo[f] = one.String()
		}
		b.WriteString(one.String())
	}
	return b.String()
}

// statID identifies a file's content cheaply: device, inode, size and
// modification time ("-" when absent).
func statID(b *strings.Builder, f string) {
	var st syscall.Stat_t
	if syscall.Stat(f, &st) != nil {
		fmt.Fprintf(b, "%s:-;", f)
		return
	}
	fmt.Fprintf(b, "%s:%d:%d:%d:%d.%d;", f, st.Dev, st.Ino, st.Size, st.Mtim.Sec, st.Mtim.Nsec)
}

// installedDiffers is the check behind "(Differences between built and
// installed modules)": the installed copy (§7.6 B) is missing or differs
// byte-wise from the built one. Remembered by the identity of the built file
// and of every candidate location.
func (e *Engine) installedDiffers(c *statusCache, r dkmsconf.Record, k, built string) bool {
	var key strings.Builder
	statID(&key, built)
	for _, p := range e.installedCandidates(r, k, built) {
		statID(&key, p)
	}
	id := hashString(key.String())
	if c != nil {
		if d, ok := c.diff(id); ok {
			return d
		}
	}
	inst := e.installedCopy(r, k, built)
	d := inst == "" || !sameFile(inst, built)
	if c != nil {
		c.putDiff(id, d)
	}
	return d
}

func hashString(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:16])
}

// refValues renders the current values of the variables a pure conf reads.
func (e *Engine) refValues(refs []string, vars map[string]string) string {
	var b strings.Builder
	for _, r := range refs {
		if v, ok := vars[r]; ok {
			fmt.Fprintf(&b, "%s=v%q;", r, v)
		} else if v, ok := lookupEnv(e.Env, r); ok {
			fmt.Fprintf(&b, "%s=e%q;", r, v)
		} else {
			fmt.Fprintf(&b, "%s-;", r)
		}
	}
	return hashString(b.String())
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
	if c == nil || len(e.O.Directives) > 0 || e.O.ConfPath != "" || hasDirectiveEnv(e.Env) {
		conf, err := e.readConf(ctx, confRead{m: m, v: v, k: k, a: a, quiet: true})
		if err != nil {
			return nil, false
		}
		return conf.Records, true
	}
	ro := dkmsconf.ReadOptions{Path: e.L.SourceLink(m, v) + "/dkms.conf", EtcDir: e.L.EtcDir(), Module: m, Version: v, Kernel: k, Arch: a}
	files := dkmsconf.Candidates(ro)
	key := hashString(strings.Join([]string{m, v, k, a, e.fingerprint(files)}, "\x00"))
	vars := e.confVars(m, v, k, a)
	if ent, ok := c.entry(key); ok && ent.Values == e.refValues(ent.Refs, vars) {
		return ent.Records, true
	}
	conf, err := e.readConf(ctx, confRead{m: m, v: v, k: k, a: a, quiet: true})
	if err != nil {
		return nil, false
	}
	if refs, pure := dkmsconf.Pure(files); pure {
		c.putEntry(key, cacheEntry{Refs: refs, Values: e.refValues(refs, vars), Records: conf.Records})
	}
	return conf.Records, true
}

func hasDirectiveEnv(env []string) bool {
	for _, kv := range env {
		if strings.HasPrefix(kv, "DKMS_DIRECTIVE") {
			return true
		}
	}
	return false
}
