package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/dkms-go/dkms/internal/testenv"
)

// TestSystemInstall installs the example module into the machine's real
// /lib/modules/<k> (with real depmod), then removes it. It needs root and
// cleans up after itself; the dkms and source trees stay temporary. The
// module is installed under a name of its own, dkms_systest, so that the
// dkms_hello that make demo leaves installed is neither in its way nor
// touched.
const systestConf = `PACKAGE_NAME="dkms-systest"
PACKAGE_VERSION="1.0"
BUILT_MODULE_NAME[0]="dkms_hello"
DEST_MODULE_NAME[0]="dkms_systest"
DEST_MODULE_LOCATION[0]="/updates"
`

func TestSystemInstall(t *testing.T) {
	testenv.RequireRoot(t)
	testenv.RequireTools(t, "make", "gcc", "depmod", "modinfo")
	if os.Getenv("DKMS_SKIP_SYSTEM_TESTS") != "" {
		t.Skip("DKMS_SKIP_SYSTEM_TESTS is set")
	}
	k := testenv.DebianKernel(t)
	installed := "/lib/modules/" + k + "/updates/dkms/dkms_systest.ko"
	if _, err := os.Stat(installed); err == nil {
		t.Skip(installed + " exists already (left by a crashed run?); not touching it")
	}
	t.Cleanup(func() {
		if _, err := os.Stat(installed); err == nil {
			os.Remove(installed)
			exec.Command("depmod", "-a", k).Run()
		}
	})
	e := newEnv(t)
	e.module("dkms-systest", "1.0", systestConf, testenv.ExampleModule(t))
	e.write("/etc/dkms/framework.conf", "sign_file=/nonexistent\n")
	sys := func(args ...string) (string, string, int) {
		args = append(args, "--dkmstree", e.dkms, "--sourcetree", e.src)
		var out, errb strings.Builder
		env := append(testenv.CleanEnv(), "DKMS_SYSROOT="+e.root, "TMPDIR="+e.root+"/tmp")
		code := runWithRoot(t.Context(), append([]string{"dkms"}, args...), env, &out, &errb, e.root)
		return e.norm(out.String()), e.norm(errb.String()), code
	}
	out, errOut, code := sys("install", "dkms-systest/1.0", "-k", k)
	// The real depmod over the machine's whole tree can take longer than
	// a progress tick, so it may print more than the three dots.
	wantEnd := regexp.MustCompile(regexp.QuoteMeta("Installing "+installed+"\nRunning depmod...") + `\.* done\.\n$`)
	if code != 0 || !wantEnd.MatchString(out) {
		t.Fatalf("install: %d\n%s\n%s", code, out, errOut)
	}
	dep, _ := os.ReadFile("/lib/modules/" + k + "/modules.dep")
	if !strings.Contains(string(dep), "updates/dkms/dkms_systest.ko:") {
		t.Errorf("depmod did not register the module")
	}
	name, err := exec.Command("modinfo", "-k", k, "-F", "filename", "dkms_systest").Output()
	if err != nil || strings.TrimSpace(string(name)) != installed {
		t.Errorf("modinfo -k %s dkms_systest: %q %v", k, name, err)
	}
	out, errOut, code = sys("remove", "dkms-systest/1.0", "--all")
	if code != 0 || !strings.Contains(out, "Deleting "+installed+"\n") {
		t.Errorf("remove: %d\n%s\n%s", code, out, errOut)
	}
	dep, _ = os.ReadFile("/lib/modules/" + k + "/modules.dep")
	if strings.Contains(string(dep), "dkms_systest") {
		t.Errorf("module still in modules.dep after remove")
	}
	if ents, err := os.ReadDir(filepath.Dir(installed)); err == nil && len(ents) == 0 {
		t.Errorf("empty %s left behind", filepath.Dir(installed))
	}
}
