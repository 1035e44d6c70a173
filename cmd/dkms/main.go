// Command dkms is a drop-in replacement for upstream dkms 3.4.3: it adds,
// builds, installs and removes out-of-tree kernel modules. The interface
// is specified in docs/INTERFACE.md; all logic is in internal/.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/dkms-go/dkms/internal/cli"
	"github.com/dkms-go/dkms/internal/engine"
	"github.com/dkms-go/dkms/internal/proc"
	"github.com/dkms-go/dkms/internal/shconf"
	"github.com/dkms-go/dkms/internal/ui"
)

func main() {
	if readsModuleConf(os.Args[1:]) {
		shconf.Prestart()
	}
	syscall.Umask(0o022)
	// §1 step 2, for every child: make, depmod, signing, compressors.
	proc.UnsetCompilerVariables()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args, os.Environ(), os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// readsModuleConf reports whether the action word among args is one that
// always evaluates a module's dkms.conf: the sandboxed child that a conf
// with commands needs then starts alongside dkms's own start-up. Not
// autoinstall and the kernel hooks, whose nothing-to-do case reads no
// conf and must stay fast, nor status, whose confs are mostly plain
// assignments evaluated in process. A module named like an action only
// costs a child started for nothing.
func readsModuleConf(args []string) bool {
	for _, a := range args {
		if cli.Actions[a] {
			switch a {
			case "add", "build", "install", "uninstall", "unbuild", "remove", "match", "mktarball", "ldtarball", "mkdeb", "mkrpm":
				return true
			}
			return false
		}
	}
	return false
}

// run is the whole command; it returns the exit status.
func run(ctx context.Context, args, env []string, stdout, stderr io.Writer) int {
	return runWithRoot(ctx, args, env, stdout, stderr, os.Getenv("DKMS_SYSROOT"))
}

// runWithRoot is run with the system root given (tests use a temporary one).
func runWithRoot(ctx context.Context, args, env []string, stdout, stderr io.Writer, root string) int {
	p := ui.New(stdout, stderr)
	prog := args[0]
	e, err := engine.New(ctx, engine.Setup{Printer: p, Root: root, Env: env,
		TempProbe: func(tmp string) bool { return tempSpaceOK(tmp, p) }})
	if err != nil {
		return ui.Code(err)
	}
	o, res := cli.Parse(args[1:], p)
	switch res.Event {
	case cli.ExitVersion:
		fmt.Fprintln(p.Stdout(), engine.Release)
		return 0
	case cli.ExitHelp:
		fmt.Fprint(p.Stdout(), cli.Usage(prog))
		return 0
	case cli.ExitUnknown:
		p.ErrorBlock("Unknown option: " + res.Bad)
		fmt.Fprint(p.Stdout(), cli.Usage(prog))
		return 2
	case cli.ExitTwoActions:
		return ui.Code(p.Die(4, "Cannot specify more than one action."))
	}
	if err := e.ApplyOptions(&o.Options); err != nil {
		return ui.Code(err)
	}
	err = e.Dispatch(ctx)
	if errors.Is(err, engine.ErrUnknownAction) {
		fmt.Fprint(p.Stdout(), cli.Usage(prog))
		return 0
	}
	return ui.Code(err)
}

// tempSpaceOK is the temp-space probe of §1 step 6; tmp is the default
// tmp_location, ${TMPDIR:-/tmp}, where mktemp creates its file.
func tempSpaceOK(tmp string, p *ui.Printer) bool {
	f, err := probeFile(tmp)
	if err != nil {
		p.ErrorBlock("Unable to make temporary file.")
		p.Warning("dkms will not function properly without some free space in $TMPDIR (" + tmp + ").")
		return false
	}
	defer f.Close()
	const probe = "Hello, DKMS!"
	if _, err := f.WriteString(probe + "\n"); err != nil {
		p.Warning("dkms will not function properly without some free space in $TMPDIR (" + tmp + ").")
		return true
	}
	b := make([]byte, len(probe)+2)
	n, err := f.ReadAt(b, 0)
	if (err != nil && err != io.EOF) || string(b[:n]) != probe+"\n" {
		p.Warning("dkms will not function properly without some free space in $TMPDIR (" + tmp + ").")
	}
	return true
}

// probeFile opens a file in tmp that has no name (O_TMPFILE), so a dkms
// killed during the probe leaves nothing behind; where the file system
// cannot do that, a named file unlinked at once.
func probeFile(tmp string) (*os.File, error) {
	fd, err := unix.Open(tmp, unix.O_TMPFILE|unix.O_RDWR|unix.O_CLOEXEC, 0o600)
	if err == nil {
		return os.NewFile(uintptr(fd), tmp+"/(probe)"), nil
	}
	f, err := os.CreateTemp(tmp, "dkms.")
	if err != nil {
		return nil, err
	}
	if err := os.Remove(f.Name()); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}
