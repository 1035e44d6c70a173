package hook

import (
	"context"
	"os"
	"os/exec"

	"github.com/sirupsen/logrus"

	"github.com/dkms-project/dkms/internal/devices"
	"github.com/dkms-project/dkms/internal/engine"
	"github.com/dkms-project/dkms/internal/initramfs"
	"github.com/dkms-project/dkms/internal/modinfo"
)

// afterInstall loads new modules for present hardware (first boot) and
// checks the kernel's initramfs for shadowing copies.
func (r *Runner) afterInstall(ctx context.Context, o Options, k string, res *engine.AutoResult) {
	e := r.E
	mods := e.InstalledModules(ctx, k, e.Machine)
	load := o.Boot
	if o.Load != nil {
		load = *o.Load
	}
	if v := e.FW["load_on_boot"]; v == "no" || v == "n" || v == "0" {
		load = o.Load != nil && *o.Load
	}
	if load && k == e.CurrentKern {
		r.loadForHardware(ctx, mods)
	}
	r.checkInitramfs(ctx, o, k, mods)
}

// loadForHardware modprobes the DKMS modules whose aliases match a device
// present now, so a new GPU or Wi-Fi driver works without another reboot.
func (r *Runner) loadForHardware(ctx context.Context, mods []engine.InstalledModule) {
	aliases, err := devices.Modaliases(sysRoot())
	if err != nil {
		r.Log.WithField("PHASE", "load").Warnf("reading device aliases: %v", err)
		return
	}
	table := map[string][]string{}
	for _, m := range mods {
		info, err := modinfo.Read(m.Built)
		if err != nil {
			continue
		}
		table[m.Name] = info.All("alias")
	}
	for _, name := range devices.Matching(aliases, table) {
		out, err := exec.CommandContext(ctx, "modprobe", name).CombinedOutput()
		l := r.Log.WithFields(logrus.Fields{"MODULE": name, "PHASE": "load"})
		if err != nil {
			l.Warnf("modprobe %s failed: %v: %s", name, err, out)
			continue
		}
		l.Infof("loaded %s for a device present now", name)
	}
}

func sysRoot() string {
	if r := os.Getenv("DKMS_SYSFS_ROOT"); r != "" {
		return r
	}
	return "/"
}

// checkInitramfs runs the initramfs check after an install, when the
// kernel's image already exists (on Debian the initramfs hook runs after
// ours, so a missing image is normal there).
func (r *Runner) checkInitramfs(ctx context.Context, o Options, k string, mods []engine.InstalledModule) {
	policy := initramfs.Policy(r.E.FW["initramfs_check"])
	if policy == "" {
		policy = "warn"
	}
	if policy == "off" || len(mods) == 0 {
		return
	}
	if _, err := initramfs.Locate("", k, ""); err != nil {
		return
	}
	var list []initramfs.DKMSModule
	for _, m := range mods {
		list = append(list, initramfs.DKMSModule{Module: m.Module, Version: m.Version, Name: m.Name, Path: m.Path})
	}
	rep, err := initramfs.Check(ctx, initramfs.Options{Kernel: k, InstallTree: r.E.L.InstallTree, Modules: list, Policy: policy})
	l := r.Log.WithFields(logrus.Fields{"KERNEL": k, "PHASE": "initramfs"})
	if err != nil {
		l.Warnf("initramfs check: %v", err)
		return
	}
	if rep.Shadowed() {
		rep.WriteText(os.Stderr)
		l.Warn("the initramfs holds other copies of DKMS modules; they load first (see above)")
	}
}
