package engine

import (
	"context"
	"errors"
)

// Dispatch runs the action (§6.0).
func (e *Engine) Dispatch(ctx context.Context) error {
	defer e.Unlock()
	switch e.O.Action {
	case "add", "build", "install", "uninstall", "unbuild", "remove", "ldtarball", "match", "mktarball",
		"autoinstall", "kernel_postinst", "kernel_preinst", "kernel_prerm":
		// Decide on the tree's state under the lock, so two processes never
		// both decide to build the same module, and every fact a change
		// depends on is read after the lock is held.
		if err := e.lockIfWritable(ctx); err != nil {
			return err
		}
		if e.O.All {
			// The kernels --all stands for, read again under the lock.
			if err := e.resolveKernels(); err != nil {
				return err
			}
		}
	}
	switch e.O.Action {
	case "add":
		if err := e.gateAll(); err != nil {
			return err
		}
		if err := e.gateWritable(); err != nil {
			return err
		}
		return e.add(ctx, false)
	case "build":
		return e.Build(ctx)
	case "install":
		return e.Install(ctx)
	case "uninstall":
		return e.Uninstall(ctx)
	case "unbuild":
		return e.Unbuild(ctx)
	case "remove":
		return e.Remove(ctx)
	case "status":
		return e.Status(ctx)
	case "autoinstall", "kernel_postinst":
		return e.Autoinstall(ctx)
	case "kernel_preinst", "kernel_prerm":
		return e.KernelRemoval(ctx)
	case "match":
		return e.Match(ctx)
	case "mktarball":
		return e.MkTarball(ctx)
	case "ldtarball":
		return e.LdTarball(ctx)
	case "generate_mok":
		return e.GenerateMOK(ctx)
	case "initramfs-check":
		return e.InitramfsCheck(ctx)
	case "doctor":
		return e.Doctor(ctx)
	case "mkdeb", "mkrpm":
		return e.MkPackage(ctx)
	}
	e.P.ErrorBlock(`Unknown action specified: "` + e.O.Action + `"`)
	return ErrUnknownAction
}

// ErrUnknownAction is Dispatch's answer to an action it does not know,
// after the error block: the caller shows its usage and exits 0, as
// upstream does.
var ErrUnknownAction = errors.New("unknown action")
