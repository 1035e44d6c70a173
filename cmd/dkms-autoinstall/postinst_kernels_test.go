package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dkms-go/dkms/internal/testenv"
)

// TestCommonPostinstKernelList is §8.5 step 11: a newline-separated list
// of kernels with headers reads "A, B and C"; the running kernel and the
// newest one (a space-separated pair from step 9) are printed as is.
func TestCommonPostinstKernelList(t *testing.T) {
	t.Parallel()
	testenv.RequireRoot(t)
	testenv.RequireTools(t, "make", "bash", "dpkg")
	out, err := exec.Command("uname", "-r").Output()
	if err != nil {
		t.Fatal(err)
	}
	current := strings.TrimSpace(string(out))
	path := "PATH=" + filepath.Dir(testenv.Binary(t, "../dkms", "dkms")) + ":" + os.Getenv("PATH")
	setup := func(kernels ...string) *machine {
		m := newMachine(t, "")
		for _, k := range kernels {
			m.fakeKernel(k)
		}
		m.write("/usr/src/foo-1.0/dkms.conf", "PACKAGE_NAME=foo\nPACKAGE_VERSION=1.0\nBUILT_MODULE_NAME[0]=foo\n"+
			"DEST_MODULE_LOCATION[0]=/updates\nMAKE[0]=\"make all\"\nAUTOINSTALL=yes\n")
		m.write("/usr/src/foo-1.0/Makefile", "all:\n\tprintf 'fake\\n' > foo.ko\n")
		return m
	}

	// A chroot (no /lib/modules/<running>): every kernel with headers.
	m := setup("6.1.0-a", "6.2.0-b", "6.3.0-c")
	out2, errOut, code := m.exec([]string{path}, repo+"/hooks/common.postinst", "foo", "1.0")
	if want := "\nBuilding for 6.1.0-a, 6.2.0-b and 6.3.0-c\n\n"; code != 0 || !strings.Contains(out2, want) {
		t.Errorf("three kernels: exit %d, no %q in\n%s\n%s", code, want, out2, errOut)
	}

	// The running kernel has a module directory, a newer kernel has a
	// /boot/config-*: both, space-separated.
	const newest = "99.0.0-1-amd64"
	m = setup(current, newest)
	m.write("/boot/config-"+newest, "")
	out2, errOut, code = m.exec([]string{path}, repo+"/hooks/common.postinst", "foo", "1.0")
	if want := "Loading new foo/1.0 DKMS files...\nBuilding for " + current + " " + newest + "\n\n"; code != 0 || !strings.HasPrefix(out2, want) {
		t.Errorf("running and newest: exit %d, want prefix %q in\n%s\n%s", code, want, out2, errOut)
	}
	if !m.installed(current, "foo") || !m.installed(newest, "foo") {
		t.Error("foo not installed for both kernels")
	}
}
