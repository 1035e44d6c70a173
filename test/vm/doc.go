// Package vm boots real Debian kernels in QEMU so that tests can prove what unit
// tests cannot: that a module built by our tools loads into a running kernel.
//
// The pieces are small and composable: [FindKernel] locates an installed kernel,
// [ExtractVmlinux] turns its compressed bzImage into the uncompressed ELF that QEMU
// boots quickly under software emulation (cached, because decompression costs
// seconds), [Initramfs] writes a newc archive holding busybox, a generated /init
// and the modules the guest needs, and [Run] starts QEMU in its own process group,
// streams the serial console, enforces a deadline and always kills and reaps it.
//
// The guest reports its verdict through QEMU's isa-debug-exit device, so a test
// never has to guess from console text whether the guest script succeeded; a guest
// panic is turned into a failing QEMU exit by pvpanic.
//
// Nothing here touches the host's /lib/modules, /var/lib/dkms or /boot beyond
// reading them: the guest sees the host root read-only over 9p with a tmpfs
// overlay, so everything it writes vanishes with the VM.
package vm
