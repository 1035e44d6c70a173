#!/bin/sh
# make deb: builds the dkms-go Debian package with dpkg-buildpackage in a
# scratch copy of the tree, checks it with lintian and leaves the .deb (and
# its .changes and .buildinfo) in dist/. Installs debhelper and lintian
# when missing (as root). Go comes from PATH, /usr/local/go/bin first.
set -eu
cd "$(dirname "$0")/.."
PATH=/usr/local/go/bin:$PATH
export PATH

missing=""
for p in debhelper dpkg-dev lintian; do
	dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$' || missing="$missing $p"
done
if [ -n "$missing" ]; then
	if [ "$(id -u)" -ne 0 ]; then
		echo "deb: missing packages:$missing (run as root to install them)" >&2
		exit 1
	fi
	echo "deb: installing$missing" >&2
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	# shellcheck disable=SC2086
	apt-get -o DPkg::Lock::Timeout=900 install -y -qq --no-install-recommends $missing >/dev/null
fi

# Debian 12's golang-go (1.19) is too old for go.mod: the Build-Depends on
# golang-go is switched off by the build profile, and the Go in PATH must do.
want=$(sed -n 's/^go \([0-9][0-9.]*\)$/\1/p' go.mod)
if ! have=$(go env GOVERSION 2>/dev/null); then
	echo "deb: no Go in PATH or /usr/local/go/bin; go.mod needs go $want or newer" >&2
	exit 1
fi
if ! dpkg --compare-versions "${have#go}" ge "$want"; then
	echo "deb: $(command -v go) is $have; go.mod needs go $want or newer" >&2
	exit 1
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir "$work/src"
tar --exclude=./.git --exclude=./dist --exclude=./bin -cf - . | tar -C "$work/src" -xf -
(cd "$work/src" && dpkg-buildpackage -us -uc -b -Ppkg.dkms-go.localgo)
mkdir -p dist
rm -f dist/dkms-go_*
mv "$work"/dkms-go_* dist/
ls -l dist/dkms-go_*
# The licences of the Go code linked into the binaries travel with them.
dpkg-deb -c dist/dkms-go_*.deb | grep -q ' \./usr/share/doc/dkms-go/go-module-licenses\.gz$' ||
	{ echo "deb: the package lacks /usr/share/doc/dkms-go/go-module-licenses.gz" >&2; exit 1; }
# Errors fail the build; warnings are each explained in docs/PACKAGES.md.
lintian --fail-on error --info dist/dkms-go_*.changes
