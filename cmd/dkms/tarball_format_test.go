package main

import (
	"archive/tar"
	"io"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/dkms-go/dkms/internal/testenv"
)

// readArchive returns the members of a gzipped tar: header by name and
// regular-file contents by name.
func readArchive(t *testing.T, path string) (map[string]*tar.Header, map[string]string) {
	t.Helper()
	hdrs, bodies := map[string]*tar.Header{}, map[string]string{}
	walkArchive(t, path, func(h *tar.Header, r io.Reader) {
		hdrs[h.Name] = h
		if h.Typeflag == tar.TypeReg {
			b, _ := io.ReadAll(r)
			bodies[h.Name] = string(b)
		}
	})
	return hdrs, bodies
}

// TestMkTarballFormat is §9: the top entry ./ has mode 0700, the
// binaries-only marker files hold name and version with a newline and the
// module's dkms.conf, a plain .tar name gives an uncompressed archive.
func TestMkTarballFormat(t *testing.T) {
	t.Parallel()
	testenv.RequireRoot(t)
	testenv.RequireTools(t, "make")
	a := fakeTree(t, true, tarK1)
	if _, errOut, code := a.run("mktarball", "foo/1.0", "-k", tarK1, "--binaries-only"); code != 0 {
		t.Fatalf("mktarball: %d %s", code, errOut)
	}
	hdrs, bodies := readArchive(t, a.dkms+"/foo/1.0/tarball/foo-1.0-kernel"+tarK1+"-x86_64.dkms.tar.gz")
	if h := hdrs["./"]; h == nil || h.Typeflag != tar.TypeDir || h.Mode&0o7777 != 0o700 {
		t.Errorf("top entry ./: %+v, want a directory of mode 0700", h)
	}
	for name, want := range map[string]string{
		"./dkms_binaries_only/PACKAGE_NAME":    "foo\n",
		"./dkms_binaries_only/PACKAGE_VERSION": "1.0\n",
		"./dkms_binaries_only/dkms.conf":       fakeFooConf,
	} {
		if bodies[name] != want {
			t.Errorf("%s = %q, want %q", name, bodies[name], want)
		}
	}
	// -c: the given conf is the one archived.
	other := strings.Replace(fakeFooConf, "AUTOINSTALL=yes\n", "AUTOINSTALL=yes\n# from -c\n", 1)
	confPath := a.write("/other.conf", other)
	if _, errOut, code := a.run("mktarball", "foo/1.0", "-k", tarK1, "--binaries-only", "-c", confPath, "--archive=c.tar.gz"); code != 0 {
		t.Fatalf("mktarball -c: %d %s", code, errOut)
	}
	if _, bodies := readArchive(t, a.dkms+"/foo/1.0/tarball/c.tar.gz"); bodies["./dkms_binaries_only/dkms.conf"] != other {
		t.Errorf("-c conf not archived: %q", bodies["./dkms_binaries_only/dkms.conf"])
	}

	dest := t.TempDir()
	if _, errOut, code := a.run("mktarball", "foo/1.0", "-k", tarK1, "--archive="+dest+"/foo.tar"); code != 0 {
		t.Fatalf("mktarball .tar: %d %s", code, errOut)
	}
	b, err := os.ReadFile(dest + "/foo.tar")
	if err != nil || len(b) < 512 || string(b[257:262]) != "ustar" {
		t.Errorf("foo.tar is not an uncompressed tar archive (%v)", err)
	}
}

// TestMkTarballManyKernels: a kernel component of 199 characters is kept,
// one of 200 becomes "manykernels" (§6.10 step 5, §9).
func TestMkTarballManyKernels(t *testing.T) {
	t.Parallel()
	testenv.RequireRoot(t)
	testenv.RequireTools(t, "make")
	for _, total := range []int{199, 200} {
		e := fakeTree(t, false)
		if _, errOut, code := e.run("add", "foo/1.0"); code != 0 {
			t.Fatal(errOut)
		}
		// Five kernels: "kernel<k>-x86_64" entries joined with "-".
		var kernels, parts []string
		for i := range 5 {
			k := "6." + string(rune('0'+i)) + ".0-"
			pad := 39 - len("kernel"+k+"-x86_64")
			if i == 4 {
				pad += total - 199
			}
			k += strings.Repeat("x", pad)
			kernels = append(kernels, k)
			parts = append(parts, "kernel"+k+"-x86_64")
			e.write("/var/lib/dkms/foo/1.0/"+k+"/x86_64/module/foo.ko", "fake\n")
		}
		comp := strings.Join(parts, "-")
		if len(comp) != total {
			t.Fatalf("component is %d long, want %d", len(comp), total)
		}
		want := comp
		if total >= 200 {
			want = "manykernels"
		}
		args := []string{"mktarball", "foo/1.0"}
		for _, k := range kernels {
			args = append(args, "-k", k)
		}
		out, errOut, code := e.run(args...)
		if code != 0 || !strings.HasSuffix(out, "Tarball location: <root>/var/lib/dkms/foo/1.0/tarball//foo-1.0-"+want+".dkms.tar.gz\n") {
			t.Errorf("%d characters: exit %d\n%s\n%s\nwant name component %s", total, code, out, errOut, want)
		}
	}
}

// TestTarballDefaults: mktarball without -k archives the running kernel
// only (§6.10 step 3); a non-existent positional archive is read as a
// module name, so the path in the message is empty (§6.11 step 1).
func TestTarballDefaults(t *testing.T) {
	t.Parallel()
	testenv.RequireRoot(t)
	testenv.RequireTools(t, "make")
	out, err := exec.Command("uname", "-r").Output()
	if err != nil {
		t.Fatal(err)
	}
	running := strings.TrimSpace(string(out))
	a := fakeTree(t, true, tarK1)
	runSteps(t, a, []step{
		{[]string{"mktarball", "foo/1.0"}, 6, "",
			"\nError! No modules built for " + running + " (x86_64).\nModules must already be in the built state before using mktarball.\n"},
		{[]string{"ldtarball", a.root + "/nonexistent.tar.gz"}, 2, "", "\nError!  does not exist.\n"},
	})
}
