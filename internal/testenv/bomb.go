package testenv

// ZstdZeros is a zstd frame that decompresses to n zero bytes, made of
// RLE blocks of 128 KiB: 4 bytes of input per 128 KiB of output, the
// ratio that lets a 540 KB initramfs claim 16 GiB.
func ZstdZeros(n int64) []byte {
	const block = 128 << 10
	b := []byte{0x28, 0xb5, 0x2f, 0xfd, 0x00, 0x38} // magic, no content size, 128 KiB window
	for n > 0 {
		size := min(n, block)
		n -= size
		h := uint32(size)<<3 | 1<<1 // RLE block
		if n == 0 {
			h |= 1 // last block
		}
		b = append(b, byte(h), byte(h>>8), byte(h>>16), 0x00)
	}
	return b
}
