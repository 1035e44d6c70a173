#!/bin/sh
# Installs the Debian packages the build, the tests and the demo need.
# Idempotent: apt runs only when something is missing.
set -eu
PKGS="linux-headers-amd64 linux-image-amd64 gcc make kmod openssl patch xz-utils zstd lz4 bzip2 lzip lzop ncompress
cpio initramfs-tools busybox-static rpm systemd qemu-system-x86 qemu-utils mmdebstrap e2fsprogs shellcheck file hyperfine gnuplot-nox time
debhelper dpkg-dev lintian zsh apt-utils"
missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$' || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
	echo "deps: missing packages:$missing (run as root to install them)" >&2
	exit 1
fi
echo "deps: installing$missing" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >/dev/null
