package tarball

import (
	"bufio"
	"bytes"
	"compress/bzip2"
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strings"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
	"github.com/ulikunitz/xz"
)

// codec names one compression format.
type codec int

const (
	codecNone codec = iota
	codecGzip
	codecBzip2
	codecXz
	codecZstd
	codecLz4
)

func (c codec) String() string {
	return [...]string{"none", "gzip", "bzip2", "xz", "zstd", "lz4"}[c]
}

// codecForName mirrors GNU tar's --auto-compress table: only the last
// suffix matters, so "x.gz" is gzip just like "x.tar.gz". GNU tar 1.34 has
// no lz4 suffix, so ".lz4" stays uncompressed as it would there.
func codecForName(name string) codec {
	i := strings.LastIndexByte(name, '.')
	if i < 0 {
		return codecNone
	}
	switch name[i:] {
	case ".gz", ".tgz", ".taz":
		return codecGzip
	case ".bz2", ".tbz", ".tbz2", ".tz2":
		return codecBzip2
	case ".xz", ".txz":
		return codecXz
	case ".zst", ".tzst":
		return codecZstd
	}
	return codecNone
}

// sniff recognises a compression format by its magic bytes, as `tar -xa`
// does, so misnamed archives still load.
func sniff(head []byte) codec {
	switch {
	case bytes.HasPrefix(head, []byte{0x1f, 0x8b}):
		return codecGzip
	case bytes.HasPrefix(head, []byte("BZh")):
		return codecBzip2
	case bytes.HasPrefix(head, []byte{0xfd, '7', 'z', 'X', 'Z', 0x00}):
		return codecXz
	case bytes.HasPrefix(head, []byte{0x28, 0xb5, 0x2f, 0xfd}):
		return codecZstd
	case bytes.HasPrefix(head, []byte{0x04, 0x22, 0x4d, 0x18}):
		return codecLz4
	}
	return codecNone
}

// nopCloser adapts readers that need no cleanup.
type nopCloser struct{ io.Reader }

func (nopCloser) Close() error { return nil }

// decompressor wraps r according to its magic bytes.
func decompressor(r io.Reader) (io.ReadCloser, error) {
	br := bufio.NewReader(r)
	head, err := br.Peek(6)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("reading archive header: %w", err)
	}
	switch sniff(head) {
	case codecGzip:
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("opening gzip stream: %w", err)
		}
		return zr, nil
	case codecBzip2:
		return nopCloser{bzip2.NewReader(br)}, nil
	case codecXz:
		zr, err := xz.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("opening xz stream: %w", err)
		}
		return nopCloser{zr}, nil
	case codecZstd:
		// A small window cap keeps a hostile frame from reserving
		// gigabytes before the first byte is validated.
		zr, err := zstd.NewReader(br, zstd.WithDecoderMaxWindow(1<<27), zstd.WithDecoderConcurrency(1))
		if err != nil {
			return nil, fmt.Errorf("opening zstd stream: %w", err)
		}
		return zr.IOReadCloser(), nil
	case codecLz4:
		return nopCloser{lz4.NewReader(br)}, nil
	}
	return nopCloser{br}, nil
}

// compressor wraps w in the writer for c. Go has no bzip2 encoder, so that
// one pipes through the bzip2 program; wait must be called after Close to
// collect its status.
func compressor(ctx context.Context, c codec, w io.Writer) (wc io.WriteCloser, wait func() error, err error) {
	noWait := func() error { return nil }
	switch c {
	case codecGzip:
		return gzip.NewWriter(w), noWait, nil
	case codecXz:
		zw, err := xz.NewWriter(w)
		if err != nil {
			return nil, nil, fmt.Errorf("starting xz stream: %w", err)
		}
		return zw, noWait, nil
	case codecZstd:
		zw, err := zstd.NewWriter(w, zstd.WithEncoderConcurrency(1))
		if err != nil {
			return nil, nil, fmt.Errorf("starting zstd stream: %w", err)
		}
		return zw, noWait, nil
	case codecBzip2:
		path, err := exec.LookPath("bzip2")
		if err != nil {
			return nil, nil, fmt.Errorf("bzip2 compression needs the bzip2 program: %w", err)
		}
		cmd := exec.CommandContext(ctx, path, "-c")
		cmd.Stdout = w
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		in, err := cmd.StdinPipe()
		if err != nil {
			return nil, nil, fmt.Errorf("starting bzip2: %w", err)
		}
		if err := cmd.Start(); err != nil {
			return nil, nil, fmt.Errorf("starting bzip2: %w", err)
		}
		return in, func() error {
			if err := cmd.Wait(); err != nil {
				return fmt.Errorf("bzip2: %w: %s", err, strings.TrimSpace(stderr.String()))
			}
			return nil
		}, nil
	}
	return nopWriteCloser{w}, noWait, nil
}

type nopWriteCloser struct{ io.Writer }

func (nopWriteCloser) Close() error { return nil }
