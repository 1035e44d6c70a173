package initramfs

import (
	"encoding/binary"
	"math/rand/v2"
	"testing"
)

func TestXXH64Vectors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want uint64
	}{
		{"", 0xef46db3751d8e999},
		{"a", 0xd24ec4f1a98c6e5b},
		{"abc", 0x44bc2cf5ad770999},
		{"message digest", 0x066ed728fceeb3be},
		{"abcdefghijklmnopqrstuvwxyz", 0xcfe1f278fa89835c},
		{"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789", 0xaaa46907d3047814},
		{"12345678901234567890123456789012345678901234567890123456789012345678901234567890", 0xe04a477f19ee145d},
	}
	for _, tt := range tests {
		var x xxh64
		x.reset()
		x.write([]byte(tt.in))
		if got := x.sum64(); got != tt.want {
			t.Errorf("xxh64(%q) = %#x, want %#x", tt.in, got, tt.want)
		}
	}
}

// TestXXH64MatchesZstd compares with the checksums the zstd encoder
// writes, for lengths around the 32-byte stripes and writes split at
// random points.
func TestXXH64MatchesZstd(t *testing.T) {
	t.Parallel()
	rnd := rand.New(rand.NewPCG(3, 4))
	data := make([]byte, 5000)
	for i := range data {
		data[i] = byte(rnd.Uint32())
	}
	for _, n := range []int{1, 3, 4, 7, 8, 9, 31, 32, 33, 63, 64, 65, 100, 1000, 4999} {
		frame := zstdFrame(t, data[:n], true)
		want := binary.LittleEndian.Uint32(frame[len(frame)-4:])
		for range 5 {
			var x xxh64
			x.reset()
			for rest := data[:n]; len(rest) > 0; {
				k := rnd.IntN(len(rest)) + 1
				x.write(rest[:k])
				rest = rest[k:]
			}
			if got := uint32(x.sum64()); got != want {
				t.Fatalf("%d bytes: xxh64 low bits %#x, zstd checksum %#x", n, got, want)
			}
		}
	}
}

func BenchmarkXXH64(b *testing.B) {
	buf := make([]byte, 256<<10)
	b.SetBytes(int64(len(buf)))
	var x xxh64
	x.reset()
	for b.Loop() {
		x.write(buf)
	}
}
