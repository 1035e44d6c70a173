package engine

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/dkms-go/dkms/internal/dkmsconf"
	"github.com/dkms-go/dkms/internal/fault"
	"golang.org/x/sys/unix"
)

// destLocation is the effective DEST_MODULE_LOCATION of a record (§4.6).
func (e *Engine) destLocation(r dkmsconf.Record) string {
	return dkmsconf.EffectiveDestLocation(r.DestLocation, e.Distro, e.AddonDir)
}

// installedCopy locates the installed copy of a record (§7.6 B): the first
// candidate location holding <d>.ko or <d>.ko<ext> with the same version:
// as the reference file in the dkms tree. "" when not found.
func (e *Engine) installedCopy(r dkmsconf.Record, k, ref string) string {
	p, _ := e.installedLocation(r, k, ref)
	return p
}

// installedCandidates lists the files installedLocation looks at.
func (e *Engine) installedCandidates(r dkmsconf.Record, k, ref string) []string {
	return e.tree.InstalledCandidates(k, ref, r.DestName, e.candidateLocations(r))
}

func (e *Engine) candidateLocations(r dkmsconf.Record) []string {
	locs := []string{e.destLocation(r)}
	if r.DestLocation != locs[0] {
		locs = append(locs, r.DestLocation)
	}
	return locs
}

// installedLocation is installedCopy that also returns the location
// (relative to <install_tree>/<k>) where the copy was found.
func (e *Engine) installedLocation(r dkmsconf.Record, k, ref string) (string, string) {
	return e.tree.InstalledLocation(k, ref, r.DestName, e.candidateLocations(r))
}

// removeEmptyParents deletes now-empty directories from dir upwards, never
// reaching stop.
func removeEmptyParents(dir, stop string) {
	stop = filepath.Clean(stop)
	for d := filepath.Clean(dir); d != stop && strings.HasPrefix(d, stop+"/"); d = filepath.Dir(d) {
		fault.Point("rmdir", d)
		if unix.Rmdir(d) != nil {
			return // not empty (or not there): the parents are not either
		}
	}
}

// removeEmptyDirs deletes every empty directory below root, deepest first,
// and root itself if it ends up empty. It returns the first failure other
// than a directory that is not empty.
func removeEmptyDirs(root string) error {
	var dirs []string
	filepath.WalkDir(root, func(p string, de fs.DirEntry, err error) error {
		if err == nil && de.IsDir() {
			dirs = append(dirs, p)
		}
		return nil
	})
	var first error
	for i := len(dirs) - 1; i >= 0; i-- {
		if err := removeIfEmpty(dirs[i]); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// hasSubdir reports whether dir has at least one subdirectory.
func hasSubdir(dir string) bool {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return false
	}
	for _, de := range ents {
		if de.IsDir() {
			return true
		}
	}
	return false
}
