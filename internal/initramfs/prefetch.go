package initramfs

import (
	"fmt"
	"io"
	"sync"

	"github.com/klauspost/compress/zstd"
)

// prefetch runs a decompressor (or a plain reader) in its own goroutine so
// that decompression and the walk of the archive, which hashes every file,
// overlap on two cores. Decompression is the slower side and sets the wall
// time (on the Debian kernel's 30 MB zstd image, about 120 ms of it against
// 100 ms of walking and hashing), so work that can leave it does: the zstd
// frame checksums are verified here, on the reading side, and the image
// file is read by a prefetch of its own. Hashing on a third goroutine would
// not help: the walk already spends about 35 ms of 130 waiting for data.
type prefetch struct {
	ch   chan chunk
	free chan []byte
	done chan struct{}
	wg   sync.WaitGroup
	cur  []byte
	buf  []byte
	err  error
	xxh  *xxh64 // nil unless the producer reports checksummed frames
}

// A producer fills b with decompressed bytes, all of b unless it returns
// an error (io.EOF at the end of the segment). ends lists the frames whose
// content ended within b[:n].
type producer interface {
	produce(b []byte) (n int, ends []frameEnd, err error)
	// checksummed reports whether the reading side verifies the checksums
	// of the frames in ends, over the bytes produced since the last end.
	checksummed() bool
}

// frameEnd is where a zstd frame's content ends in a chunk, and its
// checksum (the low 32 bits of its XXH64) if it has one.
type frameEnd struct {
	off    int
	sum    uint32
	hasSum bool
}

type chunk struct {
	b    []byte
	ends []frameEnd
	err  error
}

const (
	prefetchChunk = 256 << 10
	prefetchDepth = 4
)

func newPrefetch(pr producer) *prefetch {
	p := &prefetch{
		ch:   make(chan chunk, prefetchDepth),
		free: make(chan []byte, prefetchDepth+2),
		done: make(chan struct{}),
	}
	if pr.checksummed() {
		p.xxh = new(xxh64)
		p.xxh.reset()
	}
	p.wg.Add(1)
	go p.run(pr)
	return p
}

func (p *prefetch) run(pr producer) {
	defer p.wg.Done()
	for made := 0; ; {
		// Buffers are made only when none is free, so that a small image,
		// or a reader that keeps up, costs one or two.
		var b []byte
		select {
		case b = <-p.free:
		default:
			if made < prefetchDepth+2 {
				b = *chunkPool.Get().(*[]byte)
				made++
				break
			}
			select {
			case b = <-p.free:
			case <-p.done:
				return
			}
		}
		n, ends, err := pr.produce(b)
		select {
		case p.ch <- chunk{b: b[:n], ends: ends, err: err}:
		case <-p.done:
			return
		}
		if err != nil {
			return
		}
	}
}

func (p *prefetch) Read(out []byte) (int, error) {
	for len(p.cur) == 0 {
		if p.err != nil {
			return 0, p.err
		}
		if p.buf != nil {
			p.free <- p.buf[:cap(p.buf)]
			p.buf = nil
		}
		c := <-p.ch
		p.buf, p.cur, p.err = c.b, c.b, c.err
		if p.xxh != nil {
			p.verify(c.ends)
		}
	}
	n := copy(out, p.cur)
	p.cur = p.cur[n:]
	return n, nil
}

// verify adds the new chunk to the checksum of the current frame and
// checks the frames that end in it. A frame whose checksum does not match
// is cut off with the rest of the chunk, as the decoder would do.
func (p *prefetch) verify(ends []frameEnd) {
	start := 0
	for _, e := range ends {
		p.xxh.write(p.cur[start:e.off])
		if e.hasSum && uint32(p.xxh.sum64()) != e.sum {
			p.cur, p.err = p.cur[:start], errZstdChecksum
			return
		}
		p.xxh.reset()
		start = e.off
	}
	p.xxh.write(p.cur[start:])
}

var errZstdChecksum = fmt.Errorf("zstd frame content checksum: %w", zstd.ErrCRCMismatch)

// stop ends the goroutine and waits for it, so that the caller may use the
// underlying source again.
func (p *prefetch) stop() {
	close(p.done)
	p.wg.Wait()
	put := func(b []byte) {
		if cap(b) == prefetchChunk {
			b = b[:prefetchChunk]
			chunkPool.Put(&b)
		}
	}
	put(p.buf)
	p.buf, p.cur = nil, nil
	for {
		select {
		case b := <-p.free:
			put(b)
		case c := <-p.ch:
			put(c.b)
		default:
			return
		}
	}
}

// chunkPool keeps chunk buffers from image to image and segment to
// segment: a fresh megabyte of buffers per segment was most of the cost
// of reading a small image, and of each fuzz execution.
var chunkPool = sync.Pool{New: func() any {
	b := make([]byte, prefetchChunk)
	return &b
}}

// readProducer fills chunks from a decompressing reader. Its errors pass
// as they are: a decoder reports a stream cut short (a lost gzip or xz
// trailer) as io.ErrUnexpectedEOF, which must not read as a clean end.
type readProducer struct{ r io.Reader }

func (readProducer) checksummed() bool { return false }

func (rp readProducer) produce(b []byte) (int, []frameEnd, error) {
	n, empty := 0, 0
	for n < len(b) {
		k, err := rp.r.Read(b[n:])
		n += k
		if err != nil {
			return n, nil, err
		}
		if k > 0 {
			empty = 0
		} else if empty++; empty == 100 {
			return n, nil, io.ErrNoProgress
		}
	}
	return n, nil, nil
}
