package tarball

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
)

// FuzzExtract extracts archives built from a compact description that
// the fuzzer mutates (see specArchive). Whatever happens, it must not
// panic; a failure must leave the destination empty with no staging left
// over; a success must not have created anything that points outside the
// destination, nor any file with set-ID or group/other write bits.
//
// Why a description rather than raw archive bytes: a tar is at least a
// few KiB (512-byte headers, two trailer blocks), and the fuzzer
// minimizes every input that finds new coverage with work quadratic in
// its length. On raw archives that minimization used its whole 60 s
// budget on each new input, so FuzzExtract executed about 30 inputs in
// 45 s. Descriptions are tens of bytes: the same rules are explored with
// names, link targets and member kinds as the mutated material, at
// hundreds of executions a second. The archive is read from memory.
func FuzzExtract(f *testing.F) {
	for _, s := range []string{
		"n" + "d./d/\nf./d/f\x00x\nl./d/l\x00f\nh./h\x00./d/f",
		"n" + "d./d/\nl./d/s\x00..\nl./d/t\x00s/../..",
		"n" + "f../x\x00x",
		"n" + "l./a\x00/etc\nf./a/x\x00y",
		"n" + "d./w/\nF./w/f\x00world-writable\nD./w/d/",
		"n" + "h./h\x00../etc/passwd\ncdev\npfifo",
		"g" + "f./a\x00b",
		"z" + "d./d/\nf./d/f\x00x",
		"n",
	} {
		f.Add([]byte(s))
	}
	// One destination for all inputs, emptied after each success; on
	// tmpfs when there is one, since directory work is most of the cost.
	parent := f.TempDir()
	if shm, err := os.MkdirTemp("/dev/shm", "fuzzextract"); err == nil {
		parent = shm
		f.Cleanup(func() { removeAll(shm) })
	}
	dest := filepath.Join(parent, "dest")
	if err := os.Mkdir(dest, 0o700); err != nil {
		f.Fatal(err)
	}
	var enc encoders
	lim := Limits{MaxMembers: 200, MaxMemberSize: 1 << 20, MaxTotalSize: 4 << 20}
	f.Fuzz(func(t *testing.T, spec []byte) {
		data, ok := enc.specArchive(spec)
		if !ok {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		open := func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil }
		if err := extract(ctx, "fuzz.tar", open, dest, lim); err != nil {
			if errors.Is(err, context.DeadlineExceeded) {
				t.Skip("slow input")
			}
			assertUntouched(t, dest)
			return
		}
		defer func() {
			ents, _ := os.ReadDir(dest)
			for _, e := range ents {
				removeAll(filepath.Join(dest, e.Name()))
			}
		}()
		if ents, _ := os.ReadDir(parent); len(ents) != 1 {
			t.Errorf("staging left behind: %v", ents)
		}
		realDest, _ := filepath.EvalSymlinks(dest)
		filepath.WalkDir(dest, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return nil
			}
			fi, err := os.Lstat(p)
			if err != nil {
				return nil
			}
			if fi.Mode()&fs.ModeSymlink != 0 {
				if r, err := filepath.EvalSymlinks(p); err == nil && r != realDest && !strings.HasPrefix(r, realDest+"/") {
					t.Errorf("%s resolves outside the destination to %s", p, r)
				}
				return nil
			}
			if p != dest && fi.Mode()&(fs.ModeSetuid|fs.ModeSetgid|0o022) != 0 {
				t.Errorf("%s has mode %v", p, fi.Mode())
			}
			return nil
		})
	})
}

// encoders are reused from input to input: a new zstd encoder costs more
// than an extraction.
type encoders struct {
	gz   *gzip.Writer
	zstd *zstd.Encoder
}

// specArchive turns a description into an archive. The first byte picks
// the compression ('g' gzip, 'z' zstd, anything else none); then come
// members separated by newlines, each a kind letter followed by the name
// and, after a NUL, the link target or the file content. Kinds: d f l h c
// p for directory, file, symbolic link, hard link, character device and
// fifo; D and F are a directory and a file with mode 07777; any other
// byte is used as the tar type flag itself.
func (enc *encoders) specArchive(spec []byte) ([]byte, bool) {
	if len(spec) == 0 {
		return nil, false
	}
	var raw bytes.Buffer
	tw := tar.NewWriter(&raw)
	for _, rec := range bytes.Split(spec[1:], []byte("\n")) {
		if len(rec) == 0 {
			continue
		}
		name, rest, _ := bytes.Cut(rec[1:], []byte{0})
		h := &tar.Header{Name: string(name), Mode: 0o644, ModTime: time.Unix(1700000000, 0), Format: tar.FormatPAX}
		switch rec[0] {
		case 'd':
			h.Typeflag, h.Mode = tar.TypeDir, 0o755
		case 'D':
			h.Typeflag, h.Mode = tar.TypeDir, 0o7777
		case 'f', 'F':
			h.Typeflag, h.Size = tar.TypeReg, int64(len(rest))
			if rec[0] == 'F' {
				h.Mode = 0o7777
			}
		case 'l':
			h.Typeflag, h.Linkname = tar.TypeSymlink, string(rest)
		case 'h':
			h.Typeflag, h.Linkname = tar.TypeLink, string(rest)
		case 'c':
			h.Typeflag = tar.TypeChar
		case 'p':
			h.Typeflag = tar.TypeFifo
		default:
			h.Typeflag = rec[0]
		}
		if tw.WriteHeader(h) != nil {
			return nil, false
		}
		if h.Typeflag == tar.TypeReg {
			tw.Write(rest)
		}
	}
	if tw.Close() != nil {
		return nil, false
	}
	var out bytes.Buffer
	switch spec[0] {
	case 'g':
		if enc.gz == nil {
			enc.gz = gzip.NewWriter(&out)
		}
		enc.gz.Reset(&out)
		enc.gz.Write(raw.Bytes())
		enc.gz.Close()
	case 'z':
		if enc.zstd == nil {
			enc.zstd, _ = zstd.NewWriter(nil, zstd.WithEncoderConcurrency(1))
		}
		enc.zstd.Reset(&out)
		enc.zstd.Write(raw.Bytes())
		enc.zstd.Close()
	default:
		return raw.Bytes(), true
	}
	return out.Bytes(), true
}
