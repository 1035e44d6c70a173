package engine

import (
	"github.com/dkms-go/dkms/internal/dkmsconf"
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
