package engine

import (
	"context"
	"os"
	"path/filepath"

	"github.com/dkms-go/dkms/internal/fsops"
	"github.com/dkms-go/dkms/internal/pkgbuild"
	"github.com/dkms-go/dkms/internal/tree"
)

// MkPackage runs `dkms mkdeb` and `dkms mkrpm` (dkms 2.x actions that 3.x
// dropped; docs/PACKAGES.md): a <module>-dkms package of the module's
// source, written to <dkms_tree>/<m>/<v>/deb/ or rpm/. Modules already
// built for the kernels given with -k (or --all) go into the package too,
// unless --source-only; the package installs them directly on those
// kernels and compiles the source on the others.
func (e *Engine) MkPackage(ctx context.Context) error {
	p, action := e.P, e.O.Action
	if err := e.gateModuleArgs(action); err != nil {
		return err
	}
	if err := e.gateBroken(); err != nil {
		return err
	}
	if err := e.gateAdded(); err != nil {
		return err
	}
	if e.O.BinariesOnly {
		// dkms 2.x's binaries-only packages were driven by templates and
		// a full debhelper run; a package without source cannot compile for
		// other kernels, which is what these packages are for.
		return p.Die(1, action+" does not support --binaries-only: the package always carries the module source.",
			"Use mktarball --binaries-only to ship modules to systems without the source.")
	}
	m, v := e.O.Module, e.O.Version
	k0, a0 := e.firstPair()
	if _, err := e.readConf(ctx, confRead{Target: tree.Target{Module: m, Version: v, Kernel: k0, Arch: a0}}); err != nil {
		return err
	}
	src, err := filepath.EvalSymlinks(e.L.SourceLink(m, v))
	if err != nil {
		return p.Die(4, "Could not locate the source of "+m+"/"+v+": "+err.Error())
	}
	spec := pkgbuild.Spec{Module: m, Version: v, SourceDir: src}
	// Without -k or --all the kernel list is just the running kernel,
	// which says nothing about which binaries the user wants shipped.
	if !e.O.SourceOnly && (len(e.O.Kernels) > 0 || e.O.All) {
		for i, k := range e.Kernels {
			a := e.Arches[i]
			if !fsops.IsDir(e.L.BuiltModules(m, v, k, a)) {
				return p.Die(6, "No modules built for "+k+" ("+a+").",
					"Modules must already be in the built state before using "+action+".")
			}
			p.Line("Marking modules for " + k + " (" + a + ") for packaging...")
			spec.Binaries = append(spec.Binaries, pkgbuild.Binary{Kernel: k, Arch: a, Dir: e.L.BuiltDir(m, v, k, a)})
		}
	}
	kind, build := "deb", pkgbuild.BuildDeb
	if action == "mkrpm" {
		kind, build = "rpm", pkgbuild.BuildRPM
	}
	dir := e.L.VersionDir(m, v) + "/" + kind
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return p.Die(9, "Missing write permissions for "+dir+".")
	}
	out, err := build(ctx, spec, dir)
	if err != nil {
		return p.Die(6, "Failed to make the "+kind+" package of "+m+"/"+v+".", err.Error())
	}
	p.Line("")
	p.Line("Package location: " + out)
	return nil
}
