package initramfs

import (
	"bytes"
	"testing"
)

// FuzzList feeds arbitrary images to the segment reader: truncated,
// concatenated and hostile segments must give an error or entries, never a
// panic or a hang.
//
// The fuzzer minimizes every input that finds new coverage, with work
// quadratic in its length, so an execution must cost microseconds: this
// is why the reader pools its buffers and zstd decoders, grows the lz4
// output buffer on demand, and allocates only the xz dictionary a header
// asks for, and why the seeds use small dictionaries. Before that an
// execution cost 1-5 ms and the target spent most of its time minimizing.
func FuzzList(f *testing.F) {
	arc := mkCPIO(f, file{name: "a.ko", body: moduleELF[:64]}, file{name: "lib", link: "usr/lib", mode: 0o120777})
	for _, c := range []Compression{None, Gzip, Zstd, XZ, LZMA, LZ4} {
		seg := compress(f, c, arc)
		f.Add(seg)
		f.Add(seg[:len(seg)/2])
		f.Add(append(append(append([]byte(nil), arc...), make([]byte, 4)...), seg...))
	}
	f.Add([]byte("\x89LZO\x00"))
	f.Add([]byte{0x28, 0xb5, 0x2f, 0xfd, 0x00, 0x00, 0x00})
	f.Add([]byte{0x02, 0x21, 0x4c, 0x18, 0xff, 0xff, 0x00, 0x00})
	f.Fuzz(func(t *testing.T, data []byte) {
		var total int64
		_ = List(bytes.NewReader(data), func(e Entry) error {
			total += e.Size
			if e.Mode.IsRegular() && len(e.Hash) != 64 {
				t.Fatalf("regular file %q without a hash", e.Path)
			}
			return nil
		})
		if total < 0 {
			t.Fatalf("negative total size %d", total)
		}
	})
}

// FuzzCPIOWalk feeds arbitrary bytes to the cpio walk alone, as they would
// come out of a decompressor: hostile headers (sizes, name lengths,
// symlink targets), truncation and missing trailers.
func FuzzCPIOWalk(f *testing.F) {
	arc := mkCPIO(f, file{name: ".", mode: 0o40755}, file{name: "x/y.ko.xz", body: compress(f, XZ, []byte("elf"))}, file{name: "z", body: []byte("data")})
	f.Add(arc)
	f.Add(arc[:len(arc)-20])
	f.Add(append(append([]byte(nil), arc...), arc...))
	f.Add([]byte("070701" + string(bytes.Repeat([]byte("F"), 104))))
	f.Fuzz(func(t *testing.T, data []byte) {
		d := &decoders{}
		defer d.close()
		s := newSource(bytes.NewReader(data))
		defer s.release()
		n := 0
		_ = d.walkArchive(s, None, 0, func(e Entry) error {
			n++
			if e.Size > int64(len(data)) {
				t.Fatalf("entry %q claims %d bytes from a %d byte input", e.Path, e.Size, len(data))
			}
			return nil
		})
		if n > len(data)/110+1 {
			t.Fatalf("%d entries from %d bytes", n, len(data))
		}
	})
}
