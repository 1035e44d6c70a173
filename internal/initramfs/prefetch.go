package initramfs

import (
	"io"
	"sync"
)

// prefetch runs a decompressor in its own goroutine so that decompression
// and the hashing of the entries overlap; each takes about half of the scan
// time of a zstd image, and a second core is usually available.
type prefetch struct {
	ch   chan chunk
	free chan []byte
	done chan struct{}
	wg   sync.WaitGroup
	cur  []byte
	buf  []byte
	err  error
}

type chunk struct {
	b   []byte
	err error
}

const (
	prefetchChunk = 256 << 10
	prefetchDepth = 4
)

func newPrefetch(r io.Reader) *prefetch {
	p := &prefetch{
		ch:   make(chan chunk, prefetchDepth),
		free: make(chan []byte, prefetchDepth+2),
		done: make(chan struct{}),
	}
	for range prefetchDepth + 2 {
		p.free <- make([]byte, prefetchChunk)
	}
	p.wg.Add(1)
	go p.run(r)
	return p
}

func (p *prefetch) run(r io.Reader) {
	defer p.wg.Done()
	for {
		var b []byte
		select {
		case b = <-p.free:
		case <-p.done:
			return
		}
		n, err := io.ReadFull(r, b)
		if err == io.ErrUnexpectedEOF {
			err = io.EOF
		}
		if n == 0 && err == nil {
			continue
		}
		select {
		case p.ch <- chunk{b: b[:n], err: err}:
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
	}
	n := copy(out, p.cur)
	p.cur = p.cur[n:]
	return n, nil
}

// stop ends the goroutine and waits for it, so that the caller may use the
// underlying source again.
func (p *prefetch) stop() {
	close(p.done)
	p.wg.Wait()
}
