package engine

import (
	"bytes"
	"context"
	"os"
	"strings"

	"github.com/dkms-go/dkms/internal/dkmsconf"
	"github.com/dkms-go/dkms/internal/fsops"
	"github.com/dkms-go/dkms/internal/proc"
	"github.com/dkms-go/dkms/internal/statuscache"
	"github.com/dkms-go/dkms/internal/tree"
	"github.com/dkms-go/dkms/internal/ui"
)

// The status cache (internal/statuscache) as status and doctor use it:
// the conf records of a status line, read from the cache when its key
// (statuscache.Keys) and the variables the conf reads are unchanged.

// statusTemp names the cache's temporary while it is saved; a killed
// save leaves it for sweepTemporaries.
const statusTemp = fsops.TmpPrefix + "status-*"

func (e *Engine) loadStatusCache() *statuscache.Cache {
	return statuscache.Load(e.L.StatusCache(), e.L.OldStatusCache(), e.L.DKMSTree)
}

// installedDiffers is statuscache's InstalledDiffers for record r's
// module built for kernel k (§7.6 B).
func (e *Engine) installedDiffers(c *statuscache.Cache, r dkmsconf.Record, k, built string, builtID statuscache.FileID) bool {
	return c.InstalledDiffers(built, builtID, e.mods().InstalledCandidates(r, k, built),
		func() string { return e.mods().InstalledCopy(r, k, built) }, fsops.SameContent)
}

// statusRecords returns the records of a module's conf for status,
// from the cache when its fingerprint and inputs are unchanged.
func (e *Engine) statusRecords(ctx context.Context, c *statuscache.Cache, t tree.Target) ([]dkmsconf.Record, bool) {
	if !e.confCacheable(c) {
		conf, err := e.statusConf(ctx, confRead{Target: t, quiet: true})
		if err != nil {
			return nil, false
		}
		return conf.Records, true
	}
	q := e.confQuery(c, t)
	if recs, ok := c.Records(q.key, q.values); ok {
		return recs, true
	}
	conf, err := e.statusConf(ctx, confRead{Target: t, quiet: true})
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
// the module is gone, not broken, and the read's messages are dropped. So
// too when the link was made anew meanwhile (removed and added again while
// the read ran): the read failed on the old one.
func (e *Engine) statusConf(ctx context.Context, r confRead) (*dkmsconf.Conf, error) {
	var buf bytes.Buffer
	saved := e.P
	e.P = ui.New(saved.Stdout(), &buf)
	link := e.L.SourceLink(r.Module, r.Version)
	before, berr := os.Lstat(link)
	c, err := e.readConf(ctx, r)
	e.P = saved
	if err != nil {
		after, aerr := os.Lstat(link)
		if berr != nil || aerr != nil || !os.SameFile(before, after) {
			return nil, err
		}
	}
	saved.Stderr().Write(buf.Bytes()) // as the read would have printed it
	return c, err
}

// cachedRecords returns the records of a module's conf only when the
// cache has them: it never evaluates the conf.
func (e *Engine) cachedRecords(c *statuscache.Cache, t tree.Target) ([]dkmsconf.Record, bool) {
	if !e.confCacheable(c) {
		return nil, false
	}
	q := e.confQuery(c, t)
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

func (e *Engine) confQuery(c *statuscache.Cache, t tree.Target) confQuery {
	m, v, k, a := t.Module, t.Version, t.Kernel, t.Arch
	q := confQuery{ro: dkmsconf.ReadOptions{Path: e.L.SourceLink(m, v) + "/dkms.conf", EtcDir: e.L.EtcDir(),
		Module: m, Version: v, Kernel: k, Arch: a}}
	q.key, q.racy = e.keys.ConfKey(q.ro, c.Now())
	var vm map[string]string
	vars := func() map[string]string {
		if vm == nil {
			vm = e.confVars(t)
		}
		return vm
	}
	q.values = func(refs []string) string {
		return statuscache.RefValues(refs, vars, func(n string) (string, bool) { return proc.LookupEnv(e.Env, n) })
	}
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
