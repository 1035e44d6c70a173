#!/bin/sh
# gofmt and shellcheck over the tree; fails on any finding.
set -eu
out=$(gofmt -l cmd internal test completion)
if [ -n "$out" ]; then
	echo "gofmt needed:" >&2
	echo "$out" >&2
	exit 1
fi
if command -v shellcheck >/dev/null; then
	shellcheck -s sh hooks/kernel-postinst.d/dkms hooks/kernel-prerm.d/dkms hooks/kernel-preinst.d/dkms \
		hooks/kernel-install/40-dkms.install hooks/dkms_autoinstaller hooks/common.postinst scripts/*.sh
	shellcheck -s bash completion/dkms.bash
fi
