// Package sched orders the module installs of autoinstall by their
// BUILD_DEPENDS.
//
// With Parallel <= 1 it reproduces the serial rounds of dkms 3.2.2
// autoinstall (spec §6.7 step 5) exactly, including the order in which
// modules run. With more, the modules form a graph and each one starts as
// soon as all of its dependencies are installed or skipped, so independent
// modules (and the modules of different kernels) build at the same time; a
// failure blocks only the modules that depend on it. Compiler parallelism
// across those builds is bounded separately by the jobserver package.
package sched
