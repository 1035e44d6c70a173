// Package completion holds the bash (dkms.bash) and zsh (_dkms) completion
// scripts for dkms and dkms-autoinstall, and the tests that run them in
// real shells against a temporary DKMS tree and module tree. It has no Go
// code of its own.
package completion
