#!/bin/sh
# make bench: our dkms side by side with Debian's dkms (fetched with
# apt-get download, run in throw-away trees). Writes its part of docs/BENCHMARKS.md
# (between the bench:begin and bench:end markers; the rest of the file stays) and
# docs/bench-status.png. BENCH_SMALL=1: one repetition on tiny trees, written
# to a temporary directory so the committed numbers stay (what CI checks).
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
if [ ! -x bin/dkms ] || [ ! -x bin/dkms-autoinstall ]; then
	make build
fi
kernel=${BENCH_KERNEL:-$(find /lib/modules -mindepth 2 -maxdepth 2 -name build | sort -V | tail -n 1 | cut -d/ -f4)}
[ -n "$kernel" ] || { echo "bench: no kernel headers under /lib/modules" >&2; exit 1; }
if [ "${BENCH_SMALL:-0}" = 1 ]; then
	out=${TMPDIR:-/tmp}/dkms-bench-small
	mkdir -p "$out"
	exec go run ./bench -small -kernel "$kernel" -out "$out/BENCHMARKS.md" -plot "$out/bench-status.png" \
		-command "BENCH_SMALL=1 make bench"
fi
exec go run ./bench -kernel "$kernel" -reps "${BENCH_REPS:-5}" -out docs/BENCHMARKS.md -plot docs/bench-status.png \
	-command "make bench"
