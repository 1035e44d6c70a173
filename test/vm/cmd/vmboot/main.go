// Command vmboot boots an installed Debian kernel in QEMU with a small
// initramfs, loads the given module and prints the console, for `make demo` and
// for reproducing VM test failures by hand.
//
//	go run ./test/vm/cmd/vmboot -module dkms_hello.ko [-kernel 6.1.0-56-amd64]
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"time"

	"github.com/dkms-go/dkms/test/vm"
)

func main() {
	if err := run(context.Background(), os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "vmboot:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("vmboot", flag.ContinueOnError)
	fs.SetOutput(stderr)
	module := fs.String("module", "", "kernel module (.ko) to insmod in the guest")
	kernel := fs.String("kernel", "", "kernel version to boot (default: newest in /boot with modules)")
	expect := fs.String("expect", "", "fail unless a console line contains this text")
	timeout := fs.Duration("timeout", 2*time.Minute, "deadline for the whole VM run")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *module == "" || fs.NArg() != 0 {
		fs.Usage()
		return errors.New("-module is required")
	}
	ko, err := filepath.Abs(*module)
	if err != nil {
		return err
	}
	k, err := vm.FindKernel("/", *kernel)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt)
	defer stop()
	name := filepath.Base(ko)
	boot := vm.Boot{
		Guest: vm.Guest{
			Kernel: k,
			Files:  map[string]string{name: ko},
			Script: fmt.Sprintf("insmod /vm/%s || exit 1\ngrep -w %s /proc/modules\n", name, vm.ModuleName(name)),
		},
		Timeout: *timeout,
		Console: func(l string) { fmt.Fprintln(stdout, l) },
		Logf:    func(f string, a ...any) { fmt.Fprintf(stderr, f+"\n", a...) },
	}
	res, err := boot.Run(ctx)
	if err != nil {
		return err
	}
	if res.Verdict != vm.VerdictPass {
		return fmt.Errorf("guest verdict: %s", res.Verdict)
	}
	if *expect != "" && !res.Contains(*expect) {
		return fmt.Errorf("no console line contains %q", *expect)
	}
	return nil
}
