package main

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/cavaliergopher/cpio"

	"github.com/dkms-go/dkms/internal/testenv"
)

// writeImage writes a gzip newc initramfs holding the given files.
func writeImage(t *testing.T, path string, files map[string]string) {
	t.Helper()
	var raw bytes.Buffer
	w := cpio.NewWriter(&raw)
	for name, body := range files {
		if err := w.WriteHeader(&cpio.Header{Name: name, Mode: 0o644, Size: int64(len(body))}); err != nil {
			t.Fatal(err)
		}
		w.Write([]byte(body))
	}
	w.Close()
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(raw.Bytes())
	zw.Close()
	if err := os.WriteFile(path, gz.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestInitramfsCheck(t *testing.T) {
	t.Parallel()
	e := fakeEnv(t, "", nil)
	if _, errOut, code := e.run("install", "foo/1.0", "-k", fk); code != 0 {
		t.Fatalf("install: %d %s", code, errOut)
	}
	os.MkdirAll(e.root+"/boot", 0o755)
	img := e.root + "/boot/initrd.img-" + fk
	writeImage(t, img, map[string]string{"usr/lib/modules/" + fk + "/kernel/drivers/foo.ko": "the in-tree foo\n"})
	out, errOut, code := e.run("initramfs-check", "-k", fk)
	if code != 1 || !strings.Contains(out, "foo/1.0 foo: SHADOWED\n") || !strings.Contains(out, "loads first: usr/lib/modules/"+fk+"/kernel/drivers/foo.ko") {
		t.Errorf("shadowed: exit %d\n%s\n%s", code, out, errOut)
	}
	out, _, code = e.run("initramfs-check", "-k", fk, "--json")
	var rep struct {
		Modules []struct{ Status string } `json:"modules"`
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil || code != 1 || len(rep.Modules) != 1 || rep.Modules[0].Status != "shadowed" {
		t.Errorf("json: %d %v %s", code, err, out)
	}
	// An image holding the DKMS build itself is fine.
	built, _ := os.ReadFile(e.inst + "/" + fk + "/updates/dkms/foo.ko")
	writeImage(t, img, map[string]string{"usr/lib/modules/" + fk + "/updates/dkms/foo.ko": string(built)})
	out, _, code = e.run("initramfs-check", "-k", fk)
	if code != 0 || !strings.Contains(out, "foo/1.0 foo: identical") {
		t.Errorf("identical: exit %d\n%s", code, out)
	}
}

// TestInitramfsCheckEmptyImage: an empty file where the image should be
// is no valid initramfs: exit 2 naming the file, not a clean report.
func TestInitramfsCheckEmptyImage(t *testing.T) {
	t.Parallel()
	e := fakeEnv(t, "", nil)
	if _, errOut, code := e.run("install", "foo/1.0", "-k", fk); code != 0 {
		t.Fatalf("install: %d %s", code, errOut)
	}
	os.MkdirAll(e.root+"/boot", 0o755)
	os.WriteFile(e.root+"/boot/initrd.img-"+fk, nil, 0o644)
	out, errOut, code := e.run("initramfs-check", "-k", fk)
	want := "\nError! Cannot check the initramfs of kernel " + fk + ": reading <root>/boot/initrd.img-" + fk + ": empty image: no cpio archive in it\n"
	if code != 2 || out != "" || errOut != want {
		t.Errorf("exit %d (want 2)\nstdout:\n%s\nstderr:\n%s\nwant:\n%s", code, out, errOut, want)
	}
}

// TestInitramfsCheckDecompressionBomb: the image, four zstd
// members of 4 GiB of zeros each in about 540 KB, named as the DKMS
// module's copies: initramfs-check (the real binary) stops at the first
// member's bound with exit 2, within the attack bound, without crashing.
func TestInitramfsCheckDecompressionBomb(t *testing.T) {
	t.Parallel()
	e := fakeEnv(t, "", nil)
	if _, errOut, code := e.run("install", "foo/1.0", "-k", fk); code != 0 {
		t.Fatalf("install: %d %s", code, errOut)
	}
	var raw bytes.Buffer
	w := cpio.NewWriter(&raw)
	for _, d := range []string{"a", "b", "c", "d"} {
		body := testenv.ZstdZeros(4 << 30)
		name := "usr/lib/modules/" + fk + "/updates/dkms/" + d + "/foo.ko.zst"
		if err := w.WriteHeader(&cpio.Header{Name: name, Mode: 0o644, Size: int64(len(body))}); err != nil {
			t.Fatal(err)
		}
		w.Write(body)
	}
	w.Close()
	os.MkdirAll(e.root+"/boot", 0o755)
	os.WriteFile(e.root+"/boot/initrd.img-"+fk, raw.Bytes(), 0o644)
	out, errOut, code := e.attack("", "initramfs-check", "-k", fk)
	want := "\nError! Cannot check the initramfs of kernel " + fk + ": reading <root>/boot/initrd.img-" + fk +
		": segment 0 (none) at offset 0: reading usr/lib/modules/" + fk + "/updates/dkms/a/foo.ko.zst: too large: decompresses to more than 512 MiB\n"
	if code != 2 || out != "" || errOut != want {
		t.Errorf("exit %d (want 2)\nstdout:\n%s\nstderr:\n%s\nwant:\n%s", code, out, errOut, want)
	}
}
