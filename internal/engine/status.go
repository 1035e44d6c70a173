package engine

import (
	"bytes"
	"context"
	"strings"
	"sync"

	"github.com/dkms-go/dkms/internal/dkmsconf"
	"github.com/dkms-go/dkms/internal/fsops"
	"github.com/dkms-go/dkms/internal/statuscache"
	"github.com/dkms-go/dkms/internal/tree"
	"github.com/dkms-go/dkms/internal/ui"
)

// Status prints `dkms status` (§5.4, §6.13). It never fails.
func (e *Engine) Status(ctx context.Context) error {
	type filter struct{ k, a string }
	var groups []filter
	if len(e.Kernels) == 0 {
		a := ""
		if len(e.Arches) > 0 {
			a = e.Arches[0]
		}
		groups = []filter{{"", a}}
	} else {
		for i, k := range e.Kernels {
			a := ""
			if i < len(e.Arches) {
				a = e.Arches[i]
			}
			groups = append(groups, filter{k, a})
		}
	}
	cache := e.loadStatusCache()
	defer cache.Save(statusTemp)
	if !e.tree.Locked() {
		e.tree.Lists = cache
		defer e.tree.DropListings()
	}
	var items []tree.Target
	for _, g := range groups {
		for _, m := range e.tree.Modules(e.O.Module) {
			for _, v := range e.tree.Versions(m, e.O.Version) {
				items = append(items, tree.Target{Module: m, Version: v, Kernel: g.k, Arch: g.a})
			}
		}
	}
	// A large tree is walked by two workers over contiguous halves, each
	// with its own output buffers, printed in order afterwards: the walk is
	// mostly system calls, which the second core absorbs. Directive lines
	// interleave with status lines, so they keep the single walk.
	workers := 1
	if len(items) >= 64 && len(e.O.Directives) == 0 && !hasDirectiveEnv(e.Env) {
		workers = 2
	}
	type chunk struct{ out, err bytes.Buffer }
	chunks := make([]chunk, workers)
	var wg sync.WaitGroup
	for w := range workers {
		lo, hi := w*len(items)/workers, (w+1)*len(items)/workers
		c := e
		if workers > 1 {
			c = e.child(ui.New(&chunks[w].out, &chunks[w].err))
			c.tree.CopyListings(e.tree)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			var buf bytes.Buffer
			for _, it := range items[lo:hi] {
				c.statusOne(ctx, cache, &buf, it)
			}
			c.P.Stdout().Write(buf.Bytes())
		}()
	}
	wg.Wait()
	if e.O.Module == "" && e.O.Version == "" && len(e.Kernels) == 0 && len(e.Arches) == 0 {
		cache.Prune()
	}
	if workers > 1 {
		for i := range chunks {
			e.P.Stdout().Write(chunks[i].out.Bytes())
			e.P.Stderr().Write(chunks[i].err.Bytes())
		}
	}
	return nil
}

func (e *Engine) statusOne(ctx context.Context, cache *statuscache.Cache, buf *bytes.Buffer, it tree.Target) {
	m, v, k, a := it.Module, it.Version, it.Kernel, it.Arch
	switch e.tree.State(m, v) {
	case tree.NotPresent:
		return
	case tree.Broken:
		buf.WriteString(m + "/" + v + ": broken\n")
		e.P.Stdout().Write(buf.Bytes())
		buf.Reset()
		e.P.ErrorBlock(m+"/"+v+": Missing the module source directory or the symbolic link pointing to it.",
			"Manual intervention is required!")
		return
	}
	var pairs []Pair
	var facts []lineFacts
	for _, p := range e.tree.KernelArchDirs(m, v) {
		if (k != "" && p.K != k) || (a != "" && p.A != a) {
			continue
		}
		f := e.knownFacts(cache, tree.Target{Module: m, Version: v, Kernel: p.K, Arch: p.A})
		// A built module found through <k>/<a>/module proves that module
		// is a directory; only otherwise is it checked on its own.
		if f.ko == "" && !fsops.IsDir(e.L.BuiltModules(m, v, p.K, p.A)) {
			continue
		}
		pairs = append(pairs, p)
		facts = append(facts, f)
	}
	if k != "" && len(pairs) == 0 {
		// A kernel given literally may not match the kernel-name glob.
		if fsops.IsDir(e.L.BuiltModules(m, v, k, a)) && a != "" {
			pairs = append(pairs, Pair{K: k, A: a})
		} else if a == "" {
			for _, ar := range e.tree.SubdirsOf(e.L.KernelDir(m, v, k), nil) {
				if fsops.IsDir(e.L.BuiltModules(m, v, k, ar)) {
					pairs = append(pairs, Pair{K: k, A: ar})
				}
			}
		}
	}
	if len(pairs) == 0 {
		buf.WriteString(m + "/" + v + ": added\n")
		return
	}
	facts = append(facts, make([]lineFacts, len(pairs)-len(facts))...)
	for i, p := range pairs {
		installed := e.tree.LinkActive(tree.Target{Module: m, Version: v, Kernel: p.K, Arch: p.A})
		st := "built"
		if installed {
			st = "installed"
		}
		buf.WriteString(m + "/" + v + ", " + p.K + ", " + p.A + ": " + st)
		// Directive lines of the conf re-read land inside the status line,
		// as upstream's do: flush what we have first.
		if len(e.O.Directives) > 0 || hasDirectiveEnv(e.Env) {
			e.P.Stdout().Write(buf.Bytes())
			buf.Reset()
		}
		buf.WriteString(e.statusSuffixes(ctx, cache, tree.Target{Module: m, Version: v, Kernel: p.K, Arch: p.A}, installed, facts[i]))
		buf.WriteString("\n")
	}
}

// lineFacts are what is known of a status line before it is printed: its
// conf's records when the cache has them, and where the first record's
// built module is.
type lineFacts struct {
	recs     []dkmsconf.Record
	haveRecs bool
	ko       string
	koID     statuscache.FileID
}

func (e *Engine) knownFacts(cache *statuscache.Cache, t tree.Target) lineFacts {
	recs, ok := e.cachedRecords(cache, t)
	f := lineFacts{recs: recs, haveRecs: ok}
	if ok && len(recs) > 0 {
		f.ko, f.koID = tree.FindKoID(e.L.BuiltModules(t.Module, t.Version, t.Kernel, t.Arch), recs[0].DestName)
	}
	return f
}

func (e *Engine) statusSuffixes(ctx context.Context, cache *statuscache.Cache, t tree.Target, installed bool, f lineFacts) string {
	m, v, k, a := t.Module, t.Version, t.Kernel, t.Arch
	var s strings.Builder
	if e.tree.PlainDir(e.L.OriginalsDir(m)) && fsops.Exists(e.L.OriginalDir(m, k, a)) {
		s.WriteString(" (Original modules exist)")
	}
	records, ok := f.recs, f.haveRecs
	if !ok {
		records, ok = e.statusRecords(ctx, cache, t)
	}
	if !ok {
		return s.String()
	}
	excluded := dkmsconf.ExcludedRecords(records, k, a, e.kernelConfig(k))
	for i, r := range records {
		if excluded != nil && excluded[i] {
			continue // delta D5.2: not built on purpose
		}
		var built string
		var id statuscache.FileID
		if i == 0 && f.haveRecs {
			built, id = f.ko, f.koID
		} else {
			built, id = tree.FindKoID(e.L.BuiltModules(m, v, k, a), r.DestName)
		}
		if built == "" {
			s.WriteString(" (Built modules are missing in the kernel modules folder)")
			break
		}
		if installed {
			if e.installedDiffers(cache, r, k, built, id) {
				s.WriteString(" (Differences between built and installed modules)")
				break
			}
		}
	}
	return s.String()
}
