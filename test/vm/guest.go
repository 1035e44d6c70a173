package vm

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// HostRootModules are the kernel modules the guest needs to mount the host's
// root over 9p with an overlay on top: Debian builds all of them as modules.
var HostRootModules = []string{"virtio_pci", "9pnet_virtio", "9p", "overlay"}

// DiskRootModules mount an ext4 image on a virtio disk. crc32c is a soft
// dependency of ext4 (modules.softdep), so modules.dep alone misses it.
var DiskRootModules = []string{"virtio_pci", "virtio_blk", "crc32c_generic", "ext4"}

// PanicModule drives QEMU's ISA pvpanic device (ACPI QEMU0001).
const PanicModule = "pvpanic_mmio"

// Guest describes what runs inside the VM.
type Guest struct {
	Kernel Kernel
	// Busybox is a statically linked busybox; default /bin/busybox.
	Busybox string
	// Modules are loaded from the kernel's module tree by the initramfs,
	// dependencies first; HostRootModules are added when HostRoot is set.
	Modules []string
	// HostRoot mounts the host's / read-only over 9p, stacks a tmpfs overlay
	// on it and runs Script chrooted into the result, so the guest has the
	// host's compiler, headers and tools but all its writes are thrown away.
	HostRoot bool
	// RootDisk boots the first disk (/dev/vda, a whole-device ext4 image as
	// mkimage.sh makes) with its own /sbin/init (systemd): the initramfs
	// mounts it, copies Overlay and the test into it and switches root. The
	// Script then runs as vmtest.service once the system is up.
	RootDisk bool
	// Overlay is a host directory laid out like a root file system, copied
	// over the guest's root (the overlay or the disk) before the test runs.
	Overlay string
	// Files maps guest paths to host files to put in the initramfs. With
	// HostRoot the files are also copied below /run/vm in the chroot.
	Files map[string]string
	// Script is run by /bin/sh as the test; exit status 0 means pass.
	Script string
}

// WriteInitramfs writes the guest's initramfs to path.
func (g Guest) WriteInitramfs(path string) error {
	busybox := g.Busybox
	if busybox == "" {
		busybox = "/bin/busybox"
	}
	deps, err := ReadModuleDeps(g.Kernel.ModulesDir)
	if err != nil {
		return err
	}
	var names []string
	// pvpanic is what turns a guest panic into a failing QEMU exit; Debian
	// builds it as a module. Built in, it needs no file; on a kernel without
	// it the guest still boots, only a panic then ends as "no verdict".
	if deps.Has(PanicModule) {
		names = append(names, PanicModule)
	}
	if g.HostRoot {
		names = append(names, HostRootModules...)
	}
	if g.RootDisk {
		names = append(names, DiskRootModules...)
	}
	names = append(names, g.Modules...)
	mods, err := deps.Resolve(names...)
	if err != nil {
		return err
	}

	var buf bytes.Buffer
	r := NewInitramfs(&buf)
	if err := r.CopyFile("bin/busybox", busybox); err != nil {
		return fmt.Errorf("busybox (install busybox-static): %w", err)
	}
	var guestMods []string
	for _, rel := range mods {
		name := "lib/modules/" + g.Kernel.Version + "/" + strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(rel, ".xz"), ".zst"), ".gz")
		if err := r.Module(name, filepath.Join(g.Kernel.ModulesDir, rel)); err != nil {
			return err
		}
		guestMods = append(guestMods, "/"+name)
	}
	files := make([]string, 0, len(g.Files))
	for dst := range g.Files {
		files = append(files, dst)
	}
	sort.Strings(files) // deterministic archives
	for _, dst := range files {
		if err := r.CopyFile("vm/"+clean(dst), g.Files[dst]); err != nil {
			return err
		}
	}
	if err := r.File("vm/test.sh", 0o755, []byte(g.Script)); err != nil {
		return err
	}
	if g.Overlay != "" {
		if err := r.Tree("vm/root", g.Overlay); err != nil {
			return err
		}
	}
	init := initScript(guestMods, g.HostRoot)
	if g.RootDisk {
		init = diskInitScript(guestMods)
		if err := r.File("vm/run.sh", 0o755, []byte(diskRunScript())); err != nil {
			return err
		}
		if err := r.File("vm/vmtest.service", 0o644, []byte(vmtestUnit)); err != nil {
			return err
		}
	}
	if err := r.File("init", 0o755, []byte(init)); err != nil {
		return err
	}
	if err := r.Close(); err != nil {
		return err
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		return fmt.Errorf("writing initramfs: %w", err)
	}
	return nil
}

// initScript is the guest's PID 1. It reports through isa-debug-exit so the
// host learns the verdict from QEMU's exit status rather than from console
// text, and powers off as a fallback should the port write fail.
func initScript(mods []string, hostRoot bool) string {
	var b strings.Builder
	b.WriteString(initPrologue(mods))
	if !hostRoot {
		b.WriteString(`cd /vm
/bin/sh /vm/test.sh
rc=$?
`)
	} else {
		b.WriteString(`mkdir -p /hostroot /rw /newroot
mount -t 9p -o trans=virtio,version=9p2000.L,ro,msize=262144,cache=loose hostroot /hostroot || fail "mount 9p host root"
mount -t tmpfs -o mode=0755 rw /rw || fail "mount tmpfs"
mkdir -p /rw/upper /rw/work
mount -t overlay -o lowerdir=/hostroot,upperdir=/rw/upper,workdir=/rw/work overlay /newroot || fail "mount overlay"
mount -t proc proc /newroot/proc
mount -t sysfs sysfs /newroot/sys
mount -t devtmpfs devtmpfs /newroot/dev
devlinks /newroot/dev
mkdir -p /newroot/dev/pts /newroot/dev/shm /newroot/run/vm
mount -t devpts devpts /newroot/dev/pts
mount -t tmpfs tmpfs /newroot/dev/shm
[ -d /vm/root ] && cp -a /vm/root/. /newroot/
cp -a /vm/. /newroot/run/vm/
echo "vmtest: host root mounted"
env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 TERM=dumb \
	chroot /newroot /bin/sh -c 'cd /run/vm && exec /bin/sh /run/vm/test.sh'
rc=$?
`)
	}
	b.WriteString(`echo "vmtest: script exit status $rc"
[ "$rc" -eq 0 ] && pass
fail "script exited with status $rc"
`)
	return b.String()
}

// initPrologue mounts the pseudo file systems, defines the verdict helpers and
// loads mods in order.
func initPrologue(mods []string) string {
	var b strings.Builder
	fmt.Fprintf(&b, `#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin
mkdir -p /proc /sys /dev /tmp
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
devlinks() {
	# udev would create these; bash's <(...) needs /dev/fd.
	ln -sfn /proc/self/fd "$1/fd"
	ln -sf /proc/self/fd/0 "$1/stdin"
	ln -sf /proc/self/fd/1 "$1/stdout"
	ln -sf /proc/self/fd/2 "$1/stderr"
}
devlinks /dev
verdict() {
	printf "$1" | dd of=/dev/port bs=1 seek=%d count=1 2>/dev/null
	echo "vmtest: could not write the verdict to the debug-exit port"
	poweroff -f
}
pass() { verdict '\%03o'; }
fail() { echo "vmtest: FAIL: $*"; verdict '\%03o'; }
echo "vmtest: init started"
`, DebugExitPort, PassValue, FailValue)
	for _, m := range mods {
		fmt.Fprintf(&b, "insmod %s || fail \"insmod %s\"\n", m, m)
	}
	// The kernel boots with quiet for speed under TCG; tests want to see the
	// info-level printk of the modules they load.
	b.WriteString("echo 7 > /proc/sys/kernel/printk\n")
	return b.String()
}

// diskInitScript mounts /dev/vda, installs the overlay tree and the test unit
// into it and hands over to the image's own init, so the test sees a real
// systemd boot.
func diskInitScript(mods []string) string {
	return initPrologue(mods) + `i=0
while [ ! -b /dev/vda ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done
mkdir -p /newroot
mount -t ext4 /dev/vda /newroot || fail "mount /dev/vda"
[ -d /vm/root ] && cp -a /vm/root/. /newroot/
rm -rf /newroot/vmtest
mkdir -p /newroot/vmtest /newroot/etc/systemd/system/multi-user.target.wants
cp /vm/test.sh /vm/run.sh /newroot/vmtest/
cp /vm/vmtest.service /newroot/etc/systemd/system/vmtest.service
ln -sf /etc/systemd/system/vmtest.service /newroot/etc/systemd/system/multi-user.target.wants/vmtest.service
echo "vmtest: switching to the disk's init"
umount /sys
mount --move /dev /newroot/dev
mount --move /proc /newroot/proc
exec switch_root /newroot /sbin/init
`
}

// diskRunScript runs the test under systemd and reports the verdict; it uses
// the image's own tools, as busybox is gone after switch_root.
func diskRunScript() string {
	return fmt.Sprintf(`#!/bin/sh
verdict() { printf "$1" | dd of=/dev/port bs=1 seek=%d count=1 2>/dev/null; }
/bin/sh /vmtest/test.sh
rc=$?
echo "vmtest: script exit status $rc"
# QEMU exits at the verdict without a shutdown: get the disk state out first,
# a later boot of the same overlay depends on it.
sync
if [ "$rc" -eq 0 ]; then verdict '\%03o'; fi
echo "vmtest: FAIL: script exited with status $rc"
verdict '\%03o'
`, DebugExitPort, PassValue, FailValue)
}

// vmtestUnit runs the test once the system has reached multi-user.target, so
// every boot-time unit under test has had its chance to run.
const vmtestUnit = `[Unit]
Description=dkms VM test script and verdict
After=multi-user.target

[Service]
Type=oneshot
ExecStart=/bin/sh /vmtest/run.sh
StandardOutput=journal+console
StandardError=journal+console
`

// Boot is a complete VM test run: a kernel, a guest, and QEMU settings.
type Boot struct {
	Guest    Guest
	Accel    *Accel // nil: ChooseAccel(ProbeHost())
	Cmdline  []string
	Disks    []Disk
	MemoryMB int
	CPUs     int // default 1
	Timeout  time.Duration
	CacheDir string // for the extracted vmlinux; default CacheDir()
	WorkDir  string // for the initramfs; default a temporary directory
	Console  func(line string)
	Logf     func(format string, args ...any)
}

// Run extracts the kernel (cached), writes the initramfs and boots it.
func (b Boot) Run(ctx context.Context) (Result, error) {
	accel := b.Accel
	if accel == nil {
		a, err := ChooseAccel(ProbeHost())
		if err != nil {
			return Result{}, err
		}
		accel = &a
	}
	cache := b.CacheDir
	if cache == "" {
		cache = CacheDir()
	}
	vmlinux, err := ExtractVmlinux(b.Guest.Kernel.Image, cache)
	if err != nil {
		return Result{}, err
	}
	work := b.WorkDir
	if work == "" {
		d, err := os.MkdirTemp("", "dkms-vm-")
		if err != nil {
			return Result{}, fmt.Errorf("work dir: %w", err)
		}
		defer os.RemoveAll(d)
		work = d
	}
	initrd := filepath.Join(work, "initramfs.cpio")
	if err := b.Guest.WriteInitramfs(initrd); err != nil {
		return Result{}, err
	}
	cfg := Config{
		Kernel:   vmlinux,
		Initrd:   initrd,
		Cmdline:  append([]string{"quiet"}, b.Cmdline...),
		Accel:    *accel,
		MemoryMB: b.MemoryMB,
		CPUs:     b.CPUs,
		Timeout:  b.Timeout,
		Console:  b.Console,
		Logf:     b.Logf,
	}
	if b.Guest.HostRoot {
		cfg.ShareRoot = "/"
	}
	cfg.Disks = b.Disks
	return Run(ctx, cfg)
}
