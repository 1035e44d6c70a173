package initramfs

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"slices"
	"strings"
	"testing"

	"github.com/cavaliergopher/cpio"
)

var allCompressions = []Compression{None, Gzip, Zstd, XZ, LZMA, LZ4, Bzip2}

var moduleELF = append([]byte("\x7fELF"), bytes.Repeat([]byte("module body "), 300)...)

func sampleArchive(t testing.TB) []byte {
	return mkCPIO(t,
		file{name: ".", mode: cpio.TypeDir | 0o755},
		file{name: "usr/lib/modules/6.1.0-56-amd64/kernel/drivers/block/loop.ko", body: moduleELF},
		file{name: "usr/lib/modules/6.1.0-56-amd64/updates/dkms/foo-bar.ko.xz", body: compress(t, XZ, moduleELF)},
		file{name: "usr/lib/modules/6.1.0-56-amd64/extra/baz.ko.zst", body: compress(t, Zstd, moduleELF)},
		file{name: "usr/lib/modules/6.1.0-56-amd64/extra/qux.ko.gz", body: compress(t, Gzip, moduleELF)},
		file{name: "lib", mode: cpio.TypeSymlink | 0o777, link: "usr/lib"},
		file{name: "init", body: []byte("#!/bin/sh\n"), mode: cpio.TypeReg | 0o755},
		file{name: "empty", body: nil},
	)
}

func TestListEachCompression(t *testing.T) {
	t.Parallel()
	for _, c := range allCompressions {
		t.Run(string(c), func(t *testing.T) {
			t.Parallel()
			arc := sampleArchive(t)
			got, err := listAll(compress(t, c, arc))
			if err != nil {
				t.Fatal(err)
			}
			want := []string{".", "usr/lib/modules/6.1.0-56-amd64/kernel/drivers/block/loop.ko",
				"usr/lib/modules/6.1.0-56-amd64/updates/dkms/foo-bar.ko.xz",
				"usr/lib/modules/6.1.0-56-amd64/extra/baz.ko.zst",
				"usr/lib/modules/6.1.0-56-amd64/extra/qux.ko.gz", "lib", "init", "empty"}
			if !slices.Equal(paths(got), want) {
				t.Fatalf("paths = %q, want %q", paths(got), want)
			}
			for _, e := range got[1:5] {
				if !e.IsModule() || e.Hash != sum(moduleELF) {
					t.Errorf("%s: module %v, hash %s; want the decompressed module hash %s", e.Path, e.IsModule(), e.Hash, sum(moduleELF))
				}
				if e.Compression != c || e.Segment != 0 {
					t.Errorf("%s: segment %d %s, want 0 %s", e.Path, e.Segment, e.Compression, c)
				}
			}
			if got[0].Mode&fs.ModeDir == 0 || got[0].Hash != "" {
				t.Errorf(". = %+v, want a directory without hash", got[0])
			}
			if got[5].Linkname != "usr/lib" || got[5].Mode&fs.ModeSymlink == 0 || got[5].IsModule() {
				t.Errorf("lib = %+v, want a symlink to usr/lib", got[5])
			}
			if got[6].Hash != sum([]byte("#!/bin/sh\n")) || got[6].Size != 10 || got[6].Mode.Perm() != 0o755 {
				t.Errorf("init = %+v", got[6])
			}
			if got[7].Hash != sum(nil) {
				t.Errorf("empty file hash %s, want %s", got[7].Hash, sum(nil))
			}
		})
	}
}

// TestListConcatenated chains segments of every format, with NUL padding
// of various lengths, as a boot loader does when given several initrds.
// Each decoder has to stop exactly at the end of its stream.
func TestListConcatenated(t *testing.T) {
	t.Parallel()
	var img []byte
	var want []string
	for i, c := range append(allCompressions, None, Gzip, Zstd) {
		name := "seg" + string(rune('a'+i))
		arc := mkCPIO(t, file{name: name + "/x.ko", body: moduleELF}, file{name: name + "/y", body: []byte(name)})
		img = append(img, compress(t, c, arc)...)
		img = append(img, make([]byte, 4*i)...)
		want = append(want, name+"/x.ko", name+"/y")
	}
	got, err := listAll(img)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(paths(got), want) {
		t.Fatalf("paths = %q\nwant %q", paths(got), want)
	}
	for i, e := range got {
		if e.Segment != i/2 {
			t.Errorf("%s in segment %d, want %d", e.Path, e.Segment, i/2)
		}
	}
}

// Several archives inside one compressed stream are legal for the kernel.
func TestListArchivesInsideOneStream(t *testing.T) {
	t.Parallel()
	a := mkCPIO(t, file{name: "a", body: []byte("1")})
	b := mkCPIO(t, file{name: "b", body: []byte("2")})
	got, err := listAll(compress(t, Zstd, append(append(a, make([]byte, 8)...), b...)))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(paths(got), []string{"a", "b"}) || got[1].Segment != 0 {
		t.Fatalf("got %+v", got)
	}
}

func TestListErrors(t *testing.T) {
	t.Parallel()
	arc := mkCPIO(t, file{name: "a/b.ko", body: moduleELF})
	gz := compress(t, Gzip, arc)
	xzArc := compress(t, XZ, arc)
	tests := []struct {
		name    string
		data    []byte
		wantErr error  // checked with errors.Is when set
		wantMsg string // substring of the error when set
		entries int
	}{
		{name: "empty", data: nil, wantErr: ErrEmptyImage},
		{name: "only padding", data: make([]byte, 1024), wantErr: ErrEmptyImage},
		{name: "garbage", data: []byte("hello world"), wantErr: ErrBadMagic},
		{name: "lzo", data: []byte("\x89LZO\x00\r\n\x1a\n\x10\x30"), wantErr: ErrUnsupportedCompression, wantMsg: "unsupported compression: lzo"},
		{name: "garbage after archive", data: append(slices.Clone(arc), 'x'), wantErr: ErrBadMagic, entries: 1},
		{name: "truncated header", data: arc[:50], wantErr: io.ErrUnexpectedEOF},
		{name: "truncated name", data: arc[:115], wantErr: io.ErrUnexpectedEOF},
		{name: "truncated body", data: arc[:400], wantErr: io.ErrUnexpectedEOF},
		// The archive ends right after the xz stream header of a module,
		// which the xz reader takes for a whole stream: no entry for it.
		{name: "truncated compressed module", data: mkCPIO(t, file{name: "m.ko.xz", body: compress(t, XZ, moduleELF)})[:120+12], wantErr: io.ErrUnexpectedEOF},
		{name: "no trailer", data: arc[:bytes.LastIndex(arc, []byte("070701"))], wantErr: io.ErrUnexpectedEOF, entries: 1},
		{name: "odc cpio", data: []byte("070707" + strings.Repeat("0", 120)), wantErr: cpio.ErrHeader},
		{name: "huge name size", data: []byte("070701" + strings.Repeat("0", 88) + "FFFFFFFF" + strings.Repeat("0", 20)), wantErr: cpio.ErrHeader},
		{name: "truncated gzip", data: gz[:len(gz)/2], wantErr: io.ErrUnexpectedEOF},
		// The archive is whole but the stream's own check is lost: still
		// an error, not a clean end.
		{name: "gzip trailer cut", data: gz[:len(gz)-4], wantErr: io.ErrUnexpectedEOF, entries: 1},
		{name: "xz footer cut", data: xzArc[:len(xzArc)-6], wantErr: io.ErrUnexpectedEOF, wantMsg: "segment 0 (xz)", entries: 1},
		{name: "gzip junk inside", data: compress(t, Gzip, append(slices.Clone(arc), "junk"...)), wantMsg: "no cpio magic", entries: 1},
		{name: "empty gzip", data: compress(t, Gzip, nil), wantMsg: "empty compressed segment"},
		{name: "zstd bad frame header", data: []byte{0x28, 0xb5, 0x2f, 0xfd, 0x08, 0, 0, 0}, wantMsg: "zstd"},
		{name: "truncated xz", data: compress(t, XZ, arc)[:60], wantMsg: "segment 0 (xz)"},
		{name: "lzma huge dictionary", data: []byte("]\x00\x0000\xff\xff\xff\xff\xff\xff\xff\xff9\x18\r\xdd"), wantMsg: "lzma: dictionary larger than 64 MiB"},
		{name: "xz huge dictionary", data: hugeXZDict(t, compress(t, XZ, arc)), wantMsg: "xz: dictionary larger than 64 MiB"},
		{name: "truncated lz4", data: compress(t, LZ4, arc)[:40], wantErr: io.ErrUnexpectedEOF},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := listAll(tt.data)
			if tt.wantErr == nil && tt.wantMsg == "" {
				if err != nil {
					t.Fatalf("unexpected error %v", err)
				}
			} else {
				if err == nil {
					t.Fatalf("no error, want %v %q", tt.wantErr, tt.wantMsg)
				}
				if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
					t.Errorf("error %v, want %v", err, tt.wantErr)
				}
				if !strings.Contains(err.Error(), tt.wantMsg) {
					t.Errorf("error %q does not contain %q", err, tt.wantMsg)
				}
			}
			if len(got) != tt.entries {
				t.Errorf("got %d entries before the error, want %d", len(got), tt.entries)
			}
		})
	}
}

func TestListCallbackErrorStops(t *testing.T) {
	t.Parallel()
	stop := errors.New("stop")
	n := 0
	err := List(bytes.NewReader(compress(t, Zstd, sampleArchive(t))), func(Entry) error {
		n++
		return stop
	})
	if err == nil || !errors.Is(err, stop) || n != 1 {
		t.Fatalf("err %v after %d entries, want stop after 1", err, n)
	}
}

func TestModuleName(t *testing.T) {
	t.Parallel()
	tests := map[string]string{
		"a/b/loop.ko":         "loop",
		"a/b/foo-bar.ko.xz":   "foo_bar",
		"x/nvidia_drm.ko.zst": "nvidia_drm",
		"x/y.ko.gz":           "y",
		"x/.ko":               "",
		"x/readme.txt":        "",
		"x/y.kob":             "",
		"loop.ko":             "loop",
	}
	for in, want := range tests {
		if got := moduleName(in); got != want {
			t.Errorf("moduleName(%q) = %q, want %q", in, got, want)
		}
	}
}

// hugeXZDict patches the LZMA2 dictionary property of the first block to
// the 4 GiB maximum the format allows.
func hugeXZDict(t *testing.T, b []byte) []byte {
	b = slices.Clone(b)
	i := bytes.Index(b[12:], []byte{0x21, 0x01})
	if i < 0 {
		t.Fatal("no LZMA2 filter in the xz block header")
	}
	b[12+i+2] = 40
	return b
}
