package tarball

import (
	"archive/tar"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestExtractRefusesHostileArchives(t *testing.T) {
	t.Parallel()
	ok := file("./ok.txt", "harmless\n") // written first: must not survive a refusal
	small := Limits{MaxMembers: 5, MaxMemberSize: 10, MaxTotalSize: 15}
	tests := []struct {
		name   string
		ents   []ent
		lim    Limits
		codec  codec
		member string // the member the error must name
		reason string // a fragment of the reason
	}{
		{"dotdot", []ent{ok, file("../evil", "x")}, Limits{}, codecNone, "../evil", `".."`},
		{"nested dotdot", []ent{ok, dir("./a/"), file("./a/../../evil", "x")}, Limits{}, codecGzip, "./a/../../evil", `".."`},
		{"absolute path", []ent{ok, file("/tmp/evil", "x")}, Limits{}, codecXz, "/tmp/evil", "absolute"},
		{"absolute symlink", []ent{ok, symlink("./etc", "/etc")}, Limits{}, codecNone, "./etc", "absolute"},
		{"escaping symlink", []ent{ok, dir("./a/"), symlink("./a/up", "../../x")}, Limits{}, codecZstd, "./a/up", "outside"},
		{"symlink chain escape", []ent{ok, dir("./d/"), symlink("./d/s", ".."), symlink("./d/t", "s/../..")}, Limits{}, codecNone, "./d/t", "outside"},
		{"symlink through absolute link", []ent{ok, symlink("./r", "/"), symlink("./t", "r/etc")}, Limits{}, codecNone, "./r", "absolute"},
		{"symlink loop", []ent{ok, symlink("./a", "b"), symlink("./b", "a")}, Limits{}, codecNone, "./a", "too many levels"},
		{"empty symlink", []ent{ok, symlink("./e", "")}, Limits{}, codecNone, "./e", "without a target"},
		{"write through symlink", []ent{ok, symlink("./l", "."), file("./l/x", "x")}, Limits{}, codecNone, "./l/x", "symbolic link"},
		{"write through symlink declared later", []ent{ok, file("./l/x", "x"), symlink("./l", "..")}, Limits{}, codecNone, "./l/x", "symbolic link"},
		{"hard link outside", []ent{ok, hardlink("./h", "../etc/passwd")}, Limits{}, codecNone, "./h", "outside the archive"},
		{"hard link absolute", []ent{ok, hardlink("./h", "/etc/passwd")}, Limits{}, codecGzip, "./h", "outside the archive"},
		{"hard link to directory", []ent{ok, dir("./d/"), hardlink("./h", "./d")}, Limits{}, codecNone, "./h", "not a regular file"},
		{"hard link to symlink", []ent{ok, symlink("./s", "ok.txt"), hardlink("./h", "./s")}, Limits{}, codecNone, "./h", "not a regular file"},
		{"hard link forward", []ent{ok, hardlink("./h", "./later"), file("./later", "x")}, Limits{}, codecNone, "./h", "not an earlier member"},
		{"char device", []ent{ok, {Name: "./null", Type: tar.TypeChar, Mode: 0o666}}, Limits{}, codecNone, "./null", "device"},
		{"block device", []ent{ok, {Name: "./sda", Type: tar.TypeBlock, Mode: 0o660}}, Limits{}, codecBzip2, "./sda", "device"},
		{"fifo", []ent{ok, {Name: "./p", Type: tar.TypeFifo, Mode: 0o644}}, Limits{}, codecNone, "./p", "pipe"},
		{"oversized member", []ent{file("./big", strings.Repeat("x", 11))}, small, codecNone, "./big", "size 11 exceeds"},
		{"oversized total", []ent{file("./a", "0123456789"), file("./b", "0123456789")}, small, codecGzip, "./b", "total size"},
		{"too many members", []ent{ok, dir("./1/"), dir("./2/"), dir("./3/"), dir("./4/"), dir("./5/")}, small, codecNone, "./5/", "more than 5"},
		{"duplicate file", []ent{ok, file("./ok.txt", "evil")}, Limits{}, codecNone, "./ok.txt", "duplicate"},
		{"file replaced by dir", []ent{ok, dir("./ok.txt/")}, Limits{}, codecNone, "./ok.txt/", "duplicate"},
		{"file as parent", []ent{ok, file("./ok.txt/x", "x")}, Limits{}, codecNone, "./ok.txt/x", "not a directory"},
		{"root is a file", []ent{ok, file(".", "x")}, Limits{}, codecNone, ".", "must be a directory"},
		{"unknown type", []ent{ok, {Name: "./odd", Type: 'Z', Mode: 0o644}}, Limits{}, codecNone, "./odd", "unsupported"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			data := rawTar(t, tc.ents)
			if tc.codec != codecNone {
				data = compressBytes(t, tc.codec, data)
			}
			archive := writeFile(t, "hostile.tar", data)
			dest := freshDest(t)
			err := Extract(ctx, archive, dest, tc.lim)
			if !errors.Is(err, ErrRefused) {
				t.Fatalf("Extract = %v, want a refusal", err)
			}
			var re *RefusedError
			if !errors.As(err, &re) || re.Member != tc.member || !strings.Contains(re.Reason, tc.reason) {
				t.Errorf("refusal %v: want member %q and reason containing %q", err, tc.member, tc.reason)
			}
			assertUntouched(t, dest)
		})
	}
}

func TestExtractAcceptsTrickyButSafeArchives(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		ents  []ent
		check string // a path that must exist afterwards
	}{
		{"inner symlink up one level", []ent{dir("./a/"), file("./b", "x"), symlink("./a/l", "../b")}, "a/l"},
		{"dangling but inside", []ent{symlink("./l", "missing/file")}, "l"},
		{"symlink chain staying inside", []ent{dir("./d/"), dir("./d/e/"), symlink("./d/e/s", ".."), symlink("./d/e/t", "s/..")}, "d/e/t"},
		{"hard link to earlier file", []ent{file("./f", "data"), hardlink("./g", "f")}, "g"},
		{"duplicate directories merge", []ent{dir("./d/"), file("./d/x", "1"), dir("d")}, "d/x"},
		{"implicit parents", []ent{file("deep/er/file", "x")}, "deep/er/file"},
		{"names without ./", []ent{dir("dkms_main_tree"), file("dkms_source_tree/dkms.conf", "x")}, "dkms_source_tree/dkms.conf"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			archive := writeFile(t, "a.tar", rawTar(t, tc.ents))
			dest := freshDest(t)
			if err := Extract(context.Background(), archive, dest, Limits{}); err != nil {
				t.Fatalf("Extract: %v", err)
			}
			if _, err := os.Lstat(filepath.Join(dest, tc.check)); err != nil {
				t.Errorf("%s missing: %v", tc.check, err)
			}
			if ents, _ := os.ReadDir(filepath.Dir(dest)); len(ents) != 1 {
				t.Errorf("staging left behind: %v", ents)
			}
		})
	}
}

func TestExtractRefusesExistingDestinationEntries(t *testing.T) {
	t.Parallel()
	archive := writeFile(t, "a.tar", rawTar(t, []ent{file("./new", "n"), file("./keep", "evil")}))
	dest := freshDest(t)
	if err := os.WriteFile(filepath.Join(dest, "keep"), []byte("mine"), 0o644); err != nil {
		t.Fatal(err)
	}
	err := Extract(context.Background(), archive, dest, Limits{})
	if !errors.Is(err, ErrRefused) {
		t.Fatalf("Extract = %v, want refusal", err)
	}
	if b, _ := os.ReadFile(filepath.Join(dest, "keep")); string(b) != "mine" {
		t.Errorf("existing file changed to %q", b)
	}
	if _, err := os.Lstat(filepath.Join(dest, "new")); err == nil {
		t.Error("new member written despite refusal")
	}
}

func TestExtractRefusesLinksThroughExistingSymlinks(t *testing.T) {
	t.Parallel()
	dest := freshDest(t)
	if err := os.Symlink("/", filepath.Join(dest, "root")); err != nil {
		t.Fatal(err)
	}
	archive := writeFile(t, "a.tar", rawTar(t, []ent{symlink("./etc", "root/etc")}))
	err := Extract(context.Background(), archive, dest, Limits{})
	if !errors.Is(err, ErrRefused) || !strings.Contains(err.Error(), "already in the destination") {
		t.Fatalf("Extract = %v, want a refusal", err)
	}
	if _, err := os.Lstat(filepath.Join(dest, "etc")); err == nil {
		t.Error("link written despite refusal")
	}
}

func TestExtractNotAnArchive(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, data string }{
		{"empty", ""},
		{"text", "this is not a tar archive, just some words that fill a block or so.\n"},
		{"truncated gzip", "\x1f\x8b\x08\x00"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dest := freshDest(t)
			if err := Extract(context.Background(), writeFile(t, "x", []byte(tc.data)), dest, Limits{}); !errors.Is(err, ErrNotArchive) {
				t.Fatalf("Extract = %v, want ErrNotArchive", err)
			}
			assertUntouched(t, dest)
		})
	}
}

func TestExtractCancelled(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	dest := freshDest(t)
	archive := writeFile(t, "a.tar", rawTar(t, []ent{file("./f", "x")}))
	if err := Extract(ctx, archive, dest, Limits{}); !errors.Is(err, context.Canceled) {
		t.Fatalf("Extract = %v, want context.Canceled", err)
	}
	assertUntouched(t, dest)
}

// TestExtractDropsSetuidAndKeepsModes: set-ID bits and group/other write
// bits from the archive are dropped (a world-writable file under /usr/src
// would let any user change what root compiles), the rest is kept.
func TestExtractDropsSetuidAndKeepsModes(t *testing.T) {
	t.Parallel()
	ents := []ent{
		{Name: "./suid", Type: tar.TypeReg, Body: "x", Mode: 0o4755},
		{Name: "./ro/", Type: tar.TypeDir, Mode: 0o555},
		{Name: "./ro/f", Type: tar.TypeReg, Body: "y", Mode: 0o600},
		{Name: "./ww/", Type: tar.TypeDir, Mode: 0o1777},
		{Name: "./ww/f", Type: tar.TypeReg, Body: "z", Mode: 0o666},
		{Name: "./gw", Type: tar.TypeReg, Body: "z", Mode: 0o2775},
	}
	dest := freshDest(t)
	if err := Extract(context.Background(), writeFile(t, "a.tar", rawTar(t, ents)), dest, Limits{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Chmod(filepath.Join(dest, "ro"), 0o755) })
	for name, want := range map[string]os.FileMode{"suid": 0o755, "ro": os.ModeDir | 0o555, "ro/f": 0o600,
		"ww": os.ModeDir | os.ModeSticky | 0o755, "ww/f": 0o644, "gw": 0o755} {
		fi, err := os.Lstat(filepath.Join(dest, name))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode() != want {
			t.Errorf("%s: mode %v, want %v", name, fi.Mode(), want)
		}
	}
}
