package engine

import (
	"context"

	"github.com/dkms-go/dkms/internal/tree"
)

// InstalledModule is one kernel module file DKMS installed for a kernel.
type InstalledModule struct {
	Module, Version string
	Name            string // module name (file name without .ko*)
	Path            string // installed file; "" if it could not be found
	Built           string // the copy in the dkms tree
}

// InstalledModules lists what DKMS installed for kernel k (active
// versions only).
func (e *Engine) InstalledModules(ctx context.Context, k, a string) []InstalledModule {
	var out []InstalledModule
	for _, m := range e.tree.Modules("") {
		for _, v := range e.tree.Versions(m, "") {
			if !e.tree.IsInstalled(tree.Target{Module: m, Version: v, Kernel: k, Arch: a}) {
				continue
			}
			c, err := e.readConf(ctx, confRead{Target: tree.Target{Module: m, Version: v, Kernel: k, Arch: a}, quiet: true})
			if err != nil {
				continue
			}
			for _, r := range c.Records {
				built := tree.FindKo(e.L.BuiltModules(m, v, k, a), r.DestName)
				if built == "" {
					continue
				}
				out = append(out, InstalledModule{Module: m, Version: v, Name: r.DestName, Built: built,
					Path: e.mods().InstalledCopy(r, k, built)})
			}
		}
	}
	return out
}
