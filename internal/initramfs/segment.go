package initramfs

import (
	"bytes"
	"compress/bzip2"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"io"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
	"github.com/ulikunitz/xz"
	"github.com/ulikunitz/xz/lzma"
)

// Compression names the encoding of one image segment.
type Compression string

// The encodings the kernel's initramfs unpacker knows.
const (
	None  Compression = "none" // plain newc cpio, e.g. the early microcode segment
	Gzip  Compression = "gzip"
	Zstd  Compression = "zstd"
	XZ    Compression = "xz"
	LZMA  Compression = "lzma"
	LZ4   Compression = "lz4"
	Bzip2 Compression = "bzip2"
	LZO   Compression = "lzo"
)

// ErrUnsupportedCompression is returned for segments in an encoding the
// kernel knows but this package cannot decode (lzo).
var ErrUnsupportedCompression = errors.New("unsupported compression")

// ErrBadMagic is returned when a segment starts with bytes that are neither
// a cpio archive nor a known compressed stream.
var ErrBadMagic = errors.New("invalid magic at start of segment")

var magics = []struct {
	c     Compression
	magic []byte
}{
	{None, []byte("07070")},
	{Gzip, []byte{0x1f, 0x8b}},
	{Gzip, []byte{0x1f, 0x9e}},
	{Zstd, []byte{0x28, 0xb5, 0x2f, 0xfd}},
	{XZ, []byte{0xfd, '7', 'z', 'X', 'Z', 0}},
	{LZMA, []byte{0x5d, 0, 0}},
	{LZ4, []byte{0x02, 0x21, 0x4c, 0x18}},
	{Bzip2, []byte("BZh")},
	{LZO, []byte{0x89, 'L', 'Z', 'O', 0}},
}

func detect(b []byte) (Compression, bool) {
	for _, m := range magics {
		if bytes.HasPrefix(b, m.magic) {
			return m.c, true
		}
	}
	return "", false
}

// decoders holds decoders and hash state reused across segments and
// files.
type decoders struct {
	zstd   *zstd.Decoder
	sha    hash.Hash
	buf    []byte
	budget budget
}

func (d *decoders) close() {
	if d.zstd != nil {
		d.zstd.Reset(nil)
		zstdPool.Put(d.zstd)
		d.zstd = nil
	}
}

// openSegment returns the producer of the decompressed bytes of the
// segment starting at the current position of s. Every producer stops
// exactly at the end of its compressed stream so that the next segment can
// be found.
func (d *decoders) openSegment(s *source, c Compression) (producer, error) {
	if c == Zstd {
		z, err := d.zstdSegment(s)
		if err != nil {
			return nil, err
		}
		return boundedProducer{z, &d.budget}, nil
	}
	r, err := d.openReader(s, c)
	if err != nil {
		return nil, err
	}
	return boundedProducer{readProducer{r}, &d.budget}, nil
}

func (d *decoders) openReader(s *source, c Compression) (io.Reader, error) {
	switch c {
	case Gzip:
		// s is an io.ByteReader, so flate does not read ahead.
		zr, err := gzip.NewReader(s)
		if err != nil {
			return nil, err
		}
		zr.Multistream(false)
		return zr, nil
	case XZ:
		if err := checkXZDict(s.peek(1024)); err != nil {
			return nil, err
		}
		zr, err := xz.ReaderConfig{SingleStream: true, DictCap: lzma.MinDictCap}.NewReader(s)
		if err != nil {
			return nil, err
		}
		return &overRead{r: zr, s: s, msg: "xz: unexpected data after stream", n: 1}, nil
	case LZMA:
		if h := s.peek(5); len(h) == 5 && binary.LittleEndian.Uint32(h[1:]) > maxDict {
			return nil, fmt.Errorf("lzma: %w", errDictTooLarge)
		}
		return lzma.NewReader(s)
	case LZ4:
		return &lz4Legacy{s: s}, nil
	case Bzip2:
		return &overRead{r: bzip2.NewReader(s), s: s, msg: "bzip2 data invalid: bad magic value in continuation file", n: 2}, nil
	case LZO:
		return nil, fmt.Errorf("%w: %s", ErrUnsupportedCompression, c)
	}
	return nil, fmt.Errorf("%w: %s", ErrUnsupportedCompression, c)
}

// maxDict bounds the dictionary a hostile xz or lzma header can make the
// decoder allocate up front. 64 MiB is what the largest presets (-9) use.
const maxDict = 64 << 20

var errDictTooLarge = fmt.Errorf("dictionary larger than %d MiB", maxDict>>20)

// checkXZDict reads the LZMA2 dictionary size from the first block header
// of an xz stream (stream header, block header size, flags, optional size
// fields, then the filter list) and refuses oversized ones. Later blocks are
// not checked; the kernel's own limits are no stricter.
func checkXZDict(h []byte) error {
	const streamHeader = 12
	if len(h) < streamHeader+2 || h[streamHeader] == 0 {
		return nil // truncated, or an empty stream (index follows): the decoder reports it
	}
	b := h[streamHeader:]
	size := (int(b[0]) + 1) * 4
	if len(b) < size {
		return nil
	}
	b, flags := b[2:size], b[1]
	varint := func() uint64 {
		var v uint64
		for i := 0; i < 9 && len(b) > 0; i++ {
			c := b[0]
			b = b[1:]
			v |= uint64(c&0x7f) << (7 * i)
			if c&0x80 == 0 {
				break
			}
		}
		return v
	}
	if flags&0x40 != 0 {
		varint()
	}
	if flags&0x80 != 0 {
		varint()
	}
	for range int(flags&3) + 1 {
		id, n := varint(), varint()
		if n > uint64(len(b)) {
			return nil
		}
		props := b[:n]
		b = b[n:]
		if id == 0x21 && len(props) == 1 {
			p := uint64(props[0])
			if p > 40 || (2|p&1)<<(p/2+11) > maxDict {
				return fmt.Errorf("xz: %w", errDictTooLarge)
			}
		}
	}
	return nil
}

// overRead turns the error a decoder reports after probing n bytes past the
// end of its stream into a clean end of stream, and gives the bytes back.
// The libraries offer no other way to stop at the end of a single stream.
type overRead struct {
	r    io.Reader
	s    *source
	msg  string
	n    int
	done bool
}

func (o *overRead) Read(p []byte) (int, error) {
	if o.done {
		return 0, io.EOF
	}
	n, err := o.r.Read(p)
	if err != nil && err.Error() == o.msg {
		o.done = true
		if uerr := o.s.unread(o.n); uerr != nil {
			return n, uerr
		}
		return n, io.EOF
	}
	return n, err
}

// lz4Legacy decodes the legacy lz4 frame format that the kernel and
// "lz4 -l" use: a magic number followed by blocks, each preceded by its
// little-endian compressed length and decompressing to at most 8 MiB. The
// format has no end marker; the stream ends at end of input, at NUL padding
// or at a length no block can have (the start of another segment).
type lz4Legacy struct {
	s    *source
	src  []byte
	dst  []byte
	rest []byte
	eof  bool
}

const (
	lz4LegacyMagic = 0x184c2102
	lz4LegacyBlock = 8 << 20
)

func (l *lz4Legacy) Read(p []byte) (int, error) {
	for len(l.rest) == 0 {
		if l.eof {
			return 0, io.EOF
		}
		if err := l.next(); err != nil {
			return 0, err
		}
	}
	n := copy(p, l.rest)
	l.rest = l.rest[n:]
	return n, nil
}

func (l *lz4Legacy) next() error {
	h := l.s.peek(4)
	if len(h) < 4 {
		l.eof = true
		return nil
	}
	size := binary.LittleEndian.Uint32(h)
	if size == lz4LegacyMagic {
		l.s.discard(4)
		return nil
	}
	if size == 0 || size > uint32(lz4.CompressBlockBound(lz4LegacyBlock)) {
		l.eof = true
		return nil
	}
	l.s.discard(4)
	if cap(l.src) < int(size) {
		l.src = make([]byte, size)
	}
	l.src = l.src[:size]
	if _, err := io.ReadFull(l.s, l.src); err != nil {
		return fmt.Errorf("lz4 block: %w", unexpectedIfEOF(err))
	}
	// The output buffer grows to the 8 MiB a block may need only when a
	// block needs it: a small image (or a fuzz input) must not cost a
	// zeroed 8 MiB per segment.
	if l.dst == nil {
		l.dst = make([]byte, min(lz4LegacyBlock, max(64<<10, 4*int(size))))
	}
	for {
		n, err := lz4.UncompressBlock(l.src, l.dst)
		if err == nil {
			l.rest = l.dst[:n]
			return nil
		}
		if len(l.dst) >= lz4LegacyBlock {
			return fmt.Errorf("lz4 block: %w", err)
		}
		l.dst = make([]byte, min(lz4LegacyBlock, 4*len(l.dst)))
	}
}
