package engine

import (
	"context"
	"io"
	"os"
	"strings"

	"github.com/dkms-go/dkms/internal/depmod"
	"github.com/dkms-go/dkms/internal/fsops"
	"github.com/dkms-go/dkms/internal/proc"
	"github.com/dkms-go/dkms/internal/tree"

	"github.com/dkms-go/dkms/internal/dkmsconf"
	"github.com/dkms-go/dkms/internal/ui"
)

// depmodStep is §7.4: always reported as done.
func (e *Engine) depmodStep(ctx context.Context, k string) {
	e.P.Invoke(ctx, ui.Step{
		Desc: "Running depmod", Cmd: "do_depmod " + k, Verbose: e.Verbose, Dots: ui.DotsFor(e.O.Module),
		Fn: func(w, ew io.Writer) int { e.depmod(ctx, k, w, ew); return 0 },
	})
}

// depmod's own messages go to ew, dkms's to w.
func (e *Engine) depmod(ctx context.Context, k string, w, ew io.Writer) {
	if e.O.NoDepmod || e.OSName != "Linux" {
		return
	}
	depmod.Run(ctx, e.L, k, w, ew)
}

// postTransaction is §7.7.
func (e *Engine) postTransaction(ctx context.Context) {
	if e.PostTrans == "" {
		return
	}
	logPath := e.L.PostTransactionLog()
	e.warn(fsops.WriteFile(logPath, nil, 0o644))
	k := ""
	if len(e.Kernels) > 0 {
		k = e.Kernels[0]
	}
	cmd := e.PostTrans
	if v, ok := dkmsconf.Reread(ctx, e.L.EtcDir(), e.FW, "post_transaction", k, e.Env, e.P.Stderr()); ok {
		cmd = v
	}
	if cmd == "" {
		return
	}
	e.P.Invoke(ctx, ui.Step{Desc: "Executing post-transaction command", Cmd: cmd, Env: e.scriptEnv(),
		Log: logPath, Verbose: e.Verbose, Dots: ui.DotsFor(e.O.Module)})
}

// modprobeOnInstall is §7.8.
func (e *Engine) modprobeOnInstall(ctx context.Context, k string) {
	if !e.O.ModprobeOnInstall && e.FW["modprobe_on_install"] == "" {
		return
	}
	if k != e.CurrentKern {
		return
	}
	ui.RunShell(ctx, "find /sys/devices -name modalias -print0 | xargs -0 cat | sort -u | xargs modprobe -a -b -q",
		"/", e.Env, io.Discard, nil)
	if fsops.Exists("/lib/systemd/system/systemd-modules-load.service") {
		proc.Run(proc.Command(ctx, false, "systemctl", "restart", "systemd-modules-load.service"))
	}
}

// rebuildDependents is §7.9 checking, at the end of an install pair.
func (e *Engine) rebuildDependents(ctx context.Context, pc *pairCtx) error {
	k, a := pc.Kernel, pc.Arch
	type cand struct{ m, v string }
	var todo []cand
	for _, m := range e.tree.Modules("") {
		for _, v := range e.tree.Versions(m, "") {
			if !e.tree.IsBuilt(tree.Target{Module: m, Version: v, Kernel: k, Arch: a}) {
				continue
			}
			c, err := e.readConf(ctx, confRead{Target: tree.Target{Module: m, Version: v, Kernel: k, Arch: a}})
			if err != nil {
				return err
			}
			if len(c.BuildDepends) == 0 || !c.BuildDependsRebuild {
				continue
			}
			if _, err := e.readConf(ctx, confRead{Target: tree.Target{Module: m, Version: v, Kernel: k, Arch: a}, strict: true}); err != nil {
				return err
			}
			for _, dep := range c.BuildDepends {
				cur := e.tree.LatestVersion(dep)
				if cur == "" {
					continue
				}
				b, err := os.ReadFile(e.L.DepRecord(m, v, k, a, dep))
				if err != nil || strings.TrimSpace(string(b)) != cur {
					todo = append(todo, cand{m, v})
					break
				}
			}
		}
	}
	for _, t := range todo {
		e.P.Line("")
		e.P.Line("Rebuilding module " + t.m + "/" + t.v + " due to updated dependencies")
		e.P.Line("")
		// Same pair and process: the kernel is prepared at most once
		// (§6.2 step 7), so the rebuild prints no second preparation.
		sub := &pairCtx{Target: tree.Target{Module: t.m, Version: t.v, Kernel: k, Arch: a},
			prepared: pc.prepared, signer: pc.signer, buildEnv: pc.buildEnv, cc: pc.cc}
		if err := e.uninstallBody(ctx, sub, false); err != nil {
			return err
		}
		if err := fsops.RemoveTreeAtomic(e.L.BuiltDir(t.m, t.v, k, a)); err != nil {
			return e.P.Die(6, "Could not delete the built module: "+err.Error())
		}
		if kd := e.L.KernelDir(t.m, t.v, k); !fsops.HasSubdir(kd) {
			e.warn(fsops.RemoveTree(kd))
		}
		err := e.installPair(ctx, sub)
		pc.prepared, pc.signer, pc.buildEnv, pc.cc = sub.prepared, sub.signer, sub.buildEnv, sub.cc
		if err != nil {
			return err
		}
	}
	return nil
}
