package main

import (
	"os"
	"testing"
)

// TestKernelPreinstBrokenConf: a conf read that dies inside kernel_preinst
// ends the whole action with that status (§6.8 step 2).
func TestKernelPreinstBrokenConf(t *testing.T) {
	t.Parallel()
	e := fakeEnv(t, "AUTOINSTALL=yes\n", nil)
	if _, errOut, code := e.run("install", "foo/1.0", "-k", fk); code != 0 {
		t.Fatal(errOut)
	}
	if err := os.RemoveAll(e.src + "/foo-1.0"); err != nil {
		t.Fatal(err)
	}
	runSteps(t, e, []step{{[]string{"kernel_preinst", "-k", fk}, 4, "",
		"\nError! Could not locate dkms.conf file.\nFile: <root>/var/lib/dkms/foo/1.0/source/dkms.conf does not exist.\n"}})
}

// TestKernelActionsPruneEmptyDirs: kernel_prerm and kernel_preinst delete
// every empty directory below the kernel's module directory, the empty
// build/include of a fake kernel included, and the directory itself when
// it ends up empty (§6.8 step 4).
func TestKernelActionsPruneEmptyDirs(t *testing.T) {
	t.Parallel()
	for _, action := range []string{"kernel_prerm", "kernel_preinst"} {
		t.Run(action, func(t *testing.T) {
			t.Parallel()
			e := fakeEnv(t, "AUTOINSTALL=yes\n", nil)
			if _, errOut, code := e.run("install", "foo/1.0", "-k", fk); code != 0 {
				t.Fatal(errOut)
			}
			if _, errOut, code := e.run(action, "-k", fk); code != 0 {
				t.Fatalf("%s: %d %s", action, code, errOut)
			}
			if _, err := os.Stat(e.inst + "/" + fk); !os.IsNotExist(err) {
				t.Errorf("%s/%s (only empty directories, build/include among them) must be gone: %v", e.inst, fk, err)
			}
		})
	}
	// A non-empty file keeps its directories.
	e := fakeEnv(t, "", nil)
	e.write("/lib/modules/"+fk+"/build/Makefile", "")
	if _, errOut, code := e.run("kernel_prerm", "-k", fk); code != 0 {
		t.Fatal(errOut)
	}
	if _, err := os.Stat(e.inst + "/" + fk + "/build/Makefile"); err != nil {
		t.Errorf("a file was deleted: %v", err)
	}
	if _, err := os.Stat(e.inst + "/" + fk + "/build/include"); !os.IsNotExist(err) {
		t.Errorf("empty build/include left: %v", err)
	}
}
