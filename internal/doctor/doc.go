// Package doctor answers "will my next reboot work?" for the DKMS modules
// of every installed kernel: headers present, each AUTOINSTALL module
// installed (or why not), the installed file intact, built for that
// kernel, known to modules.dep, not shadowed by the initramfs, and signed
// with a key the kernel will accept when it refuses unsigned modules.
//
// It only reads: the caller (the engine) describes the modules DKMS knows
// about through Options.Modules, and everything else comes from files under
// Options.Root (/boot, /lib/modules, /proc, /sys, the bootloader's
// configuration) and from mokutil, run through a seam. Nothing is built,
// installed or changed. docs/DOCTOR.md describes the checks, verdicts,
// exit statuses and JSON fields.
package doctor
