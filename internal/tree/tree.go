// Package tree is the on-disk model of the dkms tree (§5): what state a
// module version is in, what is built and installed for which kernel, the
// listings of modules, versions and kernels in the order upstream's globs
// give, and the tree lock. A Tree reads through the status cache's
// listings in a read-only run (internal/statuscache) and remembers what it
// learnt for the run; internal/engine holds one and takes its decisions.
package tree

import (
	"maps"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"

	"github.com/dkms-go/dkms/internal/fault"
	"github.com/dkms-go/dkms/internal/fsops"
	"github.com/dkms-go/dkms/internal/paths"
	"github.com/dkms-go/dkms/internal/statuscache"
)

// Tree reads the dkms tree of a layout. It is not safe for concurrent
// use: each worker gets its own Fork.
type Tree struct {
	l *paths.Layout
	// Lists is the status cache of a read-only run, whose directory
	// listings stand in for reading directories; listed holds the
	// listings this run has already validated.
	Lists    *statuscache.Cache
	listed   map[string]*statuscache.Listing
	lockFile *os.File
	dirMemo  map[string]bool // PlainDir answers of a read-only run
	canon    int             // 0 unknown, 1 canonical, 2 not (see canonicalTree)
	copies   *kernelIndex    // KernelCopies' index, between IndexKernel and DropIndex
}

// New returns the tree of layout l, which the caller may still change
// (framework.conf moves the trees after start-up).
func New(l *paths.Layout) *Tree { return &Tree{l: l} }

// Fork returns a tree of layout l sharing t's lock, cache and what is
// known of the tree's path, without t's memos of this run.
func (t *Tree) Fork(l *paths.Layout) *Tree {
	return &Tree{l: l, Lists: t.Lists, lockFile: t.lockFile, canon: t.canon}
}

// CopyListings gives t a copy of the listings from has validated.
func (t *Tree) CopyListings(from *Tree) { t.listed = maps.Clone(from.listed) }

// DropListings ends a read-only run's use of the status cache.
func (t *Tree) DropListings() { t.Lists, t.listed = nil, nil }

// Locked reports whether this process holds the tree lock; a run
// without it is read-only and may remember what it read.
func (t *Tree) Locked() bool { return t.lockFile != nil }

// Lock takes an exclusive flock on <dkms_tree>/.dkms.lock for the rest of
// the process, so two dkms processes never change the tree at once (the
// tree directory must exist). A lock file that cannot be opened is no
// error: a read-only tree is reported by the operation itself.
func (t *Tree) Lock() error {
	if t.lockFile != nil {
		return nil
	}
	f, err := os.OpenFile(t.l.LockFile(), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil
	}
	for {
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX)
		if err != syscall.EINTR {
			break
		}
	}
	if err != nil {
		f.Close()
		return err
	}
	t.lockFile = f
	fault.Locked()
	return nil
}

// Unlock releases the tree lock.
func (t *Tree) Unlock() {
	if t.lockFile != nil {
		t.lockFile.Close() // closing releases the flock; nothing was written
		t.lockFile = nil
	}
}

// State of a module/version (§5.2).
type State int

const (
	NotPresent State = iota
	Broken
	Added
)

// State classifies <dkms_tree>/<m>/<v>.
func (t *Tree) State(m, v string) State {
	// In a read-only run with a cache, the version directory's listing
	// says whether it exists and what kind of entry source is.
	src := t.l.SourceLink(m, v)
	link := false
	if t.Lists != nil {
		l := t.listDir(t.l.VersionDir(m, v))
		if l == nil {
			return NotPresent
		}
		switch k, _ := l.Kind("source"); k {
		case statuscache.KindLink:
			link = true
		case statuscache.KindCheck:
			link = fsops.IsSymlink(src)
		}
	} else {
		if !fsops.IsDir(t.l.VersionDir(m, v)) {
			return NotPresent
		}
		link = fsops.IsSymlink(src)
	}
	if link {
		if fsops.IsDir(src) {
			return Added
		}
	} else if !fsops.IsDir(t.l.SourceDir(m, v)) {
		return NotPresent
	}
	// Status reads without the lock: a version removed (renamed away at
	// once) or added again while we looked is gone or added, not broken.
	if !fsops.Exists(t.l.VersionDir(m, v)) {
		return NotPresent
	}
	if fsops.IsSymlink(src) && fsops.IsDir(src) {
		return Added
	}
	return Broken
}

// IsBuilt: added, with <dkms_tree>/<m>/<v>/<k>/<a>/module a directory.
func (t *Tree) IsBuilt(x Target) bool {
	return t.State(x.Module, x.Version) == Added && fsops.IsDir(t.l.BuiltModules(x.Module, x.Version, x.Kernel, x.Arch))
}

// IsInstalled: built, and kernel-<k>-<a> resolves to the literal
// <dkms_tree>/<m>/<v>/<k>/<a>.
func (t *Tree) IsInstalled(x Target) bool {
	if !t.IsBuilt(x) {
		return false
	}
	return t.LinkActive(x)
}

// LinkActive: kernel-<k>-<a> resolves to <dkms_tree>/<m>/<v>/<k>/<a>,
// whatever that holds.
func (t *Tree) LinkActive(x Target) bool {
	m, v, k, a := x.Module, x.Version, x.Kernel, x.Arch
	link := t.l.KernelLink(m, k, a)
	target, ok, known := "", false, false
	if t.Lists != nil {
		if l := t.listDir(t.l.ModuleDir(m)); l != nil {
			target, ok, known = l.Link("kernel-" + k + "-" + a)
		}
	}
	if !known {
		var err error
		target, err = os.Readlink(link)
		ok = err == nil
	}
	if !ok {
		return false // absent, or not a symlink: never "installed"
	}
	// Fast path for a link as dkms writes it (a clean relative path such as
	// "<v>/<k>/<a>") in a tree whose path has no symlinks: when every
	// directory on the way is a plain directory, the link resolves to
	// <module dir>/<target>, so no full resolution is needed.
	if t.canonicalTree() && target != "" && !filepath.IsAbs(target) && filepath.Clean(target) == target &&
		target != ".." && !strings.HasPrefix(target, "../") && t.PlainDir(t.l.ModuleDir(m)) {
		plain := true
		for p := target; plain; {
			plain = t.PlainDir(t.l.ModuleDir(m) + "/" + p)
			i := strings.LastIndexByte(p, '/')
			if i < 0 {
				break
			}
			p = p[:i]
		}
		if plain {
			return t.l.ModuleDir(m)+"/"+target == t.l.BuiltDir(m, v, k, a)
		}
	}
	// As `readlink -f`, the resolved path is absolute: a relative tree
	// never matches.
	real, err := filepath.EvalSymlinks(link)
	if err == nil && !filepath.IsAbs(real) {
		real, err = filepath.Abs(real)
	}
	return err == nil && real == t.l.BuiltDir(m, v, k, a)
}

// PlainDir reports whether p is a directory and not a symlink. Read-only
// runs (status: no tree lock taken) remember the answers, since every line
// of a module asks about the same directories.
func (t *Tree) PlainDir(p string) bool {
	if t.Lists != nil && strings.HasPrefix(p, t.l.DKMSTree+"/") {
		if plain, known := t.listedPlainDir(p); known {
			return plain
		}
	}
	if t.lockFile == nil {
		if v, ok := t.dirMemo[p]; ok {
			return v
		}
	}
	st, err := os.Lstat(p)
	ok := err == nil && st.IsDir()
	if t.lockFile == nil {
		if t.dirMemo == nil {
			t.dirMemo = map[string]bool{}
		}
		t.dirMemo[p] = ok
	}
	return ok
}

// canonicalTree reports (once per run) whether <dkms_tree> is an absolute
// path without symlinks, "." or "..", i.e. equal to its resolved form.
func (t *Tree) canonicalTree() bool {
	if t.canon == 0 {
		t.canon = 2
		if r, err := filepath.EvalSymlinks(t.l.DKMSTree); err == nil && r == t.l.DKMSTree && filepath.IsAbs(r) {
			t.canon = 1
		}
	}
	return t.canon == 1
}

// Modules lists module names (or just m when given and present).
func (t *Tree) Modules(m string) []string {
	if m != "" {
		if fsops.IsDir(t.l.ModuleDir(m)) {
			return []string{m}
		}
		return nil
	}
	return globOrder(t.SubdirsOf(t.l.DKMSTree, nil))
}

// globOrder sorts the names of directories whose subdirectories are listed
// next in the order a shell glob such as <dkms_tree>/*/* gives (§5.3): it
// sorts whole paths, so "a-b" comes before "a" ("a-b/1" < "a/1").
func globOrder(names []string) []string {
	sort.SliceStable(names, func(i, j int) bool { return names[i]+"/" < names[j]+"/" })
	return names
}

// Versions lists the version directories of a module (§5.3).
func (t *Tree) Versions(m, v string) []string {
	if v != "" {
		if fsops.IsDir(t.l.VersionDir(m, v)) {
			return []string{v}
		}
		return nil
	}
	return t.SubdirsOf(t.l.ModuleDir(m), notKernelLink)
}

// notKernelLink: kernel-<k>-<a> entries of a module directory are not
// versions.
func notKernelLink(n string) bool {
	return !strings.HasPrefix(n, "kernel-") || strings.Count(n[len("kernel-"):], "-") < 1
}

// KernelDirName reports whether a name matches the extended glob +([0-9]).*
func KernelDirName(n string) bool {
	i := 0
	for i < len(n) && n[i] >= '0' && n[i] <= '9' {
		i++
	}
	return i > 0 && i < len(n) && n[i] == '.'
}

// Target names one module version on one kernel and arch: what a build,
// an install and their repair act on.
type Target struct{ Module, Version, Kernel, Arch string }

// Pair names one kernel and arch.
type Pair struct{ K, A string }

// BuiltPairs lists the (k,a) a module/version is built for, in glob order.
func (t *Tree) BuiltPairs(m, v string) []Pair {
	var out []Pair
	for _, p := range t.KernelArchDirs(m, v) {
		if fsops.IsDir(t.l.BuiltModules(m, v, p.K, p.A)) {
			out = append(out, p)
		}
	}
	return out
}

// KernelArchDirs lists the <k>/<a> directories of a module/version, built
// or not, in glob order.
func (t *Tree) KernelArchDirs(m, v string) []Pair {
	var out []Pair
	vd := t.l.VersionDir(m, v)
	for _, k := range globOrder(t.SubdirsOf(vd, KernelDirName)) {
		for _, a := range t.SubdirsOf(vd+"/"+k, nil) {
			out = append(out, Pair{k, a})
		}
	}
	return out
}

// listDir returns dir's listing, from this run's memo, the status cache
// (when dir's identity is unchanged) or the directory itself; nil when dir
// cannot be listed. Only read-only runs with a cache call it.
func (t *Tree) listDir(dir string) *statuscache.Listing {
	if l, ok := t.listed[dir]; ok {
		return l
	}
	l := t.Lists.List(dir)
	if t.listed == nil {
		t.listed = map[string]*statuscache.Listing{}
	}
	t.listed[dir] = l
	return l
}

// SubdirsOf lists the subdirectories of dir (statuscache.Listing.Subdirs), through
// the listing cache in a read-only run with one.
func (t *Tree) SubdirsOf(dir string, keep func(string) bool) []string {
	l := (*statuscache.Listing)(nil)
	if t.Lists != nil {
		l = t.listDir(dir)
	} else {
		l = statuscache.ReadListing(dir, statuscache.FileID{}, false)
	}
	if l == nil {
		return nil
	}
	return l.Subdirs(dir, keep)
}

// listedPlainDir answers PlainDir from a listing of p's parent. Inside
// the tree that listing is wanted anyway: the directories a kernel link
// points into are the ones status walks.
func (t *Tree) listedPlainDir(p string) (plain, known bool) {
	i := strings.LastIndexByte(p, '/')
	if i <= 0 {
		return false, false
	}
	l := t.listDir(p[:i])
	if l == nil {
		return false, true
	}
	switch k, _ := l.Kind(p[i+1:]); k {
	case statuscache.KindDir:
		return true, true
	case statuscache.KindCheck:
		return false, false
	}
	return false, true // absent, a symlink or not a directory
}
