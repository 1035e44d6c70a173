#!/bin/sh
# Build the Debian image for the slow VM scenarios (scenarios 4 and 6):
# systemd as PID 1, gcc, make and the headers of the kernel under test, so
# dkms can build modules inside the guest at boot.
#
# Usage: mkimage.sh OUTPUT.raw KERNEL-VERSION [SUITE]
#
# The result is a raw ext4 file system image (no partition table: the test
# initramfs mounts /dev/vda directly). It is never modified by the tests, which
# boot it with snapshot=on or through a qcow2 overlay. Needs root, mmdebstrap
# and e2fsprogs; downloads about 350 MB from the configured Debian mirror.
set -eu

out=${1:?usage: mkimage.sh OUTPUT.raw KERNEL-VERSION [SUITE]}
kver=${2:?usage: mkimage.sh OUTPUT.raw KERNEL-VERSION [SUITE]}
suite=${3:-bookworm}

tmp=$(mktemp -d "${out}.tmp.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM

# The hooks are single-quoted on purpose: mmdebstrap runs them with the root
# directory as $1.
# shellcheck disable=SC2016
# unsafe-io: nothing here needs fsync, and under emulation-free chroot
# installation it saves much of the time. initramfs-tools stays in the image because
# scenario 6 checks the initramfs made after our postinst hook.
mmdebstrap --variant=minbase --mode=root \
	--dpkgopt=force-unsafe-io \
	--include="systemd-sysv,udev,kmod,gcc,make,libc6-dev,openssl,initramfs-tools,zstd,linux-image-$kver,linux-headers-$kver" \
	--customize-hook='echo dkms-vmtest > "$1/etc/hostname"' \
	--customize-hook='printf "/dev/vda / ext4 defaults 0 1\n" > "$1/etc/fstab"' \
	--customize-hook='chroot "$1" passwd -d root' \
	--customize-hook='chroot "$1" systemctl set-default multi-user.target' \
	--customize-hook='chroot "$1" systemctl mask systemd-timesyncd.service apt-daily.timer apt-daily-upgrade.timer e2scrub_reap.service man-db.timer fstrim.timer getty@tty1.service serial-getty@ttyS0.service 2>/dev/null || true' \
	"$suite" "$tmp/root"

# mke2fs -d fills the file system from a directory without mounting anything.
rm -f "$out.new"
mkfs.ext4 -q -F -L dkms-vmtest -d "$tmp/root" "$out.new" 4G
mv "$out.new" "$out"
echo "image written to $out"
