package engine

import (
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/dkms-go/dkms/internal/statuscache"
)

// State of a module/version (§5.2).
type State int

const (
	NotPresent State = iota
	Broken
	Added
)

func isDir(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.IsDir()
}

func isRegular(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.Mode().IsRegular()
}

func isSymlink(p string) bool {
	st, err := os.Lstat(p)
	return err == nil && st.Mode()&os.ModeSymlink != 0
}

func exists(p string) bool {
	_, err := os.Lstat(p)
	return err == nil
}

// state classifies <dkms_tree>/<m>/<v>.
func (e *Engine) state(m, v string) State {
	// In a read-only run with a cache, the version directory's listing
	// says whether it exists and what kind of entry source is.
	src := e.L.SourceLink(m, v)
	link := false
	if e.lists != nil {
		l := e.listDir(e.L.VersionDir(m, v))
		if l == nil {
			return NotPresent
		}
		switch k, _ := l.Kind("source"); k {
		case statuscache.KindLink:
			link = true
		case statuscache.KindCheck:
			link = isSymlink(src)
		}
	} else {
		if !isDir(e.L.VersionDir(m, v)) {
			return NotPresent
		}
		link = isSymlink(src)
	}
	if link {
		if isDir(src) {
			return Added
		}
	} else if !isDir(e.L.SourceDir(m, v)) {
		return NotPresent
	}
	// Status reads without the lock: a version removed (renamed away at
	// once) or added again while we looked is gone or added, not broken.
	if !exists(e.L.VersionDir(m, v)) {
		return NotPresent
	}
	if isSymlink(src) && isDir(src) {
		return Added
	}
	return Broken
}

func (e *Engine) isBuilt(m, v, k, a string) bool {
	return e.state(m, v) == Added && isDir(e.L.BuiltModules(m, v, k, a))
}

// isInstalled: built, and kernel-<k>-<a> resolves to the literal
// <dkms_tree>/<m>/<v>/<k>/<a>.
func (e *Engine) isInstalled(m, v, k, a string) bool {
	if !e.isBuilt(m, v, k, a) {
		return false
	}
	return e.linkActive(m, v, k, a)
}

func (e *Engine) linkActive(m, v, k, a string) bool {
	link := e.L.KernelLink(m, k, a)
	target, ok, known := "", false, false
	if e.lists != nil {
		if l := e.listDir(e.L.ModuleDir(m)); l != nil {
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
	if e.canonicalTree() && target != "" && !filepath.IsAbs(target) && filepath.Clean(target) == target &&
		target != ".." && !strings.HasPrefix(target, "../") && e.plainDir(e.L.ModuleDir(m)) {
		plain := true
		for p := target; plain; {
			plain = e.plainDir(e.L.ModuleDir(m) + "/" + p)
			i := strings.LastIndexByte(p, '/')
			if i < 0 {
				break
			}
			p = p[:i]
		}
		if plain {
			return e.L.ModuleDir(m)+"/"+target == e.L.BuiltDir(m, v, k, a)
		}
	}
	// As `readlink -f`, the resolved path is absolute: a relative tree
	// never matches.
	real, err := filepath.EvalSymlinks(link)
	if err == nil && !filepath.IsAbs(real) {
		real, err = filepath.Abs(real)
	}
	return err == nil && real == e.L.BuiltDir(m, v, k, a)
}

// plainDir reports whether p is a directory and not a symlink. Read-only
// runs (status: no tree lock taken) remember the answers, since every line
// of a module asks about the same directories.
func (e *Engine) plainDir(p string) bool {
	if e.lists != nil && strings.HasPrefix(p, e.L.DKMSTree+"/") {
		if plain, known := e.listedPlainDir(p); known {
			return plain
		}
	}
	if e.lockFile == nil {
		if v, ok := e.dirMemo[p]; ok {
			return v
		}
	}
	st, err := os.Lstat(p)
	ok := err == nil && st.IsDir()
	if e.lockFile == nil {
		if e.dirMemo == nil {
			e.dirMemo = map[string]bool{}
		}
		e.dirMemo[p] = ok
	}
	return ok
}

// canonicalTree reports (once per run) whether <dkms_tree> is an absolute
// path without symlinks, "." or "..", i.e. equal to its resolved form.
func (e *Engine) canonicalTree() bool {
	if e.treeCanon == 0 {
		e.treeCanon = 2
		if r, err := filepath.EvalSymlinks(e.L.DKMSTree); err == nil && r == e.L.DKMSTree && filepath.IsAbs(r) {
			e.treeCanon = 1
		}
	}
	return e.treeCanon == 1
}

// readDirNames lists directory entries sorted in byte order, without hidden
// ones, as a shell glob does in the C locale.
func readDirNames(dir string) []string {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	names := make([]string, 0, len(ents))
	for _, de := range ents {
		if strings.HasPrefix(de.Name(), ".") {
			continue
		}
		names = append(names, de.Name())
	}
	sort.Strings(names)
	return names
}

// modules lists module names (or just m when given and present).
func (e *Engine) modules(m string) []string {
	if m != "" {
		if isDir(e.L.ModuleDir(m)) {
			return []string{m}
		}
		return nil
	}
	return globOrder(e.subdirsOf(e.L.DKMSTree, nil))
}

// globOrder sorts the names of directories whose subdirectories are listed
// next in the order a shell glob such as <dkms_tree>/*/* gives (§5.3): it
// sorts whole paths, so "a-b" comes before "a" ("a-b/1" < "a/1").
func globOrder(names []string) []string {
	sort.SliceStable(names, func(i, j int) bool { return names[i]+"/" < names[j]+"/" })
	return names
}

// versions lists the version directories of a module (§5.3).
func (e *Engine) versions(m, v string) []string {
	if v != "" {
		if isDir(e.L.VersionDir(m, v)) {
			return []string{v}
		}
		return nil
	}
	return e.subdirsOf(e.L.ModuleDir(m), notKernelLink)
}

// notKernelLink: kernel-<k>-<a> entries of a module directory are not
// versions.
func notKernelLink(n string) bool {
	return !strings.HasPrefix(n, "kernel-") || strings.Count(n[len("kernel-"):], "-") < 1
}

// kernelDirName reports whether a name matches the extended glob +([0-9]).*
func kernelDirName(n string) bool {
	i := 0
	for i < len(n) && n[i] >= '0' && n[i] <= '9' {
		i++
	}
	return i > 0 && i < len(n) && n[i] == '.'
}

// pair is one kernel/arch.
type pair struct{ K, A string }

// builtPairs lists the (k,a) a module/version is built for, in glob order.
func (e *Engine) builtPairs(m, v string) []pair {
	var out []pair
	for _, p := range e.kernelArchDirs(m, v) {
		if isDir(e.L.BuiltModules(m, v, p.K, p.A)) {
			out = append(out, p)
		}
	}
	return out
}

// kernelArchDirs lists the <k>/<a> directories of a module/version, built
// or not, in glob order.
func (e *Engine) kernelArchDirs(m, v string) []pair {
	var out []pair
	vd := e.L.VersionDir(m, v)
	for _, k := range globOrder(e.subdirsOf(vd, kernelDirName)) {
		for _, a := range e.subdirsOf(vd+"/"+k, nil) {
			out = append(out, pair{k, a})
		}
	}
	return out
}
