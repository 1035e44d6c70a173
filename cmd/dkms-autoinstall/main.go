// Command dkms-autoinstall builds and installs every AUTOINSTALL=yes DKMS
// module for a kernel, in parallel under one make jobserver, and removes
// them when the kernel goes. The kernel hooks, the kernel-install plugin
// and the boot unit run it; all logic is in internal/.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/dkms-go/dkms/internal/autoargs"
	"github.com/dkms-go/dkms/internal/engine"
	"github.com/dkms-go/dkms/internal/hook"
	"github.com/dkms-go/dkms/internal/options"
	"github.com/dkms-go/dkms/internal/proc"
	"github.com/dkms-go/dkms/internal/ui"
)

func main() {
	syscall.Umask(0o022)
	// As dkms does (§1 step 2): the caller's CC and flags reach no child.
	proc.UnsetCompilerVariables()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Environ(), os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args, env []string, stdout, stderr io.Writer) int {
	parsed, err := autoargs.Parse(args)
	var bad *autoargs.Error
	switch {
	case errors.As(err, &bad):
		fmt.Fprintf(stderr, "dkms-autoinstall: %s\n", bad.Msg)
		if bad.ShowUsage {
			fmt.Fprint(stderr, autoargs.Usage)
		}
		return 2
	case parsed.Help:
		fmt.Fprint(stdout, autoargs.Usage)
		return 0
	}
	o := parsed.Hook
	eo := &options.Options{Action: "dkms-autoinstall", DKMSTree: parsed.DKMSTree, SourceTree: parsed.SourceTree,
		InstallTree: parsed.InstallTree, NoDepmod: parsed.NoDepmod}
	out := stdout
	if o.Hook != "" {
		out = stderr // hooks may run under debconf: keep stdout clean
	}
	p := ui.New(out, stderr)
	e, err := engine.New(ctx, engine.Setup{Printer: p, Root: os.Getenv("DKMS_SYSROOT"), Env: env})
	if err != nil {
		return ui.Code(err)
	}
	if err := e.ApplyOptions(eo); err != nil {
		return ui.Code(err)
	}
	defer e.Unlock()
	r := &hook.Runner{E: e, Log: hook.NewLogger(o.Boot, stderr), Report: stderr,
		SysfsRoot: proc.Getenv(env, "DKMS_SYSFS_ROOT"), Doctor: true}
	return r.Run(ctx, o)
}
