package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
)

// runInitramfs is scenario 6: listing the Debian kernel's own initramfs
// with our streaming reader (which hashes every file, as the check does)
// and with initramfs-tools' lsinitramfs.
func (b *bench) runInitramfs(ctx context.Context) error {
	image := "/boot/initrd.img-" + b.w.kernel
	st, err := os.Stat(image)
	if err != nil {
		b.res.Notes = append(b.res.Notes, "initramfs scenario skipped: "+err.Error())
		return nil
	}
	if _, err := exec.LookPath("lsinitramfs"); err != nil {
		b.res.Notes = append(b.res.Notes, "initramfs scenario skipped: lsinitramfs not installed")
		return nil
	}
	b.logf("initramfs scan of %s (%d MB)", image, st.Size()>>20)
	lister := filepath.Join(b.w.dir, "golsinitramfs")
	build := exec.CommandContext(ctx, "go", "build", "-o", lister, "github.com/dkms-go/dkms/bench/golsinitramfs")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		return fmt.Errorf("building golsinitramfs: %w\n%s", err, out)
	}
	var lines [2][]byte
	keep := func(i int) func([]byte, int) error {
		return func(out []byte, code int) error {
			if code != 0 {
				return fmt.Errorf("exit status %d", code)
			}
			if !bytes.Contains(out, []byte(".ko")) {
				return fmt.Errorf("no kernel module listed")
			}
			lines[i] = out
			return nil
		}
	}
	res, err := compare(ctx, b.reps,
		job{label: "golsinitramfs", check: keep(0), prepare: func(ctx context.Context, _ int) (*exec.Cmd, error) {
			return b.w.cmd(ctx, lister, image), nil
		}},
		job{label: "lsinitramfs", check: keep(1), prepare: func(ctx context.Context, _ int) (*exec.Cmd, error) {
			return b.w.cmd(ctx, "lsinitramfs", image), nil
		}})
	if err != nil {
		return err
	}
	same := "the same"
	if o, u := sortedLines(lines[0]), sortedLines(lines[1]); o != u {
		same = "different"
	}
	b.res.Rows = append(b.res.Rows, row{ID: "6",
		Name:    fmt.Sprintf("list %s (%d MB, %d entries)", image, st.Size()>>20, strings.Count(string(lines[1]), "\n")),
		OursCmd: "golsinitramfs (initramfs.List)", UpCmd: "lsinitramfs", Ours: res[0], Up: res[1],
		Note: "listings are " + same + " as sets; ours also SHA-256-hashes every file"})
	return nil
}

func sortedLines(b []byte) string {
	ls := strings.Split(strings.TrimSpace(string(b)), "\n")
	sort.Strings(ls)
	return strings.Join(ls, "\n")
}
