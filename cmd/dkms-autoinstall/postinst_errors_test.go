package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dkms-go/dkms/internal/testenv"
)

// TestCommonPostinstContinueOnError is delta D17's example: three kernels
// whose builds end with 10, 7 and 0. By default (continue_on_error=true,
// whatever the environment says) every kernel is tried, the failed ones are
// listed and the last failure is the exit status; continue_on_error=false
// in framework.conf stops at the first failure with its status.
func TestCommonPostinstContinueOnError(t *testing.T) {
	t.Parallel()
	testenv.RequireRoot(t)
	testenv.RequireTools(t, "make", "bash")
	path := "PATH=" + filepath.Dir(testenv.Binary(t, "../dkms", "dkms")) + ":" + os.Getenv("PATH")
	// 5.0-a: make fails (dkms exits 10); 6.0-b: make makes no module (7).
	makefile := "all:\n\t@case $(KERNELRELEASE) in 5.0-a) exit 2;; 6.0-b) ;; *) printf 'fake\\n' > foo.ko;; esac\n"
	setup := func(framework string) *machine {
		m := newMachine(t, "")
		for _, k := range []string{"5.0-a", "6.0-b", "7.0-c"} {
			m.fakeKernel(k)
		}
		m.write("/usr/src/foo-1.0/dkms.conf", "PACKAGE_NAME=foo\nPACKAGE_VERSION=1.0\nBUILT_MODULE_NAME[0]=foo\n"+
			"DEST_MODULE_LOCATION[0]=/updates\nMAKE[0]=\"make all\"\nAUTOINSTALL=yes\n")
		m.write("/usr/src/foo-1.0/Makefile", makefile)
		if framework != "" {
			m.write("/etc/dkms/framework.conf.d/errors.conf", framework)
		}
		return m
	}
	const building = "Building for 5.0-a, 6.0-b and 7.0-c\n\nBuilding initial module foo/1.0 for 5.0-a\n"

	for _, env := range [][]string{{path}, {path, "continue_on_error=false"}} {
		m := setup("")
		out, errOut, code := m.exec(env, repo+"/hooks/common.postinst", "foo", "1.0")
		if code != 7 || !strings.Contains(out, building) || !strings.Contains(out, "\n\nBuilding initial module foo/1.0 for 6.0-b\n") ||
			!strings.Contains(out, "\n\nBuilding initial module foo/1.0 for 7.0-c\n") ||
			!strings.HasSuffix(out, "Installing <root>/lib/modules/7.0-c/updates/dkms/foo.ko\nRunning depmod... done.\nBuilds for the following kernel(s) failed: 5.0-a 6.0-b\n") {
			t.Errorf("env %v: exit %d (want 7)\n%s\n%s", env[1:], code, out, errOut)
		}
		if !m.installed("7.0-c", "foo") || m.installed("5.0-a", "foo") {
			t.Errorf("env %v: only 7.0-c must have foo installed", env[1:])
		}
	}

	m := setup("continue_on_error=false\n")
	out, errOut, code := m.exec([]string{path}, repo+"/hooks/common.postinst", "foo", "1.0")
	if code != 10 || !strings.Contains(out, building) || strings.Contains(out, "6.0-b\n") || strings.Contains(out, "Builds for") {
		t.Errorf("stop mode: exit %d (want 10)\n%s\n%s", code, out, errOut)
	}
	if m.installed("7.0-c", "foo") {
		t.Error("stop mode: no kernel after the failed one is processed")
	}
}
