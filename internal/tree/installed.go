package tree

import (
	"io/fs"
	"path/filepath"
	"sort"
	"strings"

	"github.com/dkms-go/dkms/internal/fsops"
	"github.com/dkms-go/dkms/internal/modinfo"
)

// What is installed in the module tree (§7.6): the installed copy of a
// module built in the dkms tree, and every copy of a module name.

// InstalledCandidates lists the files InstalledLocation looks at, in
// order.
func (t *Tree) InstalledCandidates(k, ref, destName string, locs []string) []string {
	var out []string
	for _, loc := range locs {
		dir := t.l.KernelModules(k) + loc
		out = append(out, dir+"/"+filepath.Base(ref))
		if filepath.Base(ref) != destName+".ko" {
			out = append(out, dir+"/"+destName+".ko")
		}
	}
	return out
}

// InstalledLocation locates the installed copy of a module (§7.6 B):
// the first of locs (relative to <install_tree>/<k>) holding ref's file
// name or <destName>.ko with the same modinfo version: as ref, the module
// file in the dkms tree. It returns the file and its location; "" when
// not found.
func (t *Tree) InstalledLocation(k, ref, destName string, locs []string) (string, string) {
	refVer, known := "", false // read only when a candidate exists
	base := filepath.Base(ref)
	for _, loc := range locs {
		dir := t.l.KernelModules(k) + loc
		names := []string{base}
		if base != destName+".ko" {
			names = append(names, destName+".ko")
		}
		for _, name := range names {
			p := dir + "/" + name
			if !fsops.IsRegular(p) {
				continue
			}
			if !known {
				refVer, known = moduleVersion(ref), true
			}
			if moduleVersion(p) == refVer {
				return p, loc
			}
		}
	}
	return "", ""
}

// KernelCopies finds regular files named <d>.ko or <d>.ko<suffix> anywhere
// under <install_tree>/<k>, in walk order (§7.5 rule 2, §7.6 A). Between
// IndexKernel(k) and DropIndex the answer comes from that one walk.
func (t *Tree) KernelCopies(k, d, suffix string) []string {
	ix := t.copies
	if ix == nil || ix.k != k {
		ix = t.walkKernel(k, map[string]bool{d + ".ko": true, d + ".ko" + suffix: true})
	}
	var at []int
	at = append(at, ix.byName[d+".ko"]...)
	if suffix != "" {
		at = append(at, ix.byName[d+".ko"+suffix]...)
		sort.Ints(at)
	}
	out := make([]string, 0, len(at))
	for _, i := range at {
		out = append(out, ix.paths[i])
	}
	return out
}

// IndexKernel walks <install_tree>/<k> once for the KernelCopies lookups
// that follow, until DropIndex: an install of n modules looks each up twice
// (§7.5, §7.6 A), and each walk of a distribution kernel's tree (about 900
// directories) took 35-175 ms. The index does not see later changes: the
// caller indexes again after changing files of a name it will look up.
func (t *Tree) IndexKernel(k string) { t.copies = t.walkKernel(k, nil) }

// DropIndex ends IndexKernel.
func (t *Tree) DropIndex() { t.copies = nil }

// kernelIndex is one walk of a kernel's module tree: the paths of the
// regular files whose name holds ".ko", in walk order, and their positions
// by file name.
type kernelIndex struct {
	k      string
	paths  []string
	byName map[string][]int
}

// walkKernel indexes the files of <install_tree>/<k> that names holds, or
// every file whose name holds ".ko" when names is nil.
func (t *Tree) walkKernel(k string, names map[string]bool) *kernelIndex {
	ix := &kernelIndex{k: k, byName: map[string][]int{}}
	filepath.WalkDir(t.l.KernelModules(k), func(p string, de fs.DirEntry, err error) error {
		if err != nil || !de.Type().IsRegular() {
			return nil
		}
		n := de.Name()
		if names != nil && !names[n] || names == nil && !strings.Contains(n, ".ko") {
			return nil
		}
		ix.byName[n] = append(ix.byName[n], len(ix.paths))
		ix.paths = append(ix.paths, p)
		return nil
	})
	return ix
}

// moduleVersion reads modinfo's version: of a module file ("" if none).
func moduleVersion(path string) string {
	info, err := modinfo.Read(path)
	if err != nil {
		return ""
	}
	return info.Version()
}
