package fsops

import (
	"bytes"
	"io"
	"os"
)

// SameContent reports whether a and b can both be read and hold the same
// bytes. Two regular files of different sizes differ without a read, one
// file under two names is the same without a read, and otherwise both are
// streamed in blocks: install and status compare modules of tens of MB,
// and reading each whole into memory cost several times the reads.
func SameContent(a, b string) bool {
	fa, err := os.Open(a)
	if err != nil {
		return false
	}
	defer fa.Close()
	fb, err := os.Open(b)
	if err != nil {
		return false
	}
	defer fb.Close()
	sa, err1 := fa.Stat()
	sb, err2 := fb.Stat()
	if err1 != nil || err2 != nil {
		return false
	}
	if sa.Mode().IsRegular() && sb.Mode().IsRegular() {
		if os.SameFile(sa, sb) {
			return true
		}
		if sa.Size() != sb.Size() {
			return false
		}
	}
	const block = 256 << 10
	x, y := make([]byte, block), make([]byte, block)
	for {
		n, errA := io.ReadFull(fa, x)
		m, errB := io.ReadFull(fb, y)
		if !bytes.Equal(x[:n], y[:m]) {
			return false
		}
		endA := errA == io.EOF || errA == io.ErrUnexpectedEOF
		endB := errB == io.EOF || errB == io.ErrUnexpectedEOF
		switch {
		case endA || endB:
			return endA && endB
		case errA != nil || errB != nil:
			return false
		}
	}
}
