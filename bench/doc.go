// Command bench runs our dkms and upstream's bash dkms side by side on the
// same machine in the same run and writes docs/BENCHMARKS.md.
//
// Upstream is Debian's dkms package, fetched with apt-get download and
// unpacked into a scratch prefix; both implementations run against
// throw-away dkms, source and install trees under that scratch directory,
// with a private /etc/dkms (upstream: its fixed paths rewritten into the
// scratch directory; ours: DKMS_SYSROOT), so the machine's /var/lib/dkms,
// /usr/src, /lib/modules and /etc/dkms are never read for state or written.
//
// Every scenario alternates the two implementations (ours first on even
// repetitions, upstream first on odd ones) so that slow drift of a shared
// machine hits both equally, prepares mutable trees afresh outside the timed
// region, and checks after each run that the command did its job, so a fast
// failure can never pass for a fast success. Times come from wait4's rusage
// of the direct child, which covers every descendant it waited for; peak
// RSS is therefore the largest single process of the run, not a sum.
//
// BENCH_SMALL=1 (or -small) shrinks every scenario to one repetition on tiny
// trees; bench_test.go runs that mode so CI checks the harness, not numbers.
package main
