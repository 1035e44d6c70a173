package initramfs

import (
	"encoding/binary"
	"errors"
	"io"
	"sync"

	"github.com/klauspost/compress/zstd"
)

// zstdSegment decodes the frames of a zstd segment one at a time, on the
// prefetch goroutine. The decoder skips the frame checksums: it reports
// where each frame's content ends, and the reading side of prefetch
// verifies the checksum there, because decompression is the slower side of
// the pipeline (the XXH64 of a 130 MB image costs it about 10 ms).
type zstdSegment struct {
	dec     *zstd.Decoder
	frames  zstdFrames
	inFrame bool
}

func (d *decoders) zstdSegment(s *source) (*zstdSegment, error) {
	if d.zstd == nil {
		if dec, ok := zstdPool.Get().(*zstd.Decoder); ok {
			d.zstd = dec
		} else {
			// One goroutine and low-memory mode keep the resident set
			// small; the decoder's asynchronous mode splits the work of
			// one stream across goroutines but costs more than it gains
			// on two cores.
			dec, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(1), zstd.WithDecoderLowmem(true),
				zstd.IgnoreChecksum(true))
			if err != nil {
				return nil, err
			}
			d.zstd = dec
		}
	}
	return &zstdSegment{dec: d.zstd, frames: zstdFrames{s: s}}, nil
}

func (z *zstdSegment) checksummed() bool { return true }

func (z *zstdSegment) produce(b []byte) (int, []frameEnd, error) {
	var ends []frameEnd
	n := 0
	for n < len(b) {
		if !z.inFrame {
			more, err := z.frames.next()
			if err == nil && !more {
				err = io.EOF
			}
			if err != nil {
				return n, ends, err
			}
			if err := z.dec.Reset(&z.frames); err != nil {
				return n, ends, err
			}
			z.inFrame = true
		}
		k, err := z.dec.Read(b[n:])
		n += k
		if err == io.EOF {
			z.inFrame = false
			ends = append(ends, frameEnd{off: n, sum: z.frames.sum, hasSum: z.frames.hasSum})
		} else if err != nil {
			return n, ends, err
		}
	}
	return n, ends, nil
}

// zstdFrames hands the zstd decoder exactly the bytes of one zstd frame at
// the current position, by walking the frame and block headers, because
// the decoder reads ahead of what it needs. It keeps the frame's checksum.
type zstdFrames struct {
	s      *source
	remain int64
	state  int
	frames int // frames seen in the segment, skippable ones included
	hasSum bool
	sum    uint32
}

const (
	zstBlock    = iota // a block header comes next
	zstSum             // the checksum comes next
	zstEnd             // the frame is over
	zstMagic    = 0xfd2fb528
	zstSkipMask = 0xfffffff0
	zstSkip     = 0x184d2a50
)

var errZstdHeader = errors.New("zstd: malformed frame header")

// next moves to the next frame of the segment, consuming skippable frames
// on the way, and reports whether there is one. The segment ends at the
// end of the input or at bytes that start no zstd frame (the next segment,
// or NUL padding).
func (z *zstdFrames) next() (bool, error) {
	for {
		h := z.s.peek(14)
		if len(h) < 4 {
			if err := z.s.err; err != nil && err != io.EOF {
				return false, err
			}
			if z.frames == 0 {
				return false, io.ErrUnexpectedEOF
			}
			return false, nil
		}
		m := binary.LittleEndian.Uint32(h)
		switch {
		case m == zstMagic:
			if len(h) < 5 {
				return false, io.ErrUnexpectedEOF
			}
			fhd := h[4]
			single := fhd&0x20 != 0
			if fhd&0x08 != 0 {
				return false, errZstdHeader // reserved bit
			}
			n := int64(5)
			if !single {
				n++
			}
			n += []int64{0, 1, 2, 4}[fhd&3]
			fcs := []int64{0, 2, 4, 8}[fhd>>6]
			if fcs == 0 && single {
				fcs = 1
			}
			z.remain = n + fcs
			z.state = zstBlock
			z.hasSum, z.sum = fhd&0x04 != 0, 0
			z.frames++
			return true, nil
		case m&zstSkipMask == zstSkip:
			if len(h) < 8 {
				return false, io.ErrUnexpectedEOF
			}
			size := 8 + int64(binary.LittleEndian.Uint32(h[4:]))
			start := z.s.off
			z.s.discard(int(size))
			if z.s.off-start != size {
				return false, io.ErrUnexpectedEOF
			}
			z.frames++
		default:
			if z.frames == 0 {
				return false, errZstdHeader
			}
			return false, nil
		}
	}
}

func (z *zstdFrames) Read(p []byte) (int, error) {
	for z.remain == 0 {
		if z.state == zstEnd {
			return 0, io.EOF
		}
		if err := z.advance(); err != nil {
			return 0, err
		}
	}
	if int64(len(p)) > z.remain {
		p = p[:z.remain]
	}
	n, err := z.s.Read(p)
	z.remain -= int64(n)
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return n, err
}

func (z *zstdFrames) advance() error {
	switch z.state {
	case zstBlock:
		h := z.s.peek(3)
		if len(h) < 3 {
			return io.ErrUnexpectedEOF
		}
		v := uint32(h[0]) | uint32(h[1])<<8 | uint32(h[2])<<16
		size := int64(v >> 3)
		switch (v >> 1) & 3 {
		case 1: // RLE: one byte repeated size times
			size = 1
		case 3:
			return errors.New("zstd: reserved block type")
		}
		z.remain = 3 + size
		if v&1 == 1 {
			z.state = zstEnd
			if z.hasSum {
				z.state = zstSum
			}
		}
	case zstSum:
		h := z.s.peek(4)
		if len(h) < 4 {
			return io.ErrUnexpectedEOF
		}
		z.sum = binary.LittleEndian.Uint32(h)
		z.remain = 4
		z.state = zstEnd
	}
	return nil
}

// zstdPool keeps segment decoders from image to image: making one costs
// more than reading a small image. A decoder of concurrency 1 runs no
// goroutines of its own, so one the pool drops needs no Close.
var zstdPool sync.Pool
