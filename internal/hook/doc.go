// Package hook is the policy layer of dkms-autoinstall: what the kernel
// package hooks, the kernel-install plugin and the boot unit do with the
// autoinstall engine (which kernels, failure policy, logging to the journal,
// sd_notify progress, build timeouts, loading new modules at first boot).
package hook
