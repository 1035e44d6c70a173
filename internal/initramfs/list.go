package initramfs

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"strings"

	"github.com/cavaliergopher/cpio"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"
	"github.com/ulikunitz/xz/lzma"
)

// Entry is one member of an initramfs image.
type Entry struct {
	// Path is the name as stored in the archive (initramfs-tools stores
	// "usr/lib/modules/...", dracut "./usr/lib/modules/...").
	Path string `json:"path"`
	// Size is the stored size of a regular file.
	Size int64 `json:"size"`
	// Hash is the hex SHA-256 of a regular file's content. For kernel
	// modules stored compressed (.ko.xz, .ko.zst, .ko.gz) it is the hash of
	// the decompressed module, so that it compares with any installed form.
	Hash string `json:"hash,omitempty"`
	// Segment counts the segments of the image from 0 (an early microcode
	// segment is usually 0, the main archive 1).
	Segment int `json:"segment"`
	// Compression is the encoding of the segment holding the entry.
	Compression Compression `json:"compression"`
	Mode        fs.FileMode `json:"mode"`
	Linkname    string      `json:"linkname,omitempty"`
}

// IsModule reports whether the entry is a kernel module file.
func (e Entry) IsModule() bool {
	return e.Mode.IsRegular() && moduleName(e.Path) != ""
}

var moduleSuffixes = []string{".ko", ".ko.xz", ".ko.zst", ".ko.gz"}

// moduleName returns the module name of a module file path ("" if the path
// is not one), with dashes folded to underscores as the kernel does when it
// compares module names.
func moduleName(p string) string {
	base := p[strings.LastIndexByte(p, '/')+1:]
	for _, suf := range moduleSuffixes {
		if name, ok := strings.CutSuffix(base, suf); ok && name != "" {
			return strings.ReplaceAll(name, "-", "_")
		}
	}
	return ""
}

var cpioMagic = []byte("07070")

// List walks every entry of every segment of the image read from r, in
// order, calling fn for each; an error from fn stops the walk and is
// returned as is. The image is streamed: memory use does not grow with its
// size.
func List(r io.Reader, fn func(Entry) error) error {
	d := &decoders{}
	defer d.close()
	// The image is read ahead on a goroutine of its own too, which keeps
	// the read system calls off the decompressing goroutine, the slowest
	// stage of the pipeline.
	ra := newPrefetch(readProducer{r})
	defer ra.stop()
	s := newSource(ra)
	defer s.release()
	for seg := 0; ; seg++ {
		if !s.skipZeros() {
			if s.err != io.EOF {
				return fmt.Errorf("reading image: %w", s.err)
			}
			if seg == 0 {
				return ErrEmptyImage
			}
			return nil
		}
		start := s.off
		c, ok := detect(s.peek(6))
		if !ok {
			return fmt.Errorf("segment %d at offset %d: %w", seg, start, ErrBadMagic)
		}
		if err := d.walkSegment(s, c, seg, fn); err != nil {
			return fmt.Errorf("segment %d (%s) at offset %d: %w", seg, c, start, err)
		}
	}
}

func (d *decoders) walkSegment(s *source, c Compression, seg int, fn func(Entry) error) error {
	if c == None {
		return d.walkArchive(s, c, seg, fn)
	}
	pr, err := d.openSegment(s, c)
	if err != nil {
		return err
	}
	pf := newPrefetch(pr)
	defer pf.stop()
	ds := newSource(pf)
	defer ds.release()
	// The decompressed stream may hold several archives separated by NULs,
	// as the kernel accepts.
	for first := true; ; first = false {
		if !ds.skipZeros() {
			if ds.err != io.EOF {
				return unexpectedIfEOF(ds.err)
			}
			if first {
				return errors.New("empty compressed segment")
			}
			return nil
		}
		if !bytes.HasPrefix(ds.peek(5), cpioMagic) {
			return fmt.Errorf("no cpio magic at decompressed offset %d", ds.off)
		}
		if err := d.walkArchive(ds, c, seg, fn); err != nil {
			return err
		}
	}
}

// walkArchive reads one cpio archive up to and including its trailer.
func (d *decoders) walkArchive(s *source, c Compression, seg int, fn func(Entry) error) error {
	cr := cpio.NewReader(s)
	for {
		// cpio.Reader reports a missing trailer as a clean end; the kernel
		// would stop there too, but an image cut short is worth an error.
		if len(s.peek(1)) == 0 {
			if s.err != io.EOF {
				return s.err
			}
			return fmt.Errorf("archive truncated before its trailer: %w", io.ErrUnexpectedEOF)
		}
		at := s.off
		hdr, err := cr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("cpio header at offset %d: %w", at, unexpectedIfEOF(err))
		}
		fi := hdr.FileInfo()
		e := Entry{Path: hdr.Name, Segment: seg, Compression: c, Mode: fi.Mode(), Linkname: hdr.Linkname}
		if e.Mode.IsRegular() {
			if hdr.Size > MaxMemberSize {
				return fmt.Errorf("%s: %w: %d bytes, more than %d MiB", hdr.Name, ErrTooLarge, hdr.Size, MaxMemberSize>>20)
			}
			e.Size = hdr.Size
			e.Hash, err = d.hashContent(hdr.Name, cr, hdr.Size)
			if err != nil {
				return fmt.Errorf("reading %s: %w", hdr.Name, err)
			}
		}
		if err := fn(e); err != nil {
			return err
		}
	}
}

// hashContent hashes the size bytes of r; compressed module files are
// hashed decompressed, and all size bytes must be there even when the
// compressed stream ends before them. The hash state and copy buffer are
// reused from file to file: a fresh 32 KiB buffer per file was most of
// what the walk allocated, and the garbage collections it caused slowed
// decompression.
func (d *decoders) hashContent(name string, r io.Reader, size int64) (string, error) {
	if d.sha == nil {
		d.sha, d.buf = sha256.New(), make([]byte, 32<<10)
	}
	h := d.sha
	h.Reset()
	lr := &io.LimitedReader{R: r, N: size}
	var err error
	switch {
	case strings.HasSuffix(name, ".ko.xz"):
		err = d.hashXZ(h, lr)
	case strings.HasSuffix(name, ".ko.zst"):
		err = d.hashZstd(h, lr)
	case strings.HasSuffix(name, ".ko.gz"):
		err = d.hashGzip(h, lr)
	default:
		_, err = io.CopyBuffer(h, lr, d.buf)
	}
	if err == nil {
		_, err = io.CopyBuffer(io.Discard, lr, d.buf)
	}
	if err == nil && lr.N != 0 {
		err = io.ErrUnexpectedEOF
	}
	if err != nil {
		return "", err
	}
	var sum [sha256.Size]byte
	return hex.EncodeToString(h.Sum(sum[:0])), nil
}

func (d *decoders) hashXZ(h hash.Hash, r io.Reader) error {
	// As for segments: the decoder allocates the dictionary the header
	// asks for, up to 4 GiB, before reading any data.
	br := bufio.NewReaderSize(r, 1024)
	head, _ := br.Peek(1024)
	if err := checkXZDict(head); err != nil {
		return err
	}
	zr, err := xz.ReaderConfig{DictCap: lzma.MinDictCap}.NewReader(br)
	if err != nil {
		return fmt.Errorf("xz module: %w", err)
	}
	return d.copyMember(h, zr)
}

func (d *decoders) hashZstd(h hash.Hash, r io.Reader) error {
	zr, err := zstd.NewReader(r, zstd.WithDecoderConcurrency(1), zstd.WithDecoderLowmem(true))
	if err != nil {
		return fmt.Errorf("zstd module: %w", err)
	}
	defer zr.Close()
	return d.copyMember(h, zr)
}

func (d *decoders) hashGzip(h hash.Hash, r io.Reader) error {
	zr, err := gzip.NewReader(r)
	if err != nil {
		return fmt.Errorf("gzip module: %w", err)
	}
	return d.copyMember(h, zr)
}

func unexpectedIfEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}
