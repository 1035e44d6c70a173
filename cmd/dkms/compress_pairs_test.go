package main

import (
	"os"
	"testing"

	"github.com/dkms-go/dkms/internal/testenv"
)

// TestCompressionPerPair: .zst wins over .gz among the kernel's modules,
// the dkms tree holds the compressed file and install copies it under that
// name; a second kernel with plain modules installed in the same command
// gets a plain .ko, pairs being isolated (§7.3).
func TestCompressionPerPair(t *testing.T) {
	t.Parallel()
	testenv.RequireTools(t, "zstd")
	const k2 = "6.2.0-test"
	e := fakeEnv(t, "", nil)
	e.fakeKernel(k2, "")
	e.write("/lib/modules/"+fk+"/kernel/a/x.ko.gz", "x")
	e.write("/lib/modules/"+fk+"/kernel/b/y.ko.zst", "y")
	e.write("/lib/modules/"+k2+"/kernel/a/x.ko", "x")
	out, errOut, code := e.run("install", "foo/1.0", "-k", fk, "-k", k2)
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	want := "Creating symlink <root>/var/lib/dkms/foo/1.0/source -> <root>/usr/src/foo-1.0\n\n" + noSign + "Building module(s)... done.\n" +
		"Installing <root>/lib/modules/" + fk + "/updates/dkms/foo.ko.zst\nRunning depmod... done.\n" +
		"Kernel config <root>/lib/modules/" + k2 + "/build/.config not found, modules won't be signed\n\n" + "Building module(s)... done.\n" +
		"Installing <root>/lib/modules/" + k2 + "/updates/dkms/foo.ko\nRunning depmod... done.\n"
	if undot(out) != want {
		t.Errorf("stdout:\n%s\nwant:\n%s", out, want)
	}
	for _, p := range []string{
		e.dkms + "/foo/1.0/" + fk + "/x86_64/module/foo.ko.zst",
		e.inst + "/" + fk + "/updates/dkms/foo.ko.zst",
		e.dkms + "/foo/1.0/" + k2 + "/x86_64/module/foo.ko",
		e.inst + "/" + k2 + "/updates/dkms/foo.ko",
	} {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("missing: %v", err)
		}
	}
	if b, _ := os.ReadFile(e.inst + "/" + fk + "/updates/dkms/foo.ko.zst"); len(b) < 4 || string(b[:4]) != "\x28\xb5\x2f\xfd" {
		t.Errorf("foo.ko.zst is not zstd data")
	}
}
