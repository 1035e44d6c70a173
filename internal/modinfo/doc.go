// Package modinfo reads the key=value records of a kernel module's .modinfo
// ELF section in pure Go, for plain and compressed (.gz, .xz, .zst) modules.
// dkms compares the version and srcversion fields of a built module with the
// kernel's own copy (§7.5 of the interface specification) and uses version
// to find the installed copy at uninstall (§7.6); reading them here avoids
// running modinfo(8) and parsing its output.
package modinfo
