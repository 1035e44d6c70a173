// Package devices finds the hardware present on a machine, as the modalias
// strings the kernel publishes under /sys/devices, and matches them against
// the alias patterns of kernel modules the way kmod does. It lets the boot
// service load freshly built modules for the devices they drive (the job
// upstream dkms does with `find /sys/devices -name modalias | xargs modprobe`,
// §7.8 of the interface specification).
package devices
