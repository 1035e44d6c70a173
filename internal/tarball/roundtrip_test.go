package tarball

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dkms-go/dkms/internal/testenv"
)

// suffixes lists every compression GNU tar picks by suffix, with the
// program tar needs for it ("" for built in).
var suffixes = []struct {
	suffix, program string
	want            codec
}{
	{".tar", "", codecNone},
	{".tar.gz", "gzip", codecGzip},
	{".tgz", "gzip", codecGzip},
	{".tar.xz", "xz", codecXz},
	{".tar.bz2", "bzip2", codecBzip2},
	{".tar.zst", "zstd", codecZstd},
	{".tar.lzma", "xz", codecXz}, // Debian's tar writes xz for the lzma suffixes
	{".tlz", "xz", codecXz},
	{".tar.lz", "lzip", codecLzip},
	{".tar.lzo", "lzop", codecLzop},
	{".tar.Z", "compress", codecCompress},
	{".dkms.tar.gz", "gzip", codecGzip},
	{".unknown", "", codecNone},
}

func TestCreateThenGNUTarExtracts(t *testing.T) {
	t.Parallel()
	src := sampleTree(t)
	want := testenv.Tree(t, src)
	for _, s := range suffixes {
		t.Run(s.suffix, func(t *testing.T) {
			t.Parallel()
			testenv.RequireTools(t, "tar", s.program)
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			out := filepath.Join(t.TempDir(), "foo-1.0"+s.suffix)
			if err := Create(ctx, src, out); err != nil {
				t.Fatalf("Create: %v", err)
			}
			data, err := os.ReadFile(out)
			if err != nil {
				t.Fatal(err)
			}
			if got := sniff(data); got != s.want {
				t.Errorf("compression %v, want %v", got, s.want)
			}
			list, err := exec.CommandContext(ctx, "tar", "-tf", out).Output()
			if err != nil {
				t.Fatalf("tar -t: %v", err)
			}
			names := strings.Split(strings.TrimSpace(string(list)), "\n")
			if names[0] != "./" {
				t.Errorf("first member %q, want ./", names[0])
			}
			for _, n := range names {
				if !strings.HasPrefix(n, "./") {
					t.Errorf("member %q does not start with ./", n)
				}
			}
			dest := t.TempDir()
			if msg, err := exec.CommandContext(ctx, "tar", "-C", dest, "-xaf", out).CombinedOutput(); err != nil {
				t.Fatalf("tar -x: %v: %s", err, msg)
			}
			if got := testenv.Tree(t, dest); got != want {
				t.Errorf("tree after tar -x:\n%s\nwant:\n%s", got, want)
			}
		})
	}
}

func TestGNUTarThenExtract(t *testing.T) {
	t.Parallel()
	src := sampleTree(t)
	// GNU tar stores the second name of a hard-linked file as a link
	// member, which Extract must accept.
	if err := os.Link(filepath.Join(src, "dkms_source_tree", "foo.c"), filepath.Join(src, "dkms_source_tree", "hard.c")); err != nil {
		t.Fatal(err)
	}
	want := testenv.Tree(t, src)
	for _, s := range suffixes {
		t.Run(s.suffix, func(t *testing.T) {
			t.Parallel()
			testenv.RequireTools(t, "tar", s.program)
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			out := filepath.Join(t.TempDir(), "foo-1.0"+s.suffix)
			if msg, err := exec.CommandContext(ctx, "tar", "-C", src, "-caf", out, ".").CombinedOutput(); err != nil {
				t.Fatalf("tar -c: %v: %s", err, msg)
			}
			dest := freshDest(t)
			if err := Extract(ctx, out, dest, Limits{}); err != nil {
				t.Fatalf("Extract: %v", err)
			}
			if got := testenv.Tree(t, dest); got != want {
				t.Errorf("tree after Extract:\n%s\nwant:\n%s", got, want)
			}
			a, _ := os.Stat(filepath.Join(dest, "dkms_source_tree", "foo.c"))
			b, _ := os.Stat(filepath.Join(dest, "dkms_source_tree", "hard.c"))
			if a == nil || b == nil || !os.SameFile(a, b) {
				t.Error("hard link not restored as a hard link")
			}
		})
	}
}

func TestCreateIsDeterministic(t *testing.T) {
	t.Parallel()
	src := sampleTree(t)
	var archives [][]byte
	for i := 0; i < 2; i++ {
		out := filepath.Join(t.TempDir(), "a.tar.gz")
		if err := Create(context.Background(), src, out); err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		archives = append(archives, b)
	}
	if !bytes.Equal(archives[0], archives[1]) {
		t.Error("two archives of the same tree differ")
	}
}

func TestCreateErrorsLeaveNothing(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	tests := []struct{ name, src, out string }{
		{"missing source", filepath.Join(dir, "nope"), filepath.Join(dir, "a.tar")},
		{"source is a file", writeFile(t, "f", []byte("x")), filepath.Join(dir, "b.tar")},
		{"missing output directory", sampleTree(t), filepath.Join(dir, "no", "c.tar")},
	}
	for _, tc := range tests {
		if err := Create(context.Background(), tc.src, tc.out); err == nil {
			t.Errorf("%s: Create succeeded", tc.name)
		}
		if _, err := os.Lstat(tc.out); err == nil {
			t.Errorf("%s: output exists after failure", tc.name)
		}
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Errorf("temporary files left: %v", ents)
	}
}

func TestOwnRoundTrip(t *testing.T) {
	t.Parallel()
	src := sampleTree(t)
	want := testenv.Tree(t, src)
	for _, s := range suffixes {
		t.Run(s.suffix, func(t *testing.T) {
			t.Parallel()
			testenv.RequireTools(t, s.program)
			out := filepath.Join(t.TempDir(), "x"+s.suffix)
			if err := Create(context.Background(), src, out); err != nil {
				t.Fatal(err)
			}
			dest := freshDest(t)
			if err := Extract(context.Background(), out, dest, Limits{}); err != nil {
				t.Fatal(err)
			}
			if got := testenv.Tree(t, dest); got != want {
				t.Errorf("tree:\n%s\nwant:\n%s", got, want)
			}
		})
	}
}

// TestCreateWithoutProgram: a suffix whose compressor is a program that
// is not installed fails, as GNU tar does ("lzip: not found"), instead of
// writing an uncompressed archive under a compressed name.
func TestCreateWithoutProgram(t *testing.T) {
	t.Parallel()
	for _, s := range []struct{ suffix, program string }{{".tar.lz", "lzip"}, {".tar.lzo", "lzop"}, {".tar.Z", "compress"}} {
		if _, err := exec.LookPath(s.program); err == nil {
			continue
		}
		out := filepath.Join(t.TempDir(), "foo-1.0"+s.suffix)
		err := Create(context.Background(), sampleTree(t), out)
		if err == nil || !strings.Contains(err.Error(), s.program) {
			t.Errorf("%s: error %v, want one naming %s", s.suffix, err, s.program)
		}
		if _, serr := os.Stat(out); !os.IsNotExist(serr) {
			t.Errorf("%s: an archive was left behind: %v", s.suffix, serr)
		}
	}
}
