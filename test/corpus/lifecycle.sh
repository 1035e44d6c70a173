#!/bin/sh
# lifecycle.sh DKMS PACKAGE.deb KERNEL
#
# Runs one Debian -dkms package through add, build, install, status,
# uninstall and remove with the dkms program DKMS (ours, or Debian's unpacked
# with dpkg-deb -x), for KERNEL. Must run as root inside a private mount
# namespace (unshare -m --propagation private): it stacks tmpfs-backed
# overlays over /etc, /usr/src, /lib/modules and /var/lib, so nothing it does
# reaches the host's trees. Prints "corpus: STEP STATUS SECONDS" for every
# step and "corpus: check NAME ok|FAIL detail" for every check.
set -u
dkms=$1
deb=$2
k=$3

say() { echo "corpus: $*"; }
check() { # check NAME CONDITION-STATUS DETAIL
	if [ "$2" -eq 0 ]; then say "check $1 ok"; else say "check $1 FAIL $3"; fi
}

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
# Whatever the host has registered must not decide the result; the host's
# signing key stays out too, the first build makes a new one.
rm -rf /var/lib/dkms
mkdir -p /var/lib/dkms
# dkms 3.4 does not sign in a mount namespace other than PID 1's (it takes
# it for a chroot, delta D12.1); this one is ours, so signing is asked for.
# Debian's dkms 3.0.10 has no such test and ignores the key.
mkdir -p /etc/dkms/framework.conf.d
echo 'try_sign_modules="true"' > /etc/dkms/framework.conf.d/corpus.conf

dpkg-deb -x "$deb" "$scratch/pkg" || exit 2
src=$(find "$scratch/pkg/usr/src" -mindepth 2 -maxdepth 2 -name dkms.conf 2>/dev/null | head -n 1)
if [ -z "$src" ]; then
	say "error no /usr/src/*/dkms.conf in $deb"
	exit 2
fi
src=${src%/dkms.conf}
cp -a "$scratch/pkg/usr/src/." /usr/src/
dir=/usr/src/$(basename "$src")

# step NAME COMMAND...: runs it, output to $scratch/NAME.log, times it.
step() {
	name=$1
	shift
	t0=$(date +%s.%N)
	"$@" > "$scratch/$name.log" 2>&1
	rc=$?
	t1=$(date +%s.%N)
	say "$name $rc $(awk "BEGIN { printf \"%.2f\", $t1 - $t0 }")"
	if [ "$rc" -ne 0 ]; then
		sed "s/^/corpus-log: /" "$scratch/$name.log"
	fi
	return "$rc"
}

step add "$dkms" add "$dir" || exit 1
mv=$("$dkms" status 2>/dev/null | sed -n 's/^\([^/]*\)\/\([^:,]*\): added$/\1 \2/p' | head -n 1)
[ -n "$mv" ] || { say "error no added module in dkms status"; "$dkms" status; exit 1; }
m=${mv% *}
v=${mv#* }
say "module $m $v"

if ! step build "$dkms" build -m "$m" -v "$v" -k "$k"; then
	log=/var/lib/dkms/$m/$v/build/make.log
	[ -f "$log" ] && grep -m 5 -E 'error|Error' "$log" | sed "s/^/corpus-error: /"
	exit 1
fi
built=$(find "/var/lib/dkms/$m/$v/$k" -path '*/module/*.ko*' -type f | sort)
[ -n "$built" ]
check built-modules $? "none below /var/lib/dkms/$m/$v/$k"
# In-tree modules of the same name are archived at install and must be
# back in place after uninstall.
intree=$(for f in $built; do find "/lib/modules/$k/kernel" -name "$(basename "$f")"; done | sort)
step install "$dkms" install -m "$m" -v "$v" -k "$k" || exit 1
step status "$dkms" status -m "$m" -v "$v"
# Names and versions hold regex characters (1.12.0+dfsg): match them as text.
grep -F "$m/$v, $k, " "$scratch/status.log" | grep -Eq ': installed( \(Original modules exist\))?$'
check status-installed $? "$(cat "$scratch/status.log")"

# Every built module: the kernel's vermagic, a signature by our key when the
# kernel signs modules, and an installed copy that depmod indexed.
signs=0
grep -q '^CONFIG_MODULE_SIG=y' "/lib/modules/$k/build/.config" 2>/dev/null && signs=1
for f in $built; do
	b=$(basename "$f")
	vm=$(modinfo -F vermagic "$f" | cut -d' ' -f1)
	[ "$vm" = "$k" ]
	check "vermagic-$b" $? "vermagic '$vm'"
	if [ "$signs" -eq 1 ]; then
		[ -n "$(modinfo -F signer "$f")" ]
		check "signed-$b" $? "no signer"
	fi
	inst=$(find "/lib/modules/$k/updates" "/lib/modules/$k/extra" "/lib/modules/$k/kernel" -name "$b" 2>/dev/null | head -n 1)
	[ -n "$inst" ] && cmp -s "$f" "$inst"
	check "installed-$b" $? "no identical copy in /lib/modules/$k"
	grep -q "/${b%%.ko*}\.ko" "/lib/modules/$k/modules.dep"
	check "depmod-$b" $? "not in modules.dep"
done

step uninstall "$dkms" uninstall -m "$m" -v "$v" -k "$k"
step remove "$dkms" remove -m "$m" -v "$v" --all
[ ! -e "/var/lib/dkms/$m" ]
check tree-clean $? "$(find "/var/lib/dkms/$m" 2>&1 | head -n 5)"
for f in $built; do
	b=$(basename "$f")
	left=$(find "/lib/modules/$k/updates" "/lib/modules/$k/extra" -name "$b" 2>/dev/null)
	[ -z "$left" ]
	check "uninstalled-$b" $? "$left"
	if grep -q "/${b%%.ko*}\.ko" "/lib/modules/$k/modules.dep"; then
		# An in-tree module of the same name may stay indexed.
		find "/lib/modules/$k/kernel" -name "$b" | grep -q .
		check "depmod-clean-$b" $? "still in modules.dep"
	fi
done
if [ -n "$intree" ]; then
	back=$(for f in $built; do find "/lib/modules/$k/kernel" -name "$(basename "$f")"; done | sort)
	[ "$back" = "$intree" ]
	check originals-restored $? "before: $intree after: $back"
fi
say finished
