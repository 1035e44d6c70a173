package vm

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fakeKernel lays out a module tree with a modules.dep, enough for
// WriteInitramfs, without needing an installed kernel.
func fakeKernel(t *testing.T) Kernel {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "lib", "modules", "6.1.0-test")
	dep := ""
	for _, m := range []struct{ file, deps string }{
		{"kernel/drivers/misc/pvpanic/pvpanic-mmio.ko", "kernel/drivers/misc/pvpanic/pvpanic.ko"},
		{"kernel/drivers/misc/pvpanic/pvpanic.ko", ""},
		{"kernel/drivers/virtio/virtio.ko", ""},
		{"kernel/drivers/virtio/virtio_pci.ko", "kernel/drivers/virtio/virtio.ko"},
		{"kernel/net/9p/9pnet.ko", ""},
		{"kernel/net/9p/9pnet_virtio.ko", "kernel/net/9p/9pnet.ko kernel/drivers/virtio/virtio.ko"},
		{"kernel/fs/9p/9p.ko", "kernel/net/9p/9pnet.ko"},
		{"kernel/fs/overlayfs/overlay.ko", ""},
		{"kernel/drivers/block/virtio_blk.ko", "kernel/drivers/virtio/virtio.ko"},
		{"kernel/crypto/crc32c_generic.ko", ""},
		{"kernel/fs/ext4/ext4.ko", ""},
		{"extra/foo.ko", ""},
	} {
		p := filepath.Join(dir, m.file)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("\x7fELF "+m.file), 0o644); err != nil {
			t.Fatal(err)
		}
		dep += m.file + ": " + m.deps + "\n"
	}
	if err := os.WriteFile(filepath.Join(dir, "modules.dep"), []byte(dep), 0o644); err != nil {
		t.Fatal(err)
	}
	return Kernel{Version: "6.1.0-test", ModulesDir: dir}
}

func TestWriteInitramfs(t *testing.T) {
	t.Parallel()
	k := fakeKernel(t)
	busybox := filepath.Join(t.TempDir(), "busybox")
	if err := os.WriteFile(busybox, []byte("busybox binary"), 0o755); err != nil {
		t.Fatal(err)
	}
	overlay := t.TempDir()
	if err := os.MkdirAll(filepath.Join(overlay, "usr", "sbin"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(overlay, "usr", "sbin", "dkms"), []byte("dkms"), 0o755); err != nil {
		t.Fatal(err)
	}
	extra := filepath.Join(t.TempDir(), "hello.ko")
	if err := os.WriteFile(extra, []byte("\x7fELF hello"), 0o644); err != nil {
		t.Fatal(err)
	}
	const modPrefix = "/lib/modules/6.1.0-test/kernel/"
	tests := []struct {
		name    string
		guest   Guest
		inOrder []string // substrings of /init, in this order
		absent  []string
		files   []string
		noFiles []string
	}{
		{
			name:    "plain",
			guest:   Guest{Modules: []string{"foo"}, Files: map[string]string{"hello.ko": extra}, Script: "echo hi\n"},
			inOrder: []string{`pass() { verdict '\020'; }`, `verdict '\021'`, "insmod " + modPrefix + "drivers/misc/pvpanic/pvpanic.ko", "insmod " + modPrefix + "drivers/misc/pvpanic/pvpanic-mmio.ko", "insmod /lib/modules/6.1.0-test/extra/foo.ko", "/bin/sh /vm/test.sh", "&& pass"},
			absent:  []string{"9p", "switch_root"},
			files:   []string{"init", "bin/busybox", "vm/test.sh", "vm/hello.ko", "lib/modules/6.1.0-test/extra/foo.ko"},
			noFiles: []string{"lib/modules/6.1.0-test/kernel/fs/9p/9p.ko"},
		},
		{
			name:    "host root",
			guest:   Guest{HostRoot: true, Overlay: overlay, Script: "true\n"},
			inOrder: []string{"virtio.ko", "virtio_pci.ko", "9pnet.ko", "9pnet_virtio.ko", "9p.ko", "overlay.ko", "mount -t 9p", "mount -t overlay", "cp -a /vm/root/. /newroot/", "chroot /newroot"},
			absent:  []string{"switch_root", "ext4"},
			files:   []string{"vm/root/usr/sbin/dkms", "lib/modules/6.1.0-test/kernel/fs/9p/9p.ko"},
		},
		{
			name:    "disk",
			guest:   Guest{RootDisk: true, Script: "true\n"},
			inOrder: []string{"virtio_blk.ko", "crc32c_generic.ko", "ext4.ko", "mount -t ext4 /dev/vda /newroot", "vmtest.service", "exec switch_root /newroot /sbin/init"},
			absent:  []string{"mount -t 9p"},
			files:   []string{"vm/run.sh", "vm/vmtest.service"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			g := tt.guest
			g.Kernel = k
			g.Busybox = busybox
			out := filepath.Join(t.TempDir(), "initramfs.cpio")
			if err := g.WriteInitramfs(out); err != nil {
				t.Fatal(err)
			}
			f, err := os.Open(out)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			got, _ := readArchive(t, f)
			init := got["init"].data
			if !strings.HasPrefix(init, "#!/bin/busybox sh\n") {
				t.Errorf("/init does not start with the busybox shebang:\n%s", init)
			}
			pos := 0
			for _, want := range tt.inOrder {
				i := strings.Index(init[pos:], want)
				if i < 0 {
					t.Errorf("/init lacks %q after offset %d:\n%s", want, pos, init)
					break
				}
				pos += i + len(want)
			}
			for _, no := range tt.absent {
				if strings.Contains(init, no) {
					t.Errorf("/init unexpectedly contains %q", no)
				}
			}
			for _, name := range tt.files {
				if _, ok := got[name]; !ok {
					t.Errorf("archive lacks %s", name)
				}
			}
			for _, name := range tt.noFiles {
				if _, ok := got[name]; ok {
					t.Errorf("archive unexpectedly has %s", name)
				}
			}
			if got["vm/test.sh"].data != g.Script {
				t.Errorf("test.sh = %q, want %q", got["vm/test.sh"].data, g.Script)
			}
		})
	}
}

func TestWriteInitramfsErrors(t *testing.T) {
	t.Parallel()
	k := fakeKernel(t)
	out := filepath.Join(t.TempDir(), "i.cpio")
	if err := (Guest{Kernel: k, Busybox: "/nonexistent/busybox"}).WriteInitramfs(out); err == nil || !strings.Contains(err.Error(), "busybox-static") {
		t.Errorf("missing busybox: err = %v", err)
	}
	if err := (Guest{Kernel: k, Busybox: "/bin/sh", Modules: []string{"nosuch"}}).WriteInitramfs(out); err == nil || !strings.Contains(err.Error(), "nosuch") {
		t.Errorf("unknown module: err = %v", err)
	}
}
