package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dkms-project/dkms/internal/testenv"
)

// TestSystemInstall installs the example module into the machine's real
// /lib/modules/<k> (with real depmod), then removes it. It needs root and
// cleans up after itself; the dkms and source trees stay temporary.
func TestSystemInstall(t *testing.T) {
	testenv.RequireRoot(t)
	testenv.RequireTools(t, "make", "gcc", "depmod", "modinfo")
	if os.Getenv("DKMS_SKIP_SYSTEM_TESTS") != "" {
		t.Skip("DKMS_SKIP_SYSTEM_TESTS is set")
	}
	k := testenv.DebianKernel(t)
	installed := "/lib/modules/" + k + "/updates/dkms/dkms_hello.ko"
	if _, err := os.Stat(installed); err == nil {
		t.Skip(installed + " exists already (make demo?); not touching it")
	}
	t.Cleanup(func() {
		if _, err := os.Stat(installed); err == nil {
			os.Remove(installed)
			exec.Command("depmod", "-a", k).Run()
		}
	})
	e := newEnv(t)
	e.module("dkms-hello", "1.0", helloConf, testenv.ExampleModule(t))
	e.write("/etc/dkms/framework.conf", "sign_file=/nonexistent\n")
	sys := func(args ...string) (string, string, int) {
		args = append(args, "--dkmstree", e.dkms, "--sourcetree", e.src)
		var out, errb strings.Builder
		env := append(testenv.CleanEnv(), "DKMS_SYSROOT="+e.root, "TMPDIR="+e.root+"/tmp")
		code := runWithRoot(t.Context(), append([]string{"dkms"}, args...), env, &out, &errb, e.root)
		return e.norm(out.String()), e.norm(errb.String()), code
	}
	out, errOut, code := sys("install", "dkms-hello/1.0", "-k", k)
	if code != 0 || !strings.HasSuffix(out, "Installing /lib/modules/"+k+"/updates/dkms/dkms_hello.ko\nRunning depmod... done.\n") {
		t.Fatalf("install: %d\n%s\n%s", code, out, errOut)
	}
	dep, _ := os.ReadFile("/lib/modules/" + k + "/modules.dep")
	if !strings.Contains(string(dep), "updates/dkms/dkms_hello.ko:") {
		t.Errorf("depmod did not register the module")
	}
	name, err := exec.Command("modinfo", "-k", k, "-F", "filename", "dkms_hello").Output()
	if err != nil || strings.TrimSpace(string(name)) != installed {
		t.Errorf("modinfo -k %s dkms_hello: %q %v", k, name, err)
	}
	out, errOut, code = sys("remove", "dkms-hello/1.0", "--all")
	if code != 0 || !strings.Contains(out, "Deleting /lib/modules/"+k+"/updates/dkms/dkms_hello.ko\n") {
		t.Errorf("remove: %d\n%s\n%s", code, out, errOut)
	}
	dep, _ = os.ReadFile("/lib/modules/" + k + "/modules.dep")
	if strings.Contains(string(dep), "dkms_hello") {
		t.Errorf("module still in modules.dep after remove")
	}
	if ents, err := os.ReadDir(filepath.Dir(installed)); err == nil && len(ents) == 0 {
		t.Errorf("empty %s left behind", filepath.Dir(installed))
	}
}
