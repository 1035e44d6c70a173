// Command scanbench lists an initramfs image with the initramfs package and
// reports the wall time and peak resident memory, for comparison with
// lsinitramfs in `make bench`:
//
//	go run ./internal/initramfs/internal/scanbench [-list] /boot/initrd.img-$(uname -r)
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"syscall"
	"time"

	"github.com/dkms-go/dkms/internal/initramfs"
)

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "scanbench:", err)
		os.Exit(1)
	}
}

func run(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("scanbench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	list := fs.Bool("list", false, "print the entry paths like lsinitramfs")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return fmt.Errorf("usage: scanbench [-list] IMAGE")
	}
	f, err := os.Open(fs.Arg(0))
	if err != nil {
		return err
	}
	defer f.Close()
	start := time.Now()
	var entries, modules int
	err = initramfs.List(f, func(e initramfs.Entry) error {
		entries++
		if e.IsModule() {
			modules++
		}
		if *list {
			_, err := fmt.Fprintln(stdout, e.Path)
			return err
		}
		return nil
	})
	if err != nil {
		return err
	}
	elapsed := time.Since(start)
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return err
	}
	// ru.Maxrss is in KiB on Linux.
	_, err = fmt.Fprintf(stderr, "entries %d, modules %d, wall %v, max RSS %d KiB\n", entries, modules, elapsed.Round(time.Millisecond), ru.Maxrss)
	return err
}
