package main

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"strconv"
	"time"
)

const benchModC = `#include <linux/init.h>
#include <linux/module.h>

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("dkms benchmark module %[1]s");

static int counter;
module_param(counter, int, 0444);

static int __init %[1]s_init(void)
{
	pr_info("%[1]s: loaded, counter=%%d\n", counter);
	return 0;
}

static void __exit %[1]s_exit(void)
{
	pr_info("%[1]s: unloaded\n");
}

module_init(%[1]s_init);
module_exit(%[1]s_exit);
`

// configureScript burns a fixed amount of single-threaded CPU, like the
// configure step of large out-of-tree modules; the loop count is
// calibrated once so that it costs about the wanted CPU seconds.
const configureScript = `#!/bin/sh
i=0
while [ $i -lt %d ]; do i=$((i + 1)); done
`

// calibrateLoop returns the loop count of configureScript that costs about
// want of CPU time, measured with rusage so machine load does not skew it.
func (b *bench) calibrateLoop(ctx context.Context, want time.Duration) (int, error) {
	const probe = 200000
	cmd := b.w.cmd(ctx, "/bin/sh", "-c", fmt.Sprintf(configureScript[len("#!/bin/sh\n"):], probe))
	s, out, code, err := timeCmd(cmd, false)
	if err != nil || code != 0 {
		return 0, fmt.Errorf("calibrating the configure loop: %v (exit %d)\n%s", err, code, out)
	}
	if s.CPU <= 0 {
		return 0, fmt.Errorf("calibrating the configure loop: no CPU time measured")
	}
	return int(float64(probe) * want.Seconds() / s.CPU.Seconds()), nil
}

// buildTree adds n real modules (not built) and links the kernel headers.
func buildTree(dir string, n int, k, preBuild string) (trees, error) {
	t, err := newTrees(dir)
	if err != nil {
		return t, err
	}
	for i := 0; i < n; i++ {
		name := "benchmod" + strconv.Itoa(i)
		conf := simpleConf(name, "1.0")
		files := map[string]string{
			name + ".c": fmt.Sprintf(benchModC, name),
			"Makefile":  "obj-m := " + name + ".o\n",
		}
		if preBuild != "" {
			conf += "PRE_BUILD=\"configure.sh\"\n"
			files["configure.sh"] = preBuild
		}
		if err := t.add(modSpec{Name: name, Version: "1.0", Conf: conf, Files: files}); err != nil {
			return t, err
		}
	}
	return t, linkHeaders(t, k)
}

// runBuilds is scenario 5: a new kernel arrives and every module is built
// and installed for it from source, against the installed Debian headers.
func (b *bench) runBuilds(ctx context.Context) error {
	n, reps, pre := 8, min(b.reps, 2), 2*time.Second
	if b.small {
		n, pre = 2, 200*time.Millisecond
	}
	loops, err := b.calibrateLoop(ctx, pre)
	if err != nil {
		return err
	}
	k := b.w.kernel
	j := strconv.Itoa(b.cores)
	for _, c := range []struct {
		name, script string
	}{
		{fmt.Sprintf("autoinstall of %d small real modules for %s", n, k), ""},
		{fmt.Sprintf("autoinstall of %d small real modules, each with a single-threaded %v PRE_BUILD step", n, pre),
			fmt.Sprintf(configureScript, loops)},
	} {
		b.logf("%s", c.name)
		var t trees
		dir := filepath.Join(b.w.dir, "builds")
		fresh := func(mk func(ctx context.Context) *exec.Cmd) func(context.Context, int) (*exec.Cmd, error) {
			return func(ctx context.Context, _ int) (*exec.Cmd, error) {
				var err error
				if t, err = buildTree(dir, n, k, c.script); err != nil {
					return nil, err
				}
				return mk(ctx), nil
			}
		}
		check := func(out []byte, code int) error {
			if code != 0 {
				return fmt.Errorf("exit status %d", code)
			}
			kos, _ := filepath.Glob(filepath.Join(t.Inst, k, "updates", "dkms", "benchmod*.ko*"))
			if len(kos) != n {
				return fmt.Errorf("%d modules installed, want %d", len(kos), n)
			}
			return nil
		}
		st, err := compare(ctx, reps,
			job{label: "ours dkms-autoinstall -j " + j, check: check, prepare: fresh(func(ctx context.Context) *exec.Cmd {
				return b.w.oursAuto(ctx, t, "-k", k, "-j", j, "--strict", "--no-depmod")
			})},
			job{label: "upstream autoinstall", check: check, prepare: fresh(func(ctx context.Context) *exec.Cmd {
				return b.w.up(ctx, t, "autoinstall", "-k", k, "--no-depmod")
			})})
		if err != nil {
			return err
		}
		r := row{ID: "5", Name: c.name, Build: true,
			OursCmd: "dkms-autoinstall -k K -j " + j, UpCmd: "dkms autoinstall -k K", Ours: st[0], Up: st[1]}
		if c.script == "" {
			r.Note = "both build with make -j" + j + " and sign every module (same key, Debian's sign-file); upstream builds one module at a time"
		} else {
			r.Note = "the PRE_BUILD step is a shell loop calibrated to about " + pre.String() + " of CPU on this machine"
		}
		b.res.Rows = append(b.res.Rows, r)
	}
	return nil
}
