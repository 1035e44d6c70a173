#!/bin/sh
# make demo: register the bundled example module, build and install it for
# the installed Debian kernel with our dkms, and show it load (directly when
# that kernel is running, else by booting it in QEMU).
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
dkms="$top/bin/dkms"
kernel=$(find /lib/modules -mindepth 2 -maxdepth 2 -name build | sort -V | tail -n 1 | cut -d/ -f4)
[ -n "$kernel" ] || { echo "demo: no kernel headers under /lib/modules" >&2; exit 1; }
echo "== kernel with headers: $kernel"
# A second run starts over. remove refuses a module whose source is gone
# (broken, exit 4), so the source goes only after the module.
if [ -d /var/lib/dkms/dkms-hello ]; then
	[ -d /usr/src/dkms-hello-1.0 ] || cp -a "$top/examples/dkms-hello" /usr/src/dkms-hello-1.0
	"$dkms" remove dkms-hello/1.0 --all >/dev/null
fi
rm -rf /usr/src/dkms-hello-1.0
echo "== dkms add $top/examples/dkms-hello"
"$dkms" add "$top/examples/dkms-hello"
echo "== dkms install dkms-hello/1.0 -k $kernel"
"$dkms" install dkms-hello/1.0 -k "$kernel"
echo "== dkms status"
"$dkms" status
installed=$(find "/lib/modules/$kernel/updates/dkms" -name 'dkms_hello.ko*' | head -n 1)
echo "== modinfo $installed"
modinfo "$installed" | grep -E '^(filename|version|description|signer|vermagic):'
if [ "$(uname -r)" = "$kernel" ]; then
	echo "== modprobe dkms_hello"
	modprobe dkms_hello
	dmesg | grep dkms_hello | tail -n 1
	modprobe -r dkms_hello
else
	echo "== $kernel is not the running kernel: booting it in QEMU to load the module"
	cd "$top" && go run ./test/vm/cmd/vmboot -kernel "$kernel" -module "$installed"
fi
