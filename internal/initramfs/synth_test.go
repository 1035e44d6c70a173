package initramfs

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os/exec"
	"testing"

	"github.com/cavaliergopher/cpio"
	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
	"github.com/ulikunitz/xz"
	"github.com/ulikunitz/xz/lzma"
)

// file is one member of a synthetic archive.
type file struct {
	name string
	body []byte
	mode cpio.FileMode // 0 means a regular file 0644
	link string
}

// mkCPIO writes a newc archive like mkinitramfs does (trailer padded to
// 512 bytes by the writer).
func mkCPIO(t testing.TB, files ...file) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := cpio.NewWriter(&buf)
	for i, f := range files {
		h := &cpio.Header{Name: f.name, Mode: f.mode, Size: int64(len(f.body)), Inode: int64(i + 1), Links: 1}
		if h.Mode == 0 {
			h.Mode = cpio.TypeReg | 0o644
		}
		if f.link != "" {
			h.Linkname = f.link
			h.Size = int64(len(f.link))
		}
		if err := w.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		body := f.body
		if f.link != "" {
			body = []byte(f.link)
		}
		if _, err := w.Write(body); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// compress encodes data as the kernel expects each format.
func compress(t testing.TB, c Compression, data []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	var w io.WriteCloser
	var err error
	switch c {
	case None:
		return data
	case Gzip:
		w = gzip.NewWriter(&buf)
	case Zstd:
		w, err = zstd.NewWriter(&buf)
	case XZ:
		// Small dictionaries keep the fuzz seeds cheap to decode (the
		// decoder allocates what the header asks for).
		w, err = xz.WriterConfig{CheckSum: xz.CRC32, DictCap: 64 << 10}.NewWriter(&buf)
	case LZMA:
		w, err = lzma.WriterConfig{EOSMarker: true, DictCap: 64 << 10}.NewWriter(&buf)
	case LZ4:
		lw := lz4.NewWriter(&buf)
		err = lw.Apply(lz4.LegacyOption(true))
		w = lw
	case Bzip2:
		// The standard library only decodes bzip2.
		if _, err := exec.LookPath("bzip2"); err != nil {
			t.Skip("bzip2 not installed (Debian package bzip2)")
		}
		cmd := exec.Command("bzip2", "-c")
		cmd.Stdin = bytes.NewReader(data)
		out, err := cmd.Output()
		if err != nil {
			t.Fatal(err)
		}
		return out
	default:
		t.Fatalf("cannot compress %s", c)
	}
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func sum(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// listAll collects the entries of an image.
func listAll(data []byte) ([]Entry, error) {
	var got []Entry
	err := List(bytes.NewReader(data), func(e Entry) error {
		got = append(got, e)
		return nil
	})
	return got, err
}

func paths(es []Entry) []string {
	var p []string
	for _, e := range es {
		p = append(p, e.Path)
	}
	return p
}
