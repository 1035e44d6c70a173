package engine

import (
	"context"

	"github.com/dkms-go/dkms/internal/initramfs"
	"github.com/dkms-go/dkms/internal/ui"
)

// InitramfsCheck runs `dkms initramfs-check -k K [--json]` (our extension):
// it compares the kernel's initramfs with what DKMS installed and exits 1
// when a DKMS module is shadowed by another copy in the image.
func (e *Engine) InitramfsCheck(ctx context.Context) error {
	k, a := e.Kernels[0], e.Arches[0]
	policy, err := initramfs.ParsePolicy(e.FW["initramfs_check"])
	if err != nil {
		return e.P.Die(8, "framework.conf: "+err.Error())
	}
	if policy == initramfs.PolicyOff {
		policy = initramfs.PolicyWarn // asked for explicitly on the command line
	}
	var mods []initramfs.DKMSModule
	for _, m := range e.InstalledModules(ctx, k, a) {
		if m.Path == "" {
			continue // not where DKMS put it; status reports that
		}
		mods = append(mods, initramfs.DKMSModule{Module: m.Module, Version: m.Version, Name: m.Name, Path: m.Path})
	}
	rep, err := initramfs.Check(ctx, initramfs.Options{
		Kernel: k, BootDir: e.L.Sys("/boot"), Image: e.O.Archive, InstallTree: e.L.InstallTree,
		Modules: mods, Policy: policy,
	})
	if err != nil {
		return e.P.Die(2, "Cannot check the initramfs of kernel "+k+": "+err.Error())
	}
	if e.O.JSON {
		rep.WriteJSON(e.P.Stdout())
	} else {
		rep.WriteText(e.P.Stdout())
	}
	if rep.Shadowed() {
		return ui.Exit(1)
	}
	return nil
}
