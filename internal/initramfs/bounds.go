package initramfs

import (
	"errors"
	"fmt"
	"io"
	"sync/atomic"
)

// Bounds on what a hostile image can make the reader decompress. Real
// images are well below them: one holding every module of a Debian or
// Ubuntu kernel decompresses to a few hundred MiB, modules included, and
// the largest single module in use (nvidia's) is under 100 MiB. Without
// them, four zstd members of 4 GiB of zeros in a 540 KB image cost 18 s
// of CPU; with them that image fails within its first member (about half
// a second), and a segment of zeros at the image bound costs about as
// much as reading a real image ten times.
const (
	// MaxMemberSize bounds one member: its stored size, and for a module
	// stored compressed (.ko.xz, .ko.zst, .ko.gz), its decompressed size.
	MaxMemberSize = 512 << 20
	// MaxImageSize bounds everything decompressed while reading one
	// image: the output of every compressed segment plus every
	// decompressed module.
	MaxImageSize = 1 << 30
)

// ErrTooLarge is matched by the error for an image or member beyond the
// bounds above.
var ErrTooLarge = errors.New("too large")

// ErrEmptyImage is returned for an image without a single segment (an
// empty file, or one of NUL bytes only): the kernel would boot without an
// initramfs, so nothing in it can be checked.
var ErrEmptyImage = errors.New("empty image: no cpio archive in it")

// budget counts the bytes decompressed for one image. Segments are
// decompressed on a prefetch goroutine while modules are decompressed on
// the walking one, hence the atomic.
type budget struct {
	used atomic.Int64
}

func (b *budget) take(n int64) error {
	if b.used.Add(n) > MaxImageSize {
		return fmt.Errorf("%w: the image decompresses to more than %d MiB", ErrTooLarge, MaxImageSize>>20)
	}
	return nil
}

// boundedProducer charges a segment's output to the image's budget.
type boundedProducer struct {
	p producer
	b *budget
}

func (bp boundedProducer) checksummed() bool { return bp.p.checksummed() }

func (bp boundedProducer) produce(buf []byte) (int, []frameEnd, error) {
	n, ends, err := bp.p.produce(buf)
	if berr := bp.b.take(int64(n)); berr != nil && (err == nil || err == io.EOF) {
		err = berr
	}
	return n, ends, err
}

// copyMember copies a decompressed member into w, failing once it passes
// MaxMemberSize, and charges it to the image's budget.
func (d *decoders) copyMember(w io.Writer, r io.Reader) error {
	n, err := io.Copy(w, io.LimitReader(r, MaxMemberSize+1))
	if err != nil {
		return err
	}
	if n > MaxMemberSize {
		return fmt.Errorf("%w: decompresses to more than %d MiB", ErrTooLarge, MaxMemberSize>>20)
	}
	return d.budget.take(n)
}
