#!/bin/sh
# golicenses.sh OUT: writes to OUT the licence of every Go module compiled
# into bin/dkms and bin/dkms-autoinstall (the static binaries carry their
# code, and their BSD and MIT licences ask for the notice to travel with
# binaries), each headed by the module path and version, taken from the
# module cache the build used, and Go's own (its standard library and
# runtime are linked in too). Fails when a module has no licence file.
set -eu
cd "$(dirname "$0")/.."
out=$1
tmp=$out.tmp
goroot=$(go env GOROOT)
printf '%s\n%s: the Go standard library and runtime (LICENSE)\n%s\n\n' \
	'==========================================================================' \
	"$(go env GOVERSION)" \
	'==========================================================================' > "$tmp"
cat "$goroot/LICENSE" >> "$tmp"
printf '\n' >> "$tmp"
go list -deps -f '{{with .Module}}{{if not .Main}}{{.Path}} {{.Version}} {{.Dir}}{{end}}{{end}}' \
	./cmd/dkms ./cmd/dkms-autoinstall | sort -u | while read -r path version dir; do
	[ -n "$path" ] || continue
	files=$(find "$dir" -maxdepth 1 -type f \( -iname 'licen[cs]e*' -o -iname 'copying*' \) | sort)
	if [ -z "$files" ]; then
		echo "golicenses: $path $version: no licence file in $dir" >&2
		exit 1
	fi
	for f in $files; do
		printf '%s\n%s %s (%s)\n%s\n\n' \
			'==========================================================================' \
			"$path" "$version" "$(basename "$f")" \
			'=========================================================================='
		cat "$f"
		printf '\n'
	done >> "$tmp"
done
grep -q '^github.com/sirupsen/logrus ' "$tmp" || { echo "golicenses: the module list is incomplete (no logrus)" >&2; exit 1; }
mv "$tmp" "$out"
