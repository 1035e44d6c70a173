#!/bin/sh
# Derive an image from one mkimage.sh made, with some Debian packages
# installed on the host by dpkg in a chroot: what the scenario needs but does
# not test (dpkg-dev, perl and the other run-time dependencies of a dkms, the
# second kernel's arch-independent headers), so the guest does not unpack
# them under emulation on every run.
#
# Usage: deriveimage.sh BASE.raw OUTPUT.raw PACKAGE.deb...
#
# Needs root, a loop device and util-linux's unshare; the mount lives in a
# private mount namespace and goes with it. BASE is only read.
set -eu

base=${1:?usage: deriveimage.sh BASE.raw OUTPUT.raw PACKAGE.deb...}
out=${2:?usage: deriveimage.sh BASE.raw OUTPUT.raw PACKAGE.deb...}
shift 2
[ $# -gt 0 ] || { echo "deriveimage.sh: no packages given" >&2; exit 2; }

tmp=$(mktemp -d "${out}.tmp.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM
mkdir "$tmp/root" "$tmp/debs"
cp "$@" "$tmp/debs/"
cp --sparse=always "$base" "$tmp/image.raw"

# The chroot gets /proc for the maintainer scripts and a policy-rc.d that
# keeps them from starting services; both are gone from the result.
# shellcheck disable=SC2016 # expanded by the inner shell
unshare -m sh -eu -c '
	tmp=$1
	mount -o loop "$tmp/image.raw" "$tmp/root"
	mount -t proc proc "$tmp/root/proc"
	mkdir "$tmp/root/tmp/vmtest-debs"
	cp "$tmp"/debs/*.deb "$tmp/root/tmp/vmtest-debs/"
	printf "#!/bin/sh\nexit 101\n" > "$tmp/root/usr/sbin/policy-rc.d"
	chmod 755 "$tmp/root/usr/sbin/policy-rc.d"
	status=0
	chroot "$tmp/root" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive \
		sh -c "dpkg -i --force-unsafe-io /tmp/vmtest-debs/*.deb" || status=$?
	rm -rf "$tmp/root/tmp/vmtest-debs" "$tmp/root/usr/sbin/policy-rc.d"
	umount "$tmp/root/proc"
	umount "$tmp/root"
	exit "$status"
' deriveimage "$tmp"
mv "$tmp/image.raw" "$out"
echo "image written to $out"
