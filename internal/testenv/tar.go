package testenv

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TarEntry is one member of a crafted, possibly hostile, archive. The
// header is written exactly as described: names are not cleaned, so
// "../x", "/etc/x" and links anywhere can be expressed.
type TarEntry struct {
	Name, Body, Link string
	// Type is a tar type flag; 0 means a directory when Name ends in "/"
	// and a regular file otherwise.
	Type byte
	// Mode 0 means 0o755 for directories and 0o644 for everything else.
	Mode int64
	// Size, when non-zero, is a declared size written without the data:
	// the archive ends after this header, which is enough for a reader to
	// judge it (an oversized member costs nothing to make).
	Size int64
}

// Tar returns the uncompressed archive of ents.
func Tar(t testing.TB, ents []TarEntry) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range ents {
		h := &tar.Header{Name: e.Name, Linkname: e.Link, Typeflag: e.Type, Mode: e.Mode,
			ModTime: time.Unix(1700000000, 0), Format: tar.FormatPAX}
		if h.Typeflag == 0 {
			h.Typeflag = tar.TypeReg
			if strings.HasSuffix(e.Name, "/") {
				h.Typeflag = tar.TypeDir
			}
		}
		if h.Mode == 0 {
			h.Mode = 0o644
			if h.Typeflag == tar.TypeDir {
				h.Mode = 0o755
			}
		}
		if h.Typeflag == tar.TypeReg {
			h.Size = int64(len(e.Body))
		}
		if e.Size != 0 {
			h.Size = e.Size
			if err := tw.WriteHeader(h); err != nil {
				t.Fatalf("crafting %q: %v", e.Name, err)
			}
			tw.Flush()
			return buf.Bytes()
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatalf("crafting %q: %v", e.Name, err)
		}
		if _, err := tw.Write([]byte(e.Body)); err != nil {
			t.Fatalf("crafting %q: %v", e.Name, err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// WriteTarGz writes the gzipped archive of ents into a fresh directory
// outside every test tree and returns its path.
func WriteTarGz(t testing.TB, ents []TarEntry) string {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(Tar(t, ents))
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "crafted.tar.gz")
	if err := os.WriteFile(p, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}
