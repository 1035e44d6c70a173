package compress

import (
	"bytes"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dkms-go/dkms/internal/testenv"
)

func TestSuffix(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, want string }{
		{"foo.ko", ""},
		{"foo.ko.gz", ".gz"},
		{"foo.ko.xz", ".xz"},
		{"foo.ko.zst", ".zst"},
		{"/a/b/foo.ko.zst", ".zst"},
		{"foo.gz", ""},
		{"foo.tar.xz", ""},
		{"foo.ko.bz2", ""},
		{"foo.ko.zstd", ""},
		{"", ""},
		{".ko.gz", ".gz"},
	}
	for _, tt := range tests {
		if got := Suffix(tt.name); got != tt.want {
			t.Errorf("Suffix(%q) = %q, want %q", tt.name, got, tt.want)
		}
	}
}

// mkTree creates empty files (and directories for names ending in /) under root.
func mkTree(t *testing.T, root string, names ...string) {
	t.Helper()
	for _, n := range names {
		p := filepath.Join(root, n)
		if strings.HasSuffix(n, "/") {
			if err := os.MkdirAll(p, 0o755); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestDetect(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		files []string
		want  string
	}{
		{"empty kernel dir", []string{"k/"}, ""},
		{"plain modules", []string{"k/kernel/a.ko", "k/kernel/b/c.ko"}, ""},
		{"gz", []string{"k/kernel/a.ko", "k/kernel/b/c.ko.gz"}, ".gz"},
		{"xz beats gz", []string{"k/kernel/a.ko.gz", "k/z/c.ko.xz"}, ".xz"},
		{"zst beats xz", []string{"k/a/a.ko.xz", "k/b/c.ko.zst", "k/c/d.ko.gz"}, ".zst"},
		{"zst found first", []string{"k/a/a.ko.zst", "k/b/c.ko.xz"}, ".zst"},
		{"other compressed names ignored", []string{"k/modules.alias.gz", "k/foo.xz", "k/x.ko.bz2"}, ""},
		{"other kernels ignored", []string{"k/a.ko", "other/a.ko.zst"}, ""},
		{"directory named like a module", []string{"k/weird.ko.zst/", "k/a.ko.gz"}, ".gz"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			root := t.TempDir()
			mkTree(t, root, tt.files...)
			got, err := Detect(root, "k")
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("Detect = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestDetectSymlinks(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	headers := t.TempDir()
	mkTree(t, headers, "scripts/x.ko.zst")
	mkTree(t, root, "k/kernel/a.ko.gz", "real/kernel/b.ko.xz")
	// build/ is a symlink into the headers: not followed.
	if err := os.Symlink(headers, filepath.Join(root, "k", "build")); err != nil {
		t.Fatal(err)
	}
	// A loop must not hang the walk.
	if err := os.Symlink("..", filepath.Join(root, "k", "kernel", "loop")); err != nil {
		t.Fatal(err)
	}
	got, err := Detect(root, "k")
	if err != nil {
		t.Fatal(err)
	}
	if got != ".gz" {
		t.Errorf("Detect = %q, want .gz", got)
	}
	// The kernel directory itself may be a symlink (find <dir>/ follows it).
	if err := os.Symlink("real", filepath.Join(root, "linked")); err != nil {
		t.Fatal(err)
	}
	got, err = Detect(root, "linked")
	if err != nil {
		t.Fatal(err)
	}
	if got != ".xz" {
		t.Errorf("Detect(linked) = %q, want .xz", got)
	}
}

func TestDetectMissingAndEmpty(t *testing.T) {
	t.Parallel()
	got, err := Detect(t.TempDir(), "nosuchkernel")
	if err != nil || got != "" {
		t.Errorf("Detect(missing) = %q, %v; want \"\", nil", got, err)
	}
	if _, err := Detect(t.TempDir(), ""); err == nil {
		t.Error("Detect with empty kernel: want error")
	}
}

// TestDetectRealTree runs on the installed kernel's module tree, comparing
// with find(1). Its speed is BenchmarkDetectRealTree's business.
func TestDetectRealTree(t *testing.T) {
	t.Parallel()
	k := testenv.DebianKernelName()
	if _, err := os.Stat(filepath.Join("/lib/modules", k, "kernel")); err != nil {
		t.Skipf("kernel %s modules not installed: %v", k, err)
	}
	got, err := Detect("/lib/modules", k)
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("find", "/lib/modules/"+k+"/", "-name", "*.ko.gz", "-o", "-name", "*.ko.xz", "-o", "-name", "*.ko.zst").Output()
	if err != nil {
		t.Fatal(err)
	}
	want := ""
	for _, line := range strings.Fields(string(out)) {
		if s := Suffix(line); rank[s] > rank[want] {
			want = s
		}
	}
	if got != want {
		t.Errorf("Detect = %q, find says %q", got, want)
	}
}

// BenchmarkDetectRealTree times Detect on the installed kernel's module tree
// (go test -bench DetectRealTree ./internal/compress).
func BenchmarkDetectRealTree(b *testing.B) {
	k := testenv.DebianKernelName()
	if _, err := os.Stat(filepath.Join("/lib/modules", k, "kernel")); err != nil {
		b.Skipf("kernel %s modules not installed: %v", k, err)
	}
	for b.Loop() {
		if _, err := Detect("/lib/modules", k); err != nil {
			b.Fatal(err)
		}
	}
}

func TestDefaultOpts(t *testing.T) {
	t.Parallel()
	want := Opts{Gzip: "", Xz: "--check=crc32 --lzma2=dict=1MiB", Zstd: "-q --rm -T0"}
	if got := DefaultOpts(); got.Gzip != want.Gzip || got.Xz != want.Xz || got.Zstd != want.Zstd || got.Env != nil {
		t.Errorf("DefaultOpts = %+v, want %+v", got, want)
	}
}

// payload is compressible but not trivial.
func payload() []byte {
	var b bytes.Buffer
	for i := range 5000 {
		b.WriteString("module data line ")
		b.WriteByte(byte('a' + i%26))
		b.WriteByte('\n')
	}
	return b.Bytes()
}

func TestCompressRoundTrip(t *testing.T) {
	t.Parallel()
	tests := []struct {
		suffix, tool string
		opts         Opts
		keepsInput   bool
	}{
		{Gz, "gzip", DefaultOpts(), false},
		{Xz, "xz", DefaultOpts(), false},
		{Zst, "zstd", DefaultOpts(), false},
		{Gz, "gzip", Opts{Gzip: "-9 -n"}, false},
		{Xz, "xz", Opts{Xz: "  -0   "}, false},
		{Zst, "zstd", Opts{Zstd: "-q -19"}, true}, // no --rm: zstd keeps its input
	}
	for _, tt := range tests {
		t.Run(tt.tool+"/"+tt.opts.Gzip+tt.opts.Xz+tt.opts.Zstd, func(t *testing.T) {
			t.Parallel()
			testenv.RequireTools(t, tt.tool)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			dir := t.TempDir()
			file := filepath.Join(dir, "foo.ko")
			data := payload()
			if err := os.WriteFile(file, data, 0o644); err != nil {
				t.Fatal(err)
			}
			got, err := CompressTo(ctx, file, tt.suffix, tt.opts, nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			if got != file+tt.suffix {
				t.Errorf("Compress returned %q, want %q", got, file+tt.suffix)
			}
			_, statErr := os.Stat(file)
			if tt.keepsInput != (statErr == nil) {
				t.Errorf("input exists after compression: %v, want %v", statErr == nil, tt.keepsInput)
			}
			entries, _ := os.ReadDir(dir)
			for _, e := range entries {
				if strings.HasPrefix(e.Name(), ".dkms-keep") {
					t.Errorf("leftover %s", e.Name())
				}
			}
			r, err := Open(got)
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			back, err := io.ReadAll(r)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(back, data) {
				t.Errorf("round trip through %s changed the data (%d -> %d bytes)", tt.tool, len(data), len(back))
			}
		})
	}
}

func TestCompressFailureKeepsFile(t *testing.T) {
	t.Parallel()
	tests := []struct {
		suffix, tool string
		opts         Opts
	}{
		{Gz, "gzip", Opts{Gzip: "--no-such-option"}},
		{Xz, "xz", Opts{Xz: "--lzma2=bogus"}},
		{Zst, "zstd", Opts{Zstd: "-q --rm --no-such-option"}},
		// A stand-in that exits non-zero after writing the output and
		// removing the input, as gzip does for some warnings.
		{Gz, "fake", Opts{}},
	}
	for _, tt := range tests {
		t.Run(tt.tool, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			file := filepath.Join(dir, "foo.ko")
			data := payload()
			if err := os.WriteFile(file, data, 0o644); err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			var err error
			if tt.tool == "fake" {
				fake := filepath.Join(t.TempDir(), "gzip")
				script := "#!/bin/sh\nfor a; do f=$a; done\ncat \"$f\" > \"$f.gz\"; rm -f \"$f\"; echo warning >&2; exit 2\n"
				if err := os.WriteFile(fake, []byte(script), 0o755); err != nil {
					t.Fatal(err)
				}
				_, err = run(ctx, fake, nil, file, tt.suffix, nil, nil, nil)
			} else {
				testenv.RequireTools(t, tt.tool)
				_, err = CompressTo(ctx, file, tt.suffix, tt.opts, nil, nil)
			}
			if err == nil {
				t.Fatal("Compress succeeded, want error")
			}
			back, rerr := os.ReadFile(file)
			if rerr != nil || !bytes.Equal(back, data) {
				t.Errorf("original module damaged after failure: %v", rerr)
			}
			if _, serr := os.Stat(file + tt.suffix); serr == nil {
				t.Errorf("partial %s left behind", file+tt.suffix)
			}
			entries, _ := os.ReadDir(dir)
			if len(entries) != 1 {
				t.Errorf("directory holds %d entries after failure, want 1", len(entries))
			}
		})
	}
}

func TestCompressErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if _, err := CompressTo(context.Background(), filepath.Join(dir, "missing.ko"), Gz, DefaultOpts(), nil, nil); err == nil {
		t.Error("missing file: want error")
	}
	file := filepath.Join(dir, "a.ko")
	if err := os.WriteFile(file, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := CompressTo(context.Background(), file, ".bz2", DefaultOpts(), nil, nil); err == nil {
		t.Error("unknown suffix: want error")
	}
}

func TestOpenPlainAndCorrupt(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	plain := filepath.Join(dir, "a.ko")
	if err := os.WriteFile(plain, []byte("plain"), 0o644); err != nil {
		t.Fatal(err)
	}
	r, err := Open(plain)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(r)
	r.Close()
	if string(b) != "plain" {
		t.Errorf("plain read %q", b)
	}
	for _, ext := range []string{Gz, Xz, Zst} {
		p := filepath.Join(dir, "bad.ko"+ext)
		if err := os.WriteFile(p, []byte("not compressed at all"), 0o644); err != nil {
			t.Fatal(err)
		}
		r, err := Open(p)
		if err == nil {
			_, err = io.ReadAll(r)
			r.Close()
		}
		if err == nil {
			t.Errorf("Open+ReadAll of corrupt %s: want error", ext)
		}
	}
	if _, err := Open(filepath.Join(dir, "missing.ko")); err == nil {
		t.Error("Open(missing): want error")
	}
}
