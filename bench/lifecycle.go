package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

// linkHeaders gives the install tree of kernel k a build link to the real
// headers: ours looks for them below --installtree, upstream at the fixed
// /lib/modules/<k>/build, so both find the same headers.
func linkHeaders(t trees, k string) error {
	d := filepath.Join(t.Inst, k)
	if err := os.MkdirAll(d, 0o755); err != nil {
		return err
	}
	return os.Symlink("/lib/modules/"+k+"/build", filepath.Join(d, "build"))
}

// runNothingToDo is scenario 3: autoinstall when every module is already
// installed for the kernel, which is what every boot and every kernel hook
// invocation after the first amounts to.
func (b *bench) runNothingToDo(ctx context.Context) error {
	n := 50
	if b.small {
		n = 3
	}
	b.logf("nothing-to-do autoinstall, %d installed modules", n)
	k := b.w.kernel
	t, err := installedTree(filepath.Join(b.w.dir, "noop"), n, k)
	if err != nil {
		return err
	}
	if err := linkHeaders(t, k); err != nil {
		return err
	}
	check := func(out []byte, code int) error {
		if code != 0 {
			return fmt.Errorf("exit status %d", code)
		}
		if bytes.Contains(out, []byte("Autoinstall of module")) {
			return fmt.Errorf("it tried to install something")
		}
		if got := countFiles(filepath.Join(t.Inst, k, "updates")); got != n {
			return fmt.Errorf("%d installed modules afterwards, want %d", got, n)
		}
		return nil
	}
	fixed := func(c func(ctx context.Context) *exec.Cmd) func(context.Context, int) (*exec.Cmd, error) {
		return func(ctx context.Context, _ int) (*exec.Cmd, error) { return c(ctx), nil }
	}
	st, err := compare(ctx, b.reps,
		job{label: "ours dkms-autoinstall", check: check, quick: true, prepare: fixed(func(ctx context.Context) *exec.Cmd {
			return b.w.oursAuto(ctx, t, "-k", k, "--no-depmod")
		})},
		job{label: "ours dkms autoinstall", check: check, quick: true, prepare: fixed(func(ctx context.Context) *exec.Cmd {
			return b.w.ours(ctx, t, "autoinstall", "-k", k, "--no-depmod")
		})},
		job{label: "upstream autoinstall", check: check, prepare: fixed(func(ctx context.Context) *exec.Cmd {
			return b.w.up(ctx, t, "autoinstall", "-k", k, "--no-depmod")
		})})
	if err != nil {
		return err
	}
	name := fmt.Sprintf("nothing-to-do autoinstall, %d modules installed for %s", n, k)
	b.res.Rows = append(b.res.Rows,
		row{ID: "3", Name: name, OursCmd: "dkms-autoinstall -k K", UpCmd: "dkms autoinstall -k K", Ours: st[0], Up: st[2]},
		row{ID: "3", Name: name, OursCmd: "dkms autoinstall -k K", UpCmd: "dkms autoinstall -k K", Ours: st[1], Up: st[2]})
	return nil
}

// upstreamPrerm is Debian's /etc/kernel/prerm.d/dkms of dkms 3.0.10 (which
// has no kernel_prerm action) with the trees and --no-depmod passed to each
// dkms call; its final rmdir of /lib/modules/<k>/updates is left out so the
// machine is never touched.
const upstreamPrerm = `#!/bin/sh
inst_kern=$1
dkms=$2
shift 2
"$dkms" status -k "$inst_kern" "$@" 2>/dev/null | while IFS=",:/ " read -r name vers _ arch status; do
	[ "$status" = "installed" ] || continue
	echo "dkms: removing: $name $vers ($inst_kern) ($arch)" >&2
	"$dkms" remove -m "$name" -v "$vers" -k "$inst_kern" -a "$arch" --no-depmod "$@"
done
exit 0
`

// runRemoval is scenario 4: a kernel with many DKMS modules is removed.
func (b *bench) runRemoval(ctx context.Context) error {
	n := 600
	reps := min(b.reps, 3)
	if b.small {
		n = 4
	}
	b.logf("kernel removal, %d installed modules", n)
	k := b.w.kernel
	dir := filepath.Join(b.w.dir, "removal")
	hook := filepath.Join(b.w.dir, "upstream-prerm.sh")
	if err := os.WriteFile(hook, []byte(upstreamPrerm), 0o755); err != nil {
		return err
	}
	var t trees
	fresh := func(c func(ctx context.Context) *exec.Cmd) func(context.Context, int) (*exec.Cmd, error) {
		return func(ctx context.Context, _ int) (*exec.Cmd, error) {
			var err error
			if t, err = installedTree(dir, n, k); err != nil {
				return nil, err
			}
			return c(ctx), nil
		}
	}
	check := func(out []byte, code int) error {
		if code != 0 {
			return fmt.Errorf("exit status %d", code)
		}
		if got := countFiles(filepath.Join(t.Inst, k)); got != 0 {
			return fmt.Errorf("%d module files left for %s", got, k)
		}
		links, _ := filepath.Glob(filepath.Join(t.DKMS, "*", "kernel-"+k+"-*"))
		if len(links) != 0 {
			return fmt.Errorf("%d kernel-%s links left", len(links), k)
		}
		return nil
	}
	st, err := compare(ctx, reps,
		job{label: "ours kernel_prerm", check: check, prepare: fresh(func(ctx context.Context) *exec.Cmd {
			return b.w.ours(ctx, t, "kernel_prerm", "-k", k, "--no-depmod")
		})},
		job{label: "ours dkms-autoinstall --remove", check: check, prepare: fresh(func(ctx context.Context) *exec.Cmd {
			return b.w.oursAuto(ctx, t, "--remove", "-k", k, "--no-depmod")
		})},
		job{label: "upstream prerm.d hook", check: check, maxReps: 1, prepare: fresh(func(ctx context.Context) *exec.Cmd {
			return b.w.cmd(ctx, "/bin/sh", append([]string{hook, k, b.w.upstream}, t.args()...)...)
		})})
	if err != nil {
		return err
	}
	name := fmt.Sprintf("kernel removal, %d modules installed for the kernel (--no-depmod)", n)
	b.res.Rows = append(b.res.Rows,
		row{ID: "4", Name: name, OursCmd: "dkms kernel_prerm -k K", UpCmd: "prerm.d/dkms hook (status, then remove per module)", Ours: st[0], Up: st[2]},
		row{ID: "4", Name: name, OursCmd: "dkms-autoinstall --remove -k K", UpCmd: "prerm.d/dkms hook (status, then remove per module)", Ours: st[1], Up: st[2]})
	return nil
}
