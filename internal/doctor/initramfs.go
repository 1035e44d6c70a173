package doctor

import (
	"context"

	"github.com/dkms-go/dkms/internal/initramfs"
)

// initramfs reads the kernel's initramfs once and reports the installed
// DKMS modules that a different copy in the image shadows: the early boot
// loads that copy, and the kernel never looks at the DKMS one.
func (kc *kernelCtx) initramfs(ctx context.Context) {
	if len(kc.shadowMods) == 0 {
		return
	}
	var mods []initramfs.DKMSModule
	for _, m := range kc.shadowMods {
		mods = append(mods, initramfs.DKMSModule{Module: m.module, Version: m.version, Name: m.name, Path: m.path})
	}
	rep, err := initramfs.Check(ctx, initramfs.Options{Kernel: kc.k, BootDir: kc.o.sys("/boot"),
		InstallTree: kc.o.InstallTree, Modules: mods, Policy: initramfs.PolicyWarn, CacheDir: kc.o.InitramfsCache})
	if err != nil {
		kc.kr.Problems = append(kc.kr.Problems, Problem{Verdict: Unchecked, Detail: "reading the initramfs: " + err.Error()})
		return
	}
	kc.kr.Initramfs = rep.Image
	for _, m := range rep.Modules {
		if m.Status != initramfs.StatusShadowed {
			continue
		}
		row := kc.shadowRows[m.Path]
		if row == nil {
			continue
		}
		kc.kr.add(row, Problem{Verdict: Shadowed,
			Detail:  "the initramfs " + rep.Image + " holds another " + m.Name + " (" + m.LoadsFirst + "), which loads first at boot",
			Command: regenCommand(kc.o.Distro, kc.k)})
	}
}

func regenCommand(distro, k string) string {
	switch {
	case hasPrefix(distro, "debian", "ubuntu"):
		return "update-initramfs -u -k " + k
	case hasPrefix(distro, "arch"):
		return "mkinitcpio -P"
	}
	return "dracut -f --kver " + k
}

func hasPrefix(s string, prefixes ...string) bool {
	for _, p := range prefixes {
		if len(s) >= len(p) && s[:len(p)] == p {
			return true
		}
	}
	return false
}
