package engine

import (
	"bytes"
	"context"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/dkms-go/dkms/internal/dkmsconf"
	"github.com/dkms-go/dkms/internal/fsops"
	"github.com/dkms-go/dkms/internal/statuscache"
	"github.com/dkms-go/dkms/internal/tree"
	"github.com/dkms-go/dkms/internal/ui"
)

// The status cache (internal/statuscache) as status and doctor use it:
// the keys of conf reads and of installed-copy checks, built from the
// identities of the files involved, and the directory listings of a
// read-only run.

// statusTemp names the cache's temporary while it is saved; a killed
// save leaves it for sweepTemporaries.
const statusTemp = fsops.TmpPrefix + "status-*"

func (e *Engine) loadStatusCache() *statuscache.Cache {
	return statuscache.Load(e.L.StatusCache(), e.L.OldStatusCache(), e.L.DKMSTree)
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
	return statuscache.HashKey(b), racy
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

// memoStatID is statuscache.AppendStatID remembered for the run in read-only runs
// (the lines of one version share its dkms.conf).
func (e *Engine) memoStatID(b []byte, f string, now time.Time) ([]byte, bool) {
	if m, ok := e.statMemo[f]; ok {
		return append(b, m.id...), m.racy
	}
	start := len(b)
	b, r := statuscache.AppendStatID(b, f, now)
	if !e.tree.Locked() {
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

// installedDiffers is the check behind "(Differences between built and
// installed modules)": the installed copy (§7.6 B) is missing or differs
// byte-wise from the built one. Remembered by the identity of the built file
// (builtID, already stat'ed by the caller) and of the candidate locations
// in order: when the first candidate is the installed copy, the answer
// depends on those two files alone and is remembered under them, so the
// other candidates need no stat next time.
func (e *Engine) installedDiffers(c *statuscache.Cache, r dkmsconf.Record, k, built string, builtID statuscache.FileID) bool {
	cands := e.installedCandidates(r, k, built)
	key := statuscache.AppendID(append(make([]byte, 0, 256), built...), builtID)
	racy := builtID.Racy(c.Now())
	var rp bool
	key, rp = statuscache.AppendStatID(key, cands[0], c.Now())
	racy = racy || rp
	firstKey := statuscache.HashKey(append(key, "first"...))
	if d, ok := c.Diff(firstKey); ok {
		return d
	}
	for _, p := range cands[1:] {
		key, rp = statuscache.AppendStatID(key, p, c.Now())
		racy = racy || rp
	}
	id := statuscache.HashKey(key)
	if d, ok := c.Diff(id); ok {
		return d
	}
	inst := e.installedCopy(r, k, built)
	d := inst == "" || !tree.SameFile(inst, built)
	switch {
	case racy:
	case inst == cands[0]:
		c.PutDiff(firstKey, d)
	default:
		c.PutDiff(id, d)
	}
	return d
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
	return statuscache.HashKey(b)
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
func (e *Engine) statusRecords(ctx context.Context, c *statuscache.Cache, m, v, k, a string) ([]dkmsconf.Record, bool) {
	if !e.confCacheable(c) {
		conf, err := e.statusConf(ctx, confRead{m: m, v: v, k: k, a: a, quiet: true})
		if err != nil {
			return nil, false
		}
		return conf.Records, true
	}
	q := e.confQuery(c, m, v, k, a)
	if recs, ok := c.Records(q.key, q.values); ok {
		return recs, true
	}
	conf, err := e.statusConf(ctx, confRead{m: m, v: v, k: k, a: a, quiet: true})
	if err != nil {
		return nil, false
	}
	if refs, pure := dkmsconf.Pure(dkmsconf.Candidates(q.ro)); pure && !q.racy {
		c.PutRecords(q.key, refs, q.values(refs), conf.Records)
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
	if err != nil && !fsops.Exists(e.L.SourceLink(r.m, r.v)) {
		return nil, err
	}
	saved.Stderr().Write(buf.Bytes()) // as the read would have printed it
	return c, err
}

// cachedRecords returns the records of a module's conf only when the
// cache has them: it never evaluates the conf.
func (e *Engine) cachedRecords(c *statuscache.Cache, m, v, k, a string) ([]dkmsconf.Record, bool) {
	if !e.confCacheable(c) {
		return nil, false
	}
	q := e.confQuery(c, m, v, k, a)
	return c.Records(q.key, q.values)
}

// confCacheable: directives and -c change what a read prints or reads.
func (e *Engine) confCacheable(c *statuscache.Cache) bool {
	return c != nil && len(e.O.Directives) == 0 && e.O.ConfPath == "" && !hasDirectiveEnv(e.Env)
}

type confQuery struct {
	ro     dkmsconf.ReadOptions
	key    string
	racy   bool
	values func(refs []string) string
}

func (e *Engine) confQuery(c *statuscache.Cache, m, v, k, a string) confQuery {
	q := confQuery{ro: dkmsconf.ReadOptions{Path: e.L.SourceLink(m, v) + "/dkms.conf", EtcDir: e.L.EtcDir(),
		Module: m, Version: v, Kernel: k, Arch: a}}
	q.key, q.racy = e.confKey(q.ro, c.Now())
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
