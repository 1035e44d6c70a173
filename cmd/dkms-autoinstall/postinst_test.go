package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dkms-go/dkms/internal/testenv"
)

// TestCommonPostinst runs /usr/lib/dkms/common.postinst (spec §8.5) as a
// distribution package's postinst calls it, with our dkms on PATH, in a
// root where the running kernel has no /lib/modules entry (a chroot), so
// every kernel with headers is built for.
func TestCommonPostinst(t *testing.T) {
	t.Parallel()
	testenv.RequireRoot(t)
	testenv.RequireTools(t, "make", "bash")
	m := newMachine(t, "")
	m.fakeKernel(fk)
	m.fakeKernel("6.2.0-hooktest")
	conf := "PACKAGE_NAME=foo\nPACKAGE_VERSION=1.0\nBUILT_MODULE_NAME[0]=foo\nDEST_MODULE_LOCATION[0]=/updates\nMAKE[0]=\"make all\"\n"
	m.write("/usr/src/foo-1.0/dkms.conf", conf+"AUTOINSTALL=yes\n")
	m.write("/usr/src/foo-1.0/Makefile", "all:\n\tprintf 'fake\\n' > foo.ko\n")
	m.write("/usr/src/bar-1.0/dkms.conf", strings.ReplaceAll(conf, "foo", "bar"))
	path := "PATH=" + filepath.Dir(testenv.Binary(t, "../dkms", "dkms")) + ":" + os.Getenv("PATH")
	script := repo + "/hooks/common.postinst"
	run := func(args ...string) (string, string, int) {
		t.Helper()
		return m.exec([]string{path}, script, args...)
	}

	out, _, code := run()
	if code != 1 || out != "Need NAME and VERSION defined\nARCH is optional\n" {
		t.Errorf("no arguments: exit %d\n%s", code, out)
	}
	out, errOut, code := run("foo", "1.0", "/nonexistent")
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	for _, want := range []string{
		"Loading new foo/1.0 DKMS files...\n",
		" belongs to a chroot's host\nBuilding for " + fk + " and 6.2.0-hooktest\n\nBuilding initial module foo/1.0 for " + fk + "\n",
		"Installing <root>/lib/modules/" + fk + "/updates/dkms/foo.ko\n",
		"\nBuilding initial module foo/1.0 for 6.2.0-hooktest\n",
		"Installing <root>/lib/modules/6.2.0-hooktest/updates/dkms/foo.ko\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("first installation: no %q in\n%s", want, out)
		}
	}
	if !m.installed(fk, "foo") || !m.installed("6.2.0-hooktest", "foo") {
		t.Error("foo not installed for both kernels")
	}
	// An upgrade to the same version starts from scratch.
	out, errOut, code = run("foo", "1.0", "/nonexistent", "", "upgrade")
	if code != 0 || !strings.HasPrefix(out, "Removing old foo/1.0 DKMS files...\n") || !m.installed(fk, "foo") {
		t.Errorf("upgrade: exit %d\n%s\n%s", code, out, errOut)
	}

	out, _, code = run("bar", "1.0")
	if code != 0 || !strings.HasSuffix(out, "Not building the bar module which does not have AUTOINSTALL enabled.\n") {
		t.Errorf("no AUTOINSTALL: exit %d\n%s", code, out)
	}
	m.write("/etc/dkms/no-autoinstall", "")
	out, _, code = run("foo", "1.0")
	if code != 0 || out != "autoinstall for dkms modules has been disabled.\n" {
		t.Errorf("no-autoinstall: exit %d\n%s", code, out)
	}
}
