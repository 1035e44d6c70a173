package tree

import (
	"io/fs"
	"path/filepath"

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

// KernelCopies finds regular files named <d>.ko or <d><suffix> anywhere
// under <install_tree>/<k>, in walk order (§7.5 rule 2, §7.6 A).
func (t *Tree) KernelCopies(k, d, suffix string) []string {
	var out []string
	names := map[string]bool{d + ".ko": true, d + ".ko" + suffix: true}
	root := t.l.KernelModules(k)
	filepath.WalkDir(root, func(p string, de fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if de.Type().IsRegular() && names[de.Name()] {
			out = append(out, p)
		}
		return nil
	})
	return out
}

// moduleVersion reads modinfo's version: of a module file ("" if none).
func moduleVersion(path string) string {
	info, err := modinfo.Read(path)
	if err != nil {
		return ""
	}
	return info.Version()
}
