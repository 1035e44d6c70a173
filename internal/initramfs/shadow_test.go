package initramfs

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestShadowingEndToEnd: the real mkinitramfs puts the kernel's loop.ko in
// an image; a DKMS build of "loop" installed into a temporary module tree
// is reported shadowed; the regenerate policy rebuilds the image from that
// tree into a temporary path, and the report turns clean.
//
// mkinitramfs only reads /lib/modules/K, so the generator runs in a private
// mount namespace with the temporary tree bind-mounted there; the machine's
// real tree is never modified. That needs root and unshare.
func TestShadowingEndToEnd(t *testing.T) {
	t.Parallel()
	img := realImage(t, Zstd)
	if os.Geteuid() != 0 {
		t.Skip("needs root to bind-mount the temporary module tree in a private mount namespace")
	}
	if _, err := exec.LookPath("unshare"); err != nil {
		t.Skip("unshare not installed (util-linux)")
	}
	if err := exec.Command("unshare", "-m", "true").Run(); err != nil {
		t.Skipf("cannot create a mount namespace: %v", err)
	}

	work := t.TempDir()
	boot := filepath.Join(work, "boot")
	root := filepath.Join(work, "root")
	tree := filepath.Join(root, "lib/modules")
	kdir := filepath.Join(tree, debianKernel)
	realK := "/lib/modules/" + debianKernel
	for _, d := range []string{boot, filepath.Join(kdir, "kernel/drivers/block"), filepath.Join(kdir, "updates/dkms")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	image := filepath.Join(boot, "initrd.img-"+debianKernel)
	if err := exec.Command("cp", img, image).Run(); err != nil {
		t.Fatal(err)
	}
	// The temporary tree holds the kernel's loop.ko and a DKMS build that
	// differs from it (a rebuilt module always differs in its build notes).
	copies := [][2]string{
		{"modules.order", "modules.order"}, {"modules.builtin", "modules.builtin"},
		{"modules.builtin.modinfo", "modules.builtin.modinfo"},
		{"kernel/drivers/block/loop.ko", "kernel/drivers/block/loop.ko"},
		{"kernel/drivers/block/loop.ko", "updates/dkms/loop.ko"},
	}
	for _, c := range copies {
		if out, err := exec.Command("cp", filepath.Join(realK, c[0]), filepath.Join(kdir, c[1])).CombinedOutput(); err != nil {
			t.Fatalf("%v: %s", err, out)
		}
	}
	dkmsLoop := filepath.Join(kdir, "updates/dkms/loop.ko")
	f, err := os.OpenFile(dkmsLoop, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString("DKMS build of loop\n"); err != nil {
		t.Fatal(err)
	}
	f.Close()
	if out, err := exec.Command("depmod", "-b", root, debianKernel).CombinedOutput(); err != nil {
		t.Fatalf("depmod: %v: %s", err, out)
	}

	conf := filepath.Join(work, "conf")
	if err := writeConf(conf, "zstd", "loop"); err != nil {
		t.Fatal(err)
	}
	regenerated := filepath.Join(work, "regenerated.img")
	script := `mount --bind "$1" "$2" && TMPDIR="$3" exec mkinitramfs -d "$4" -o "$5" "$6"`
	gen := []string{"unshare", "-m", "sh", "-c", script, "sh", kdir, realK, work, conf, regenerated, debianKernel}

	mod := DKMSModule{Module: "loop-dkms", Version: "1.0", Name: "loop", Path: dkmsLoop}
	opts := Options{Kernel: debianKernel, BootDir: boot, InstallTree: tree, Modules: []DKMSModule{mod}, Policy: PolicyWarn}
	rep, err := Check(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	inImage := "usr/lib/modules/" + debianKernel + "/kernel/drivers/block/loop.ko"
	if !rep.Shadowed() || rep.Modules[0].LoadsFirst != inImage {
		t.Fatalf("want loop shadowed by %s, got %+v", inImage, rep.Modules)
	}

	// The regenerated image goes to its own path, named like kernel-install's
	// layout; the check must follow it.
	opts.Policy, opts.Generator, opts.Image = PolicyRegenerate, gen, regenerated
	if err := exec.Command("cp", image, regenerated).Run(); err != nil {
		t.Fatal(err)
	}
	rep, err = Check(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	var text strings.Builder
	if err := rep.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	if !rep.Regenerated || rep.Shadowed() || rep.Modules[0].Status != StatusIdentical || rep.GeneratorError != "" {
		t.Fatalf("after regeneration:\n%s", text.String())
	}
	want := "usr/lib/modules/" + debianKernel + "/updates/dkms/loop.ko"
	if got := rep.Modules[0].InitramfsPaths; len(got) != 1 || got[0] != want {
		t.Errorf("regenerated image holds %q, want only %s", got, want)
	}
	if _, err := os.Stat(filepath.Join(realK, "updates/dkms/loop.ko")); err == nil {
		t.Error("the test leaked into the real module tree")
	}
	t.Logf("report:\n%s", text.String())
}
