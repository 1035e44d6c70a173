#!/bin/sh
# autoinstall.sh KIND DKMS KERNEL PACKAGE.deb...
#
# Adds every package's module with DKMS, then builds and installs all of
# them for KERNEL in one autoinstall, timed: KIND "ours" runs
# dkms-autoinstall (beside DKMS), "debian" runs `DKMS autoinstall`. Runs as
# root in a private mount namespace, over the same tmpfs-backed overlays as
# lifecycle.sh. Prints "corpus: autoinstall STATUS WALL USER SYS" (seconds;
# user and sys of every process the run waited for), "corpus: installed N"
# and "corpus: cores N".
set -u
kind=$1
dkms=$2
k=$3
shift 3

say() { echo "corpus: $*"; }

[ "$(id -u)" -eq 0 ] || { say "error not root"; exit 2; }
[ -d "/lib/modules/$k/build/include" ] || { say "error no headers for $k"; exit 2; }
if cmp -s /proc/1/mountinfo /proc/self/mountinfo; then
	say "error not in a private mount namespace"
	exit 2
fi
scratch=$(mktemp -d)
mount -t tmpfs -o mode=0755 corpus "$scratch" || exit 2
for d in /etc /usr/src /lib/modules /var/lib; do
	n=$(echo "$d" | tr / _)
	mkdir -p "$scratch/$n/upper" "$scratch/$n/work"
	mount -t overlay overlay -o "lowerdir=$d,upperdir=$scratch/$n/upper,workdir=$scratch/$n/work" "$d" || exit 2
done
rm -rf /var/lib/dkms
mkdir -p /var/lib/dkms /etc/dkms/framework.conf.d
echo 'try_sign_modules="true"' > /etc/dkms/framework.conf.d/corpus.conf

n=0
for deb in "$@"; do
	n=$((n + 1))
	dpkg-deb -x "$deb" "$scratch/pkg$n" || exit 2
	for conf in "$scratch/pkg$n"/usr/src/*/dkms.conf; do
		src=${conf%/dkms.conf}
		cp -a "$src" /usr/src/
		"$dkms" add "/usr/src/$(basename "$src")" > "$scratch/add$n.log" 2>&1 || { say "error add $deb"; cat "$scratch/add$n.log"; exit 1; }
	done
done
if [ "$kind" = ours ]; then
	set -- "$(dirname "$dkms")/dkms-autoinstall" -k "$k"
else
	set -- "$dkms" autoinstall -k "$k"
fi
/usr/bin/time -o "$scratch/time" -f "%e %U %S" "$@" > "$scratch/auto.log" 2>&1
rc=$?
say "autoinstall $rc $(tail -n 1 "$scratch/time")"
[ "$rc" -eq 0 ] || sed "s/^/corpus-log: /" "$scratch/auto.log"
say "installed $("$dkms" status -k "$k" 2>/dev/null | grep -c ': installed')"
say "packages $n"
say "cores $(nproc)"
