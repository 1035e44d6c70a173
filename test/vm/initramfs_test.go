package vm

import (
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cavaliergopher/cpio"
	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"
)

type entry struct {
	mode cpio.FileMode
	data string
}

func readArchive(t *testing.T, r io.Reader) (map[string]entry, []string) {
	t.Helper()
	cr := cpio.NewReader(r)
	got := map[string]entry{}
	var order []string
	for {
		hdr, err := cr.Next()
		if errors.Is(err, io.EOF) {
			return got, order
		}
		if err != nil {
			t.Fatalf("reading archive back: %v", err)
		}
		data, err := io.ReadAll(cr)
		if err != nil {
			t.Fatal(err)
		}
		if hdr.Mode&cpio.ModeType == cpio.TypeSymlink {
			data = []byte(hdr.Linkname)
		}
		got[hdr.Name] = entry{hdr.Mode, string(data)}
		order = append(order, hdr.Name)
	}
}

func TestInitramfsRoundTrip(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	r := NewInitramfs(&buf)
	steps := []func() error{
		func() error { return r.File("/init", 0o755, []byte("#!/bin/sh\n")) },
		func() error { return r.File("a/b/c.txt", 0o644, []byte("hello")) },
		func() error { return r.Dir("a/b") }, // already implied: must not repeat
		func() error { return r.Symlink("bin/sh", "busybox") },
		func() error { return r.File("../../etc/escape", 0o600, nil) },
		r.Close,
	}
	for i, s := range steps {
		if err := s(); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
	}
	got, order := readArchive(t, &buf)
	want := map[string]entry{
		"init":       {cpio.TypeReg | 0o755, "#!/bin/sh\n"},
		"a":          {cpio.TypeDir | 0o755, ""},
		"a/b":        {cpio.TypeDir | 0o755, ""},
		"a/b/c.txt":  {cpio.TypeReg | 0o644, "hello"},
		"bin":        {cpio.TypeDir | 0o755, ""},
		"bin/sh":     {cpio.TypeSymlink | 0o777, "busybox"},
		"etc":        {cpio.TypeDir | 0o755, ""},
		"etc/escape": {cpio.TypeReg | 0o600, ""},
	}
	if len(order) != len(want) {
		t.Errorf("archive has %d entries %q, want %d", len(order), order, len(want))
	}
	for name, w := range want {
		g, ok := got[name]
		if !ok {
			t.Errorf("missing %s", name)
			continue
		}
		if g != w {
			t.Errorf("%s = %o %q, want %o %q", name, g.mode, g.data, w.mode, w.data)
		}
	}
	// Parents must precede children, or the kernel cannot unpack the child.
	seen := map[string]bool{}
	for _, n := range order {
		if d := filepath.Dir(n); d != "." && !seen[d] {
			t.Errorf("%s precedes its directory %s", n, d)
		}
		seen[n] = true
	}
}

func TestReadModuleCompressed(t *testing.T) {
	t.Parallel()
	elf := append([]byte("\x7fELF"), bytes.Repeat([]byte("module body "), 100)...)
	dir := t.TempDir()
	write := func(name string, compress func(io.Writer) io.WriteCloser) string {
		p := filepath.Join(dir, name)
		f, err := os.Create(p)
		if err != nil {
			t.Fatal(err)
		}
		w := compress(f)
		if _, err := w.Write(elf); err != nil {
			t.Fatal(err)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
		return p
	}
	nop := func(w io.Writer) io.WriteCloser { return nopCloser{w} }
	tests := []struct {
		name    string
		path    string
		wantErr string
	}{
		{"plain", write("a.ko", nop), ""},
		{"gzip", write("b.ko.gz", func(w io.Writer) io.WriteCloser { return gzip.NewWriter(w) }), ""},
		{"xz", write("c.ko.xz", func(w io.Writer) io.WriteCloser {
			x, err := xz.NewWriter(w)
			if err != nil {
				t.Fatal(err)
			}
			return x
		}), ""},
		{"zstd", write("d.ko.zst", func(w io.Writer) io.WriteCloser {
			z, err := zstd.NewWriter(w)
			if err != nil {
				t.Fatal(err)
			}
			return z
		}), ""},
		{"wrong suffix", write("e.o", nop), "not a kernel module file name"},
		{"garbage xz", filepath.Join("testdata", "garbage.ko.xz"), "xz"},
		{"missing", filepath.Join(dir, "nope.ko"), "no such file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := ReadModule(tt.path)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, elf) {
				t.Errorf("decompressed %d bytes differ from the original %d", len(got), len(elf))
			}
		})
	}
}

type nopCloser struct{ io.Writer }

func (nopCloser) Close() error { return nil }

func TestInitramfsTree(t *testing.T) {
	t.Parallel()
	src := t.TempDir()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(filepath.Join(src, "usr", "sbin"), 0o755))
	must(os.WriteFile(filepath.Join(src, "usr", "sbin", "dkms"), []byte("#!bin"), 0o755))
	must(os.MkdirAll(filepath.Join(src, "var", "lib", "dkms", "m", "1.0", "build"), 0o755))
	must(os.Symlink("/usr/src/m-1.0", filepath.Join(src, "var", "lib", "dkms", "m", "1.0", "source")))

	var buf bytes.Buffer
	r := NewInitramfs(&buf)
	must(r.Tree("vm/root", src))
	must(r.Close())
	got, _ := readArchive(t, &buf)
	want := map[string]entry{
		"vm/root/usr/sbin/dkms":             {cpio.TypeReg | 0o755, "#!bin"},
		"vm/root/var/lib/dkms/m/1.0/source": {cpio.TypeSymlink | 0o777, "/usr/src/m-1.0"},
		"vm/root/var/lib/dkms/m/1.0/build":  {cpio.TypeDir | 0o755, ""},
		"vm/root":                           {cpio.TypeDir | 0o755, ""},
	}
	for name, w := range want {
		if g, ok := got[name]; !ok || g != w {
			t.Errorf("%s = %+v (present %v), want %+v", name, g, ok, w)
		}
	}
}
