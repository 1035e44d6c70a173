package engine

import (
	"context"
	"fmt"

	"github.com/dkms-go/dkms/internal/fsops"
	"github.com/dkms-go/dkms/internal/tree"
	"github.com/dkms-go/dkms/internal/ui"
)

// KernelRemoval runs kernel_preinst and kernel_prerm (§6.8): every module
// built for the kernel (kernel_prerm) or every AUTOINSTALL one
// (kernel_preinst) is uninstalled and unbuilt, depmod runs once at the end.
func (e *Engine) KernelRemoval(ctx context.Context) error {
	if err := e.gateRoot(); err != nil {
		return err
	}
	k, a := e.Kernels[0], e.Arches[0]
	failed, err := e.RemoveKernel(ctx, k, a, e.O.Action == "kernel_prerm")
	if err != nil {
		return err
	}
	if failed != "" {
		return e.P.Die(14, "dkms "+e.O.Action+" for kernel "+k+" ("+a+") failed for module(s)"+failed+".")
	}
	return nil
}

// RemoveKernel removes DKMS modules from kernel k. all=false keeps modules
// without AUTOINSTALL (kernel_preinst). It returns the failure list in
// upstream's " m/v(N)" form.
func (e *Engine) RemoveKernel(ctx context.Context, k, a string, all bool) (string, error) {
	if err := e.LockTree(ctx); err != nil {
		return "", err
	}
	var failed string
	for _, m := range e.tree.Modules("") {
		for _, v := range e.tree.Versions(m, "") {
			if !fsops.IsDir(e.L.BuiltModules(m, v, k, a)) {
				continue
			}
			if !all {
				c, err := e.readConf(ctx, confRead{Target: tree.Target{Module: m, Version: v, Kernel: k, Arch: a}})
				if err != nil {
					return "", err
				}
				if !c.AutoInstall {
					continue
				}
			}
			fmt.Fprintf(e.P.Stderr(), "dkms: removing module %s/%s for kernel %s (%s)\n", m, v, k, a)
			child := e.child(nil)
			pc := &pairCtx{Target: tree.Target{Module: m, Version: v, Kernel: k, Arch: a}, linkOnly: true}
			if code := ui.Code(child.unbuildStep(ctx, pc, true)); code != 0 {
				failed += fmt.Sprintf(" %s/%s(%d)", m, v, code)
			}
			if all {
				e.P.Line("")
			}
		}
	}
	if e.tree.Pending(k, a) {
		// Upstream calls depmod with an empty kernel here, so it is skipped;
		// we run it for the kernel when its modules are still installed.
		e.depmodStep(ctx, k)
		e.clearPending(k, a)
	}
	if fsops.IsDir(e.L.KernelModules(k)) {
		e.warn(fsops.RemoveEmptyDirs(e.L.KernelModules(k)))
	}
	return failed, nil
}

// PurgeKernel removes what is left of kernel k in the dkms tree after its
// modules were removed (tree.PurgeKernel).
func (e *Engine) PurgeKernel(k string) { e.warnAll(e.tree.PurgeKernel(k)) }
