// Package sched orders the module installs of autoinstall by their
// BUILD_DEPENDS.
//
// With Parallel <= 1 it reproduces the serial rounds of dkms autoinstall
// (spec §6.7 step 5, unchanged in 3.4.3) exactly, including the order in
// which modules run. With more, the modules form a graph and each one
// starts as soon as all of its dependencies are installed or skipped, so
// independent modules (and the modules of different kernels) build at the
// same time; a failure blocks only the modules that depend on it. A module
// that waits only for names the caller does not know (not registered with
// DKMS) ends Deferred rather than Blocked, as 3.4.3 defers it (delta D13).
// Compiler parallelism across those builds is bounded separately by the
// jobserver package.
package sched
