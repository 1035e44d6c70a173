// Package initramfs reads initramfs images the way the kernel unpacks them
// and checks whether an image shadows the modules DKMS installed.
//
// An image is a sequence of segments separated by NUL padding: uncompressed
// newc cpio archives (typically the early microcode segment) followed by
// compressed ones (gzip, zstd, xz, lzma, lz4 legacy frames or bzip2). List
// walks every entry of every segment as a stream, so memory stays bounded
// by the decompressor windows rather than the image size.
//
// Check compares the modules in the image for a kernel with the modules DKMS
// installed for it. A copy of a DKMS module in the initramfs that differs
// from the installed file wins at boot, because the initramfs is loaded
// before the root file system holding /lib/modules is mounted; such a
// module is reported as shadowed and, with the regenerate policy, the
// distribution's initramfs generator is run and the image checked again.
package initramfs
