package vm

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

const testModulesDep = `kernel/fs/overlayfs/overlay.ko:
kernel/fs/9p/9p.ko: kernel/net/9p/9pnet.ko kernel/fs/fscache/fscache.ko kernel/fs/netfs/netfs.ko
kernel/fs/fscache/fscache.ko: kernel/fs/netfs/netfs.ko
kernel/fs/netfs/netfs.ko:
kernel/net/9p/9pnet.ko:
kernel/net/9p/9pnet_virtio.ko.xz: kernel/net/9p/9pnet.ko kernel/drivers/virtio/virtio_ring.ko kernel/drivers/virtio/virtio.ko
kernel/drivers/virtio/virtio_ring.ko:
kernel/drivers/virtio/virtio.ko:
kernel/drivers/foo/foo-bar.ko.zst: kernel/drivers/foo/cyc_a.ko
kernel/drivers/foo/cyc_a.ko: kernel/drivers/foo/cyc_b.ko
kernel/drivers/foo/cyc_b.ko: kernel/drivers/foo/cyc_a.ko
kernel/drivers/foo/needs_ghost.ko: kernel/drivers/foo/ghost.ko
kernel/drivers/foo/uses_builtin.ko: kernel/drivers/virtio/virtio_mmio.ko
`

func TestResolve(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "modules.dep"), []byte(testModulesDep), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "modules.builtin"), []byte("kernel/drivers/virtio/virtio_mmio.ko\nkernel/fs/ext4/ext4.ko\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	deps, err := ReadModuleDeps(dir)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		names   []string
		want    []string
		wantErr string
	}{
		{[]string{"overlay"}, []string{"kernel/fs/overlayfs/overlay.ko"}, ""},
		{[]string{"9p"}, []string{"kernel/net/9p/9pnet.ko", "kernel/fs/netfs/netfs.ko", "kernel/fs/fscache/fscache.ko", "kernel/fs/9p/9p.ko"}, ""},
		{[]string{"9pnet_virtio", "9p"}, []string{"kernel/net/9p/9pnet.ko", "kernel/drivers/virtio/virtio_ring.ko", "kernel/drivers/virtio/virtio.ko", "kernel/net/9p/9pnet_virtio.ko.xz", "kernel/fs/netfs/netfs.ko", "kernel/fs/fscache/fscache.ko", "kernel/fs/9p/9p.ko"}, ""},
		{[]string{"9pnet-virtio"}, []string{"kernel/net/9p/9pnet.ko", "kernel/drivers/virtio/virtio_ring.ko", "kernel/drivers/virtio/virtio.ko", "kernel/net/9p/9pnet_virtio.ko.xz"}, ""},
		{[]string{"ext4"}, nil, ""},
		{[]string{"uses_builtin"}, []string{"kernel/drivers/foo/uses_builtin.ko"}, ""},
		{[]string{"overlay", "overlay"}, []string{"kernel/fs/overlayfs/overlay.ko"}, ""},
		{[]string{"nosuch"}, nil, "module nosuch not in"},
		{[]string{"needs_ghost"}, nil, "module ghost (needed by needs_ghost)"},
		{[]string{"foo_bar"}, nil, "cycle"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.names, ","), func(t *testing.T) {
			t.Parallel()
			got, err := deps.Resolve(tt.names...)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Resolve(%v) =\n %q\nwant\n %q", tt.names, got, tt.want)
			}
		})
	}
}

func TestModuleName(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"kernel/net/9p/9pnet_virtio.ko":  "9pnet_virtio",
		"kernel/foo/snd-hda-intel.ko.xz": "snd_hda_intel",
		"dkms_hello.ko.zst":              "dkms_hello",
		"virtio-pci":                     "virtio_pci",
	} {
		if got := ModuleName(in); got != want {
			t.Errorf("ModuleName(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestResolveInstalledKernel checks the real modules.dep of the installed
// kernel, where the host-root modules must resolve with their dependencies
// first.
func TestResolveInstalledKernel(t *testing.T) {
	t.Parallel()
	k, err := FindKernel("/", os.Getenv("DKMS_VM_KERNEL"))
	if err != nil {
		t.Skipf("no installed kernel: %v", err)
	}
	deps, err := ReadModuleDeps(k.ModulesDir)
	if err != nil {
		t.Fatal(err)
	}
	files, err := deps.Resolve(HostRootModules...)
	if err != nil {
		t.Fatal(err)
	}
	pos := map[string]int{}
	for i, f := range files {
		pos[ModuleName(f)] = i
		if _, err := os.Stat(filepath.Join(k.ModulesDir, f)); err != nil {
			t.Errorf("resolved file missing: %v", err)
		}
	}
	for _, pair := range [][2]string{{"virtio", "virtio_pci"}, {"9pnet", "9pnet_virtio"}, {"9pnet", "9p"}} {
		dep, mod := pair[0], pair[1]
		di, ok1 := pos[dep]
		mi, ok2 := pos[mod]
		if ok1 && ok2 && di > mi {
			t.Errorf("%s loaded after %s in %q", dep, mod, files)
		}
	}
	if _, ok := pos["overlay"]; !ok && !deps.builtin["overlay"] {
		t.Errorf("overlay neither resolved nor built in: %q", files)
	}
}
