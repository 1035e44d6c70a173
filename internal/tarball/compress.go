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
	"time"

	"github.com/dkms-go/dkms/internal/proc"
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
	codecLzip
	codecLzop
	codecCompress
)

func (c codec) String() string {
	return [...]string{"none", "gzip", "bzip2", "xz", "zstd", "lz4", "lzip", "lzop", "compress"}[c]
}

// programs are the codecs written through an external program, as GNU tar
// does, failing when it is not installed. Go has no encoder for any of them
// and no decoder except for bzip2, which is read in process.
var programs = map[codec]string{codecBzip2: "bzip2", codecLzip: "lzip", codecLzop: "lzop", codecCompress: "compress"}

// codecForName mirrors GNU tar's --auto-compress table: only the last
// suffix matters, so "x.gz" is gzip just like "x.tar.gz". GNU tar 1.34 has
// no lz4 suffix, so ".lz4" stays uncompressed as it would there; Debian's
// tar writes ".lzma" and ".tlz" in the xz format.
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
	case ".xz", ".txz", ".lzma", ".tlz":
		return codecXz
	case ".zst", ".tzst":
		return codecZstd
	case ".lz":
		return codecLzip
	case ".lzo":
		return codecLzop
	case ".Z", ".taZ":
		return codecCompress
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
	case bytes.HasPrefix(head, []byte("LZIP")):
		return codecLzip
	case bytes.HasPrefix(head, []byte{0x89, 'L', 'Z', 'O'}):
		return codecLzop
	case bytes.HasPrefix(head, []byte{0x1f, 0x9d}):
		return codecCompress
	}
	return codecNone
}

// nopCloser adapts readers that need no cleanup.
type nopCloser struct{ io.Reader }

func (nopCloser) Close() error { return nil }

// decompressor wraps r according to its magic bytes. A decoding program
// is killed with its process group when ctx ends.
func decompressor(ctx context.Context, r io.Reader) (io.ReadCloser, error) {
	br := bufio.NewReader(r)
	head, err := br.Peek(6)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("reading archive header: %w", err)
	}
	c := sniff(head)
	if prog, ok := programs[c]; ok && c != codecBzip2 {
		return decompressWith(ctx, prog, br)
	}
	switch c {
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
	return plainReader{br}, nil
}

// plainReader is an archive that is not compressed: no decoder vouches
// for what follows the end of its tar stream, so none of it is read.
type plainReader struct{ io.Reader }

func (plainReader) Close() error { return nil }

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
	case codecBzip2, codecLzip, codecLzop, codecCompress:
		prog := programs[c]
		path, err := exec.LookPath(prog)
		if err != nil {
			return nil, nil, fmt.Errorf("%v compression needs the %s program: %w", c, prog, err)
		}
		cmd := proc.Command(ctx, false, path, "-c")
		cmd.Stdout = w
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		in, err := cmd.StdinPipe()
		if err != nil {
			return nil, nil, fmt.Errorf("starting %s: %w", prog, err)
		}
		if err := proc.Start(cmd); err != nil {
			return nil, nil, fmt.Errorf("starting %s: %w", prog, err)
		}
		return in, func() error {
			if err := cmd.Wait(); err != nil {
				return fmt.Errorf("%s: %w: %s", prog, err, strings.TrimSpace(stderr.String()))
			}
			return nil
		}, nil
	}
	return nopWriteCloser{w}, noWait, nil
}

type nopWriteCloser struct{ io.Writer }

func (nopWriteCloser) Close() error { return nil }

// decompressWith runs "prog -dc" on r; the returned reader's Close reports
// the program's failure. When ctx ends (dkms's deadline or signal), the
// program and its group are killed, whatever the archive makes them do
// (a bomb of gigabytes of zeros from a few hundred KB), and reading its
// output ends.
func decompressWith(ctx context.Context, prog string, r io.Reader) (io.ReadCloser, error) {
	path, err := exec.LookPath(prog)
	if err != nil {
		return nil, fmt.Errorf("reading the archive needs the %s program: %w", prog, err)
	}
	cmd := proc.Command(ctx, false, path, "-dc")
	cmd.Stdin = r
	// Close waits for the copy of r to the program's stdin, which a
	// reader that blocks (an archive on a hung file system) would hold
	// for ever once the program is gone.
	cmd.WaitDelay = time.Second
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("starting %s: %w", prog, err)
	}
	if err := proc.Start(cmd); err != nil {
		return nil, fmt.Errorf("starting %s: %w", prog, err)
	}
	return &programReader{ReadCloser: out, cmd: cmd, stderr: &stderr, prog: prog}, nil
}

// programReader reads a decompressing program's output.
type programReader struct {
	io.ReadCloser
	cmd    *exec.Cmd
	stderr *bytes.Buffer
	prog   string
}

func (p *programReader) Close() error {
	p.ReadCloser.Close()
	if err := p.cmd.Wait(); err != nil {
		return fmt.Errorf("%s: %w: %s", p.prog, err, strings.TrimSpace(p.stderr.String()))
	}
	return nil
}
