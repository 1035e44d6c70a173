package statuscache

import (
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/dkms-go/dkms/internal/dkmsconf"
)

// Keys builds the keys of one run's lookups from the identities of the
// files involved. A read-only run remembers each file's identity for the
// run (the lines of one version share its dkms.conf); Keys is not safe
// for concurrent use: each worker gets its own Fork.
type Keys struct {
	EtcDir string // /etc/dkms, whose override files join a conf's chain
	// Memo reports whether identities may be remembered (no tree lock:
	// nothing changes the tree under this run).
	Memo     func() bool
	etcNames map[string]bool
	statMemo map[string]memoID
}

type memoID struct {
	id   string
	racy bool
}

// Fork returns keys sharing k's listing of /etc/dkms, without its
// remembered identities.
func (k *Keys) Fork() *Keys {
	return &Keys{EtcDir: k.EtcDir, Memo: k.Memo, etcNames: k.etcNames}
}

// ConfKey is the cache key of a conf read: the module and version (and
// the kernel and arch when /etc/dkms has override files for the module),
// and the identity of every file of the evaluation chain that exists (the
// chain's names follow from those, so absent files need no mention). What
// else the read depends on is in the variables it reads, whose values
// select a record set of the entry (RefValues). It also reports whether a
// file changed too recently to be trusted later. The override files of
// /etc/dkms are looked up in one listing of that directory, taken once per
// run.
func (k *Keys) ConfKey(ro dkmsconf.ReadOptions, now time.Time) (string, bool) {
	b := make([]byte, 0, 256)
	for _, s := range []string{ro.Module, ro.Version} {
		b = append(append(b, s...), 0)
	}
	b, racy := k.statID(b, ro.Path, now)
	if k.etcMentions(ro.Module) {
		// Override files may be named for the kernel and arch.
		b = append(append(append(append(b, ro.Kernel...), 0), ro.Arch...), 0)
		etc := k.EtcDir + "/"
		for _, f := range dkmsconf.Candidates(ro)[1:] {
			if strings.HasPrefix(f, etc) && !k.etcNames[f[len(etc):]] {
				continue
			}
			var r bool
			b, r = k.statID(b, f, now)
			racy = racy || r
		}
	}
	return HashKey(b), racy
}

// etcMentions reports whether /etc/dkms has an entry that could be an
// override file of module m (<m>.conf or <m>-...).
func (k *Keys) etcMentions(m string) bool {
	if k.etcNames == nil {
		k.etcNames = map[string]bool{}
		if ents, err := os.ReadDir(k.EtcDir); err == nil {
			for _, de := range ents {
				k.etcNames[de.Name()] = true
			}
		}
	}
	for n := range k.etcNames {
		if strings.HasPrefix(n, m) && len(n) > len(m) && (n[len(m)] == '.' || n[len(m)] == '-') {
			return true
		}
	}
	return false
}

// statID is AppendStatID remembered for the run when Memo allows.
func (k *Keys) statID(b []byte, f string, now time.Time) ([]byte, bool) {
	if m, ok := k.statMemo[f]; ok {
		return append(b, m.id...), m.racy
	}
	start := len(b)
	b, r := AppendStatID(b, f, now)
	if k.Memo != nil && k.Memo() {
		if k.statMemo == nil {
			k.statMemo = map[string]memoID{}
		}
		k.statMemo[f] = memoID{string(b[start:]), r}
	}
	return b, r
}

// RefValues renders the current values of the variables a pure conf
// reads: the shell variables vars gives, else the environment's (env).
// vars is called only when there are refs: most confs read none.
func RefValues(refs []string, vars func() map[string]string, env func(string) (string, bool)) string {
	if len(refs) == 0 {
		return ""
	}
	vs := vars()
	var b []byte
	for _, r := range refs {
		if v, ok := vs[r]; ok {
			b = strconv.AppendQuote(append(append(b, r...), "=v"...), v)
		} else if v, ok := env(r); ok {
			b = strconv.AppendQuote(append(append(b, r...), "=e"...), v)
		} else {
			b = append(append(b, r...), '-')
		}
		b = append(b, ';')
	}
	return HashKey(b)
}

// InstalledDiffers is the check behind "(Differences between built and
// installed modules)": the installed copy of built is missing or differs
// byte-wise from it. cands are the locations the installed copy is looked
// for in, in order; installed finds it ("" when none) and same compares
// two files. The answer is remembered by the identity of the built file
// (builtID, already stat'ed by the caller) and of the candidates in
// order: when the first candidate is the installed copy, the answer
// depends on those two files alone and is remembered under them, so the
// other candidates need no stat next time.
func (c *Cache) InstalledDiffers(built string, builtID FileID, cands []string, installed func() string, same func(a, b string) bool) bool {
	key := AppendID(append(make([]byte, 0, 256), built...), builtID)
	racy := builtID.Racy(c.Now())
	var rp bool
	key, rp = AppendStatID(key, cands[0], c.Now())
	racy = racy || rp
	firstKey := HashKey(append(key, "first"...))
	if d, ok := c.Diff(firstKey); ok {
		return d
	}
	for _, p := range cands[1:] {
		key, rp = AppendStatID(key, p, c.Now())
		racy = racy || rp
	}
	id := HashKey(key)
	if d, ok := c.Diff(id); ok {
		return d
	}
	inst := installed()
	d := inst == "" || !same(inst, built)
	switch {
	case racy:
	case inst == cands[0]:
		c.PutDiff(firstKey, d)
	default:
		c.PutDiff(id, d)
	}
	return d
}
