// Package kver orders kernel and module version strings the two ways dkms
// does: the zero-padding VER() key used for BUILD_EXCLUSIVE_KERNEL_MIN/MAX,
// OBSOLETE_BY and autoinstall's "latest version" pick, and GNU `sort -V`
// (gnulib filevercmp) used for --all ordering and dependency versions.
//
// The two orders disagree on purpose-relevant inputs (VER puts "4.12-rc1"
// after "4.12", sort -V puts it before), so callers must pick the one the
// specification names for each comparison.
package kver
