// Command dkms-autoinstall builds and installs every AUTOINSTALL=yes DKMS
// module for a kernel, in parallel under one make jobserver, and removes
// them when the kernel goes. The kernel hooks, the kernel-install plugin
// and the boot unit run it; all logic is in internal/.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"

	"github.com/dkms-go/dkms/internal/cli"
	"github.com/dkms-go/dkms/internal/engine"
	"github.com/dkms-go/dkms/internal/hook"
	"github.com/dkms-go/dkms/internal/ui"
)

const usage = `Usage: dkms-autoinstall [options]
  -k, --kernel K     kernel version to work on (repeatable; default: running kernel)
  --all-kernels      every installed kernel that has headers
  --remove           the kernel is being removed: remove all DKMS modules for it
  --preinst          the kernel package is being upgraded: remove AUTOINSTALL modules
  --boot             boot unit mode: running kernel, sd_notify, journal, load modules
  --hook NAME        called from a kernel hook (postinst, prerm, preinst, kernel-install)
  -j N               parallel make jobs shared by all builds (default: parallel_jobs)
  --strict           exit non-zero when a module fails (default for --boot; hooks
                     log the failure and exit 0 unless autoinstall_strict is set)
  --load, --no-load  load new modules that match present hardware (default: --boot only)
  --no-depmod        do not run depmod
  --dkmstree, --sourcetree, --installtree PATH   override the trees
`

func main() {
	syscall.Umask(0o022)
	// As dkms does (§1 step 2): the caller's CC and flags reach no child.
	engine.UnsetCompilerVariables()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Environ(), os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args, env []string, stdout, stderr io.Writer) int {
	var o hook.Options
	co := &cli.Options{Action: "dkms-autoinstall"}
	for i := 0; i < len(args); i++ {
		a := args[i]
		val := func() (string, bool) {
			if i+1 < len(args) {
				i++
				return args[i], true
			}
			fmt.Fprintf(stderr, "dkms-autoinstall: %s needs a value\n", a)
			return "", false
		}
		switch a {
		case "-k", "--kernel", "--kernelver":
			v, ok := val()
			if !ok {
				return 2
			}
			if v != "" {
				o.Kernels = append(o.Kernels, v)
			}
		case "--all-kernels":
			o.AllKernels = true
		case "--remove":
			o.Remove = true
		case "--preinst":
			o.Preinst = true
		case "--boot":
			o.Boot = true
		case "--hook":
			v, ok := val()
			if !ok {
				return 2
			}
			o.Hook = v
		case "-j":
			v, ok := val()
			if !ok {
				return 2
			}
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 {
				fmt.Fprintf(stderr, "dkms-autoinstall: -j needs a positive number, got %q\n", v)
				return 2
			}
			o.Jobs = n
		case "--strict":
			o.Strict = true
		case "--load", "--no-load":
			b := a == "--load"
			o.Load = &b
		case "--dkmstree", "--sourcetree", "--installtree":
			v, ok := val()
			if !ok {
				return 2
			}
			switch a {
			case "--dkmstree":
				co.DKMSTree = &v
			case "--sourcetree":
				co.SourceTree = &v
			default:
				co.InstallTree = &v
			}
		case "--no-depmod":
			co.NoDepmod = true
		case "-h", "--help":
			fmt.Fprint(stdout, usage)
			return 0
		default:
			fmt.Fprintf(stderr, "dkms-autoinstall: unknown argument %q\n", a)
			fmt.Fprint(stderr, usage)
			return 2
		}
	}
	out := stdout
	if o.Hook != "" {
		out = stderr // hooks may run under debconf: keep stdout clean
	}
	p := ui.New(out, stderr)
	e, err := engine.New(ctx, p, os.Getenv("DKMS_SYSROOT"), env)
	if err != nil {
		return ui.Code(err)
	}
	e.Prog = "dkms-autoinstall"
	if err := e.ApplyOptions(co); err != nil {
		return ui.Code(err)
	}
	defer e.Unlock()
	r := &hook.Runner{E: e, Log: hook.NewLogger(o.Boot, stderr), Report: stderr,
		SysfsRoot: getenv(env, "DKMS_SYSFS_ROOT"), Doctor: true}
	return r.Run(ctx, o)
}

// getenv looks name up in env, the last assignment winning as in execve.
func getenv(env []string, name string) string {
	for i := len(env) - 1; i >= 0; i-- {
		if k, v, ok := strings.Cut(env[i], "="); ok && k == name {
			return v
		}
	}
	return ""
}
