package tarball

import (
	"archive/tar"
	"bytes"
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/dkms-go/dkms/internal/testenv"
)

// ent is one crafted tar header for the tests; the builder is shared with
// the command's tests.
type ent = testenv.TarEntry

func file(name, body string) ent { return ent{Name: name, Type: tar.TypeReg, Body: body, Mode: 0o644} }
func dir(name string) ent        { return ent{Name: name, Type: tar.TypeDir, Mode: 0o755} }
func symlink(name, target string) ent {
	return ent{Name: name, Type: tar.TypeSymlink, Link: target, Mode: 0o777}
}
func hardlink(name, target string) ent {
	return ent{Name: name, Type: tar.TypeLink, Link: target, Mode: 0o644}
}

// rawTar builds an uncompressed archive from ents, byte for byte what the
// test asks for (no cleaning of names).
func rawTar(t testing.TB, ents []ent) []byte { return testenv.Tar(t, ents) }

// compressBytes runs data through the package's own compressor for c.
func compressBytes(t testing.TB, c codec, data []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw, wait, err := compressor(context.Background(), c, &buf)
	if err != nil {
		t.Skipf("no %v compressor: %v", c, err)
	}
	if _, err := zw.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := wait(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// writeFile stores data in a new file below t.TempDir and returns its path.
func writeFile(t testing.TB, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// freshDest returns an empty destination that is the only entry of its
// parent, so leftovers of a failed extraction (staging) are visible.
func freshDest(t testing.TB) string {
	t.Helper()
	d := filepath.Join(t.TempDir(), "dest")
	if err := os.Mkdir(d, 0o700); err != nil {
		t.Fatal(err)
	}
	return d
}

// assertUntouched fails unless dest is empty and alone in its parent.
func assertUntouched(t testing.TB, dest string) {
	t.Helper()
	if ents, _ := os.ReadDir(dest); len(ents) != 0 {
		t.Errorf("destination not empty after refusal: %v", ents)
	}
	if ents, _ := os.ReadDir(filepath.Dir(dest)); len(ents) != 1 {
		t.Errorf("leftovers beside destination: %v", ents)
	}
}

// sampleTree builds a small module-like tree with the kinds of entries a
// dkms archive holds.
func sampleTree(t testing.TB) string {
	t.Helper()
	root := filepath.Join(t.TempDir(), "src")
	mt := time.Unix(1700000000, 0)
	mk := func(rel string, mode fs.FileMode, body string) {
		p := filepath.Join(root, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
		os.Chtimes(p, mt, mt)
	}
	mk("dkms_source_tree/dkms.conf", 0o644, "PACKAGE_NAME=foo\nPACKAGE_VERSION=1.0\n")
	mk("dkms_source_tree/foo.c", 0o644, "int x;\n")
	mk("dkms_source_tree/scripts/pre.sh", 0o755, "#!/bin/sh\n")
	mk("dkms_main_tree/6.1.0-test/x86_64/module/foo.ko", 0o644, "\x7fELF binary")
	mk("dkms_main_tree/6.1.0-test/x86_64/log/make.log", 0o644, "log\n")
	if err := os.MkdirAll(filepath.Join(root, "empty", "dir"), 0o750); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("foo.c", filepath.Join(root, "dkms_source_tree", "link.c")); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(root, 0o700); err != nil {
		t.Fatal(err)
	}
	return root
}
