// Command golsinitramfs prints the path of every entry of an initramfs
// image, one per line, like lsinitramfs does. The benchmark times it
// against lsinitramfs; it goes through internal/initramfs.List, the same
// streaming reader the initramfs check uses (which also hashes every file).
package main

import (
	"bufio"
	"fmt"
	"os"

	"github.com/dkms-go/dkms/internal/initramfs"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: golsinitramfs IMAGE")
		os.Exit(2)
	}
	if err := list(os.Args[1]); err != nil {
		fmt.Fprintln(os.Stderr, "golsinitramfs:", err)
		os.Exit(1)
	}
}

func list(image string) error {
	f, err := os.Open(image)
	if err != nil {
		return err
	}
	defer f.Close()
	w := bufio.NewWriter(os.Stdout)
	// The file goes in unbuffered, as in the check: List buffers its input
	// itself, and a bufio layer would only add a copy of the image.
	err = initramfs.List(f, func(e initramfs.Entry) error {
		_, err := fmt.Fprintln(w, e.Path)
		return err
	})
	if ferr := w.Flush(); err == nil {
		err = ferr
	}
	return err
}
