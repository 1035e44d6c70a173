package initramfs

import (
	"errors"
	"io"
	"sync"
)

// keepBack is how many already consumed bytes a refill preserves, so that a
// decoder that read a few bytes past the end of its stream (the xz single
// stream check, the bzip2 continuation probe) can give them back.
const keepBack = 16

// source is a buffered reader over the raw image that tracks the absolute
// offset and supports un-reading a few bytes. bufio.Reader cannot un-read
// more than one byte, and the segment boundaries must be exact because the
// next segment starts right where a decoder stopped.
type source struct {
	rd   io.Reader
	buf  []byte
	r, w int
	off  int64 // offset of buf[r] in the image
	err  error
}

func newSource(rd io.Reader) *source {
	return &source{rd: rd, buf: *sourcePool.Get().(*[]byte)}
}

// release hands the buffer back for the next source; s is unusable after.
func (s *source) release() {
	b := s.buf[:cap(s.buf)]
	s.buf = nil
	sourcePool.Put(&b)
}

// sourcePool: as chunkPool, a buffer per segment was a large part of the
// cost of a small image.
var sourcePool = sync.Pool{New: func() any {
	b := make([]byte, 256<<10)
	return &b
}}

// fill reads more data keeping at least keepBack consumed bytes in front.
func (s *source) fill() {
	if s.err != nil {
		return
	}
	if s.w == len(s.buf) {
		start := max(s.r-keepBack, 0)
		if start == 0 {
			return // buffer full of unread data; callers never peek that much
		}
		copy(s.buf, s.buf[start:s.w])
		s.r -= start
		s.w -= start
	}
	for range 100 {
		n, err := s.rd.Read(s.buf[s.w:])
		s.w += n
		if err != nil {
			s.err = err
			return
		}
		if n > 0 {
			return
		}
	}
	s.err = io.ErrNoProgress
}

func (s *source) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	if s.r == s.w {
		s.fill()
		if s.r == s.w {
			return 0, s.readErr()
		}
	}
	n := copy(p, s.buf[s.r:s.w])
	s.r += n
	s.off += int64(n)
	return n, nil
}

func (s *source) ReadByte() (byte, error) {
	if s.r == s.w {
		s.fill()
		if s.r == s.w {
			return 0, s.readErr()
		}
	}
	b := s.buf[s.r]
	s.r++
	s.off++
	return b, nil
}

// peek returns up to n unread bytes without consuming them; fewer than n
// only at the end of the input.
func (s *source) peek(n int) []byte {
	for s.w-s.r < n && s.err == nil {
		s.fill()
		if s.w == len(s.buf) && s.w-s.r < n {
			break
		}
	}
	return s.buf[s.r:min(s.w, s.r+n)]
}

func (s *source) discard(n int) {
	for n > 0 {
		if s.r == s.w {
			s.fill()
			if s.r == s.w {
				return
			}
		}
		k := min(n, s.w-s.r)
		s.r += k
		s.off += int64(k)
		n -= k
	}
}

// unread gives back the last n consumed bytes.
func (s *source) unread(n int) error {
	if n > s.r {
		return errors.New("initramfs: cannot un-read past buffer start")
	}
	s.r -= n
	s.off -= int64(n)
	return nil
}

// skipZeros consumes NUL padding and reports whether data follows.
func (s *source) skipZeros() bool {
	for {
		if s.r == s.w {
			s.fill()
			if s.r == s.w {
				return false
			}
		}
		for s.r < s.w && s.buf[s.r] == 0 {
			s.r++
			s.off++
		}
		if s.r < s.w {
			return true
		}
	}
}

func (s *source) readErr() error {
	if s.err == nil {
		return io.ErrNoProgress
	}
	return s.err
}
