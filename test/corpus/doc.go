// Package corpus runs real Debian -dkms packages through dkms (add, build,
// install, status, uninstall, remove) against the installed Debian kernel
// headers, inside a private mount namespace with overlays over /etc,
// /usr/src, /lib/modules and /var/lib (lifecycle.sh), and compares with
// Debian's own dkms unpacked into a scratch prefix. DKMS_CORPUS=ci runs the
// ten packages CI runs, DKMS_CORPUS=full (make corpus) adds zfs-dkms and
// nvidia-kernel-dkms. It has no Go code outside its tests.
package corpus
