package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/dkms-go/dkms/internal/testenv"
)

func TestMkPackage(t *testing.T) {
	t.Parallel()
	testenv.RequireRoot(t)
	testenv.RequireTools(t, "make", "dpkg-deb")
	e := fakeTree(t, true, tarK1)

	out, errOut, code := e.run("mkdeb", "-m", "foo", "-v", "1.0")
	debAll := "<root>/var/lib/dkms/foo/1.0/deb/foo-dkms_1.0_all.deb"
	if code != 0 || out != "\nPackage location: "+debAll+"\n" || errOut != "" {
		t.Fatalf("mkdeb: %d\n%s\n%s", code, out, errOut)
	}
	info := dpkgDeb(t, e, "--info", debAll)
	for _, want := range []string{"Package: foo-dkms\n", "Version: 1.0\n", "Architecture: all\n", "Depends: dkms", " postinst", " prerm"} {
		if !strings.Contains(info, want) {
			t.Errorf("dpkg-deb --info lacks %q:\n%s", want, info)
		}
	}
	contents := dpkgDeb(t, e, "--contents", debAll)
	for _, want := range []string{" ./usr/src/foo-1.0/dkms.conf\n", " ./usr/src/foo-1.0/Makefile\n"} {
		if !strings.Contains(contents, want) {
			t.Errorf("dpkg-deb --contents lacks %q:\n%s", want, contents)
		}
	}
	if strings.Contains(contents, "/usr/share/foo-dkms") {
		t.Errorf("a package made without -k must not carry binaries:\n%s", contents)
	}

	out, errOut, code = e.run("mkdeb", "foo/1.0", "-k", tarK1)
	debBin := "<root>/var/lib/dkms/foo/1.0/deb/foo-dkms_1.0_amd64.deb"
	if want := "Marking modules for " + tarK1 + " (x86_64) for packaging...\n\nPackage location: " + debBin + "\n"; code != 0 || out != want {
		t.Fatalf("mkdeb -k: %d\n%s\nwant\n%s\n%s", code, out, want, errOut)
	}
	if c := dpkgDeb(t, e, "--contents", debBin); !strings.Contains(c, " ./usr/share/foo-dkms/foo-1.0.dkms.tar.gz\n") {
		t.Errorf("binaries archive missing:\n%s", c)
	}
	out, _, code = e.run("mkdeb", "foo/1.0", "-k", tarK1, "--source-only")
	if code != 0 || out != "\nPackage location: "+debAll+"\n" {
		t.Errorf("mkdeb --source-only: %d %q", code, out)
	}

	if _, err := exec.LookPath("rpm"); err == nil {
		out, errOut, code = e.run("mkrpm", "foo/1.0", "--all")
		rpmFile := "<root>/var/lib/dkms/foo/1.0/rpm/foo-dkms-1.0-1.x86_64.rpm"
		if want := "Marking modules for " + tarK1 + " (x86_64) for packaging...\n\nPackage location: " + rpmFile + "\n"; code != 0 || out != want {
			t.Fatalf("mkrpm --all: %d\n%s\nwant\n%s\n%s", code, out, want, errOut)
		}
		qi, err := exec.Command("rpm", "-qip", strings.ReplaceAll(rpmFile, "<root>", e.root)).CombinedOutput()
		if err != nil || !strings.Contains(string(qi), "foo-dkms") || !strings.Contains(string(qi), "1.0") {
			t.Errorf("rpm -qip: %v\n%s", err, qi)
		}
		ql, err := exec.Command("rpm", "-qlp", strings.ReplaceAll(rpmFile, "<root>", e.root)).CombinedOutput()
		if err != nil || !strings.Contains(string(ql), "/usr/src/foo-1.0/dkms.conf\n") || !strings.Contains(string(ql), "/usr/share/foo-dkms/foo-1.0.dkms.tar.gz\n") {
			t.Errorf("rpm -qlp: %v\n%s", err, ql)
		}
	}

	tests := []struct {
		name   string
		args   []string
		code   int
		stderr string
	}{
		{"no module", []string{"mkdeb"}, 1, "\nError! Arguments <module> and <module-version> are not specified.\nUsage: mkdeb <module>/<module-version> or\n" +
			"       mkdeb -m <module>/<module-version> or\n       mkdeb -m <module> -v <module-version>\n"},
		{"not added", []string{"mkrpm", "bar/1.0"}, 3, "\nError! The module/version combo: bar/1.0 is not located in the DKMS tree.\n"},
		{"not built", []string{"mkdeb", "foo/1.0", "-k", tarK2}, 6,
			"\nError! No modules built for " + tarK2 + " (x86_64).\nModules must already be in the built state before using mkdeb.\n"},
		{"binaries only", []string{"mkdeb", "foo/1.0", "--binaries-only"}, 1,
			"\nError! mkdeb does not support --binaries-only: the package always carries the module source.\n" +
				"Use mktarball --binaries-only to ship modules to systems without the source.\n"},
	}
	for _, tc := range tests {
		out, errOut, code := e.run(tc.args...)
		if code != tc.code || out != "" || errOut != tc.stderr {
			t.Errorf("%s: exit %d (want %d)\nstdout %q\nstderr:\n%s\nwant:\n%s", tc.name, code, tc.code, out, errOut, tc.stderr)
		}
	}
}

func dpkgDeb(t *testing.T, e *testEnv, what, deb string) string {
	t.Helper()
	out, err := exec.Command("dpkg-deb", what, strings.ReplaceAll(deb, "<root>", e.root)).CombinedOutput()
	if err != nil {
		t.Fatalf("dpkg-deb %s: %v\n%s", what, err, out)
	}
	return string(out)
}

// buildStaticDkms builds this command without cgo, so it runs in a
// chroot that has no C library.
func buildStaticDkms(t *testing.T) string { return testenv.Binary(t, ".", "dkms") }

// TestDebInstallsWithRealDkms installs a package made by mkdeb, carrying
// a module prebuilt for the chroot's running kernel, with dpkg --root into
// a minimal system whose dkms is this very program: the postinst loads the
// prebuilt module with ldtarball and installs it, and dpkg -r removes it
// again through the prerm.
func TestDebInstallsWithRealDkms(t *testing.T) {
	t.Parallel()
	testenv.RequireRoot(t)
	testenv.RequireTools(t, "make", "dpkg", "busybox")
	e := fakeTree(t, true, tarK1)
	if _, errOut, code := e.run("mkdeb", "foo/1.0", "-k", tarK1); code != 0 {
		t.Fatalf("mkdeb: %d %s", code, errOut)
	}
	deb := e.dkms + "/foo/1.0/deb/foo-dkms_1.0_amd64.deb"

	root := t.TempDir()
	for _, d := range []string{"var/lib/dpkg/info", "var/lib/dpkg/updates", "var/lib/dpkg/triggers", "bin", "usr/sbin",
		"usr/bin", "sbin", "tmp", "etc/dkms", "lib/modules/" + tarK1 + "/kernel"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	os.Chmod(filepath.Join(root, "tmp"), 0o1777)
	// dkms.conf evaluation opens /dev/null for the sandboxed shell.
	os.MkdirAll(filepath.Join(root, "dev"), 0o755)
	if err := unix.Mknod(filepath.Join(root, "dev/null"), unix.S_IFCHR|0o666, int(unix.Mkdev(1, 3))); err != nil {
		t.Skipf("cannot create /dev/null in the chroot: %v", err)
	}
	bb, _ := exec.LookPath("busybox")
	files := map[string]string{
		"var/lib/dpkg/status": "Package: dkms\nStatus: install ok installed\nPriority: optional\nSection: kernel\n" +
			"Maintainer: Test <test@localhost>\nArchitecture: all\nVersion: 3.2.2\nDescription: dkms\n\n",
		"var/lib/dpkg/available": "",
		"etc/os-release":         "ID=debian\nNAME=\"Debian GNU/Linux\"\n",
		"bin/uname":              "#!/bin/sh\ncase \"$1\" in\n-r) echo " + tarK1 + " ;;\n-m) echo x86_64 ;;\n*) echo Linux ;;\nesac\n",
	}
	for rel, body := range files {
		if err := os.WriteFile(filepath.Join(root, rel), []byte(body), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for src, dst := range map[string]string{bb: "bin/busybox", buildStaticDkms(t): "usr/sbin/dkms"} {
		b, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(root, dst), b, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, applet := range []string{"sh", "rm", "cat", "mkdir", "mv", "ln", "chmod", "true", "false"} {
		os.Symlink("busybox", filepath.Join(root, "bin", applet))
	}
	dpkg := func(args ...string) string {
		cmd := exec.Command("dpkg", append([]string{"--root=" + root, "--log=/dev/null"}, args...)...)
		cmd.Env = append(os.Environ(), "PATH=/usr/sbin:/usr/bin:/sbin:/bin", "TMPDIR=/tmp")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("dpkg %v: %v\n%s", args, err, out)
		}
		return string(out)
	}

	out := dpkg("-i", deb)
	for _, want := range []string{"Loading tarball for foo/1.0\n", "Loading /var/lib/dkms/foo/1.0/" + tarK1 + "/x86_64...\n",
		"Creating symlink /var/lib/dkms/foo/1.0/source -> /usr/src/foo-1.0\n",
		"Installing /lib/modules/" + tarK1 + "/updates/dkms/foo.ko\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("dpkg -i output lacks %q:\n%s", want, out)
		}
	}
	if body, err := os.ReadFile(filepath.Join(root, "lib/modules", tarK1, "updates/dkms/foo.ko")); err != nil || string(body) != "fake module foo\n" {
		t.Errorf("prebuilt module not installed: %q %v\n%s", body, err, out)
	}
	if target, _ := os.Readlink(filepath.Join(root, "var/lib/dkms/foo/kernel-"+tarK1+"-x86_64")); target != "1.0/"+tarK1+"/x86_64" {
		t.Errorf("kernel link -> %q", target)
	}

	out = dpkg("-r", "foo-dkms")
	if !strings.Contains(out, "Deleting module foo/1.0 completely from the DKMS tree.\n") {
		t.Errorf("dpkg -r output:\n%s", out)
	}
	for _, gone := range []string{"var/lib/dkms/foo", "usr/src/foo-1.0", "lib/modules/" + tarK1 + "/updates/dkms/foo.ko"} {
		if _, err := os.Lstat(filepath.Join(root, gone)); !os.IsNotExist(err) {
			t.Errorf("%s left after dpkg -r: %v", gone, err)
		}
	}
}
