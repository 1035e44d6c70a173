package main

import (
	"os"
	"testing"
)

// TestDepmodStep is §7.4 with a stand-in depmod that prints its arguments:
// the skip without modules.dep, the System.map option, the clean-up after
// an emptied modules.dep (all shown in verbose mode only) and a failing
// depmod that still ends in " done.".
func TestDepmodStep(t *testing.T) {
	bin := t.TempDir()
	// MODE=empty truncates modules.dep as depmod does for a kernel with no
	// modules left; MODE=fail exits 1.
	script := "#!/bin/sh\necho \"depmod $*\"\n" +
		"case \"$DEPMOD_MODE\" in empty) : > \"$DEPMOD_DIR/modules.dep\" ;; fail) exit 1 ;; esac\n"
	if err := os.WriteFile(bin+"/depmod", []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", bin+":"+os.Getenv("PATH"))
	const kd = "<root>/lib/modules/" + fk
	const head = "Module foo/1.0 for kernel " + fk + " (x86_64):\nBefore uninstall, this module version was ACTIVE on this kernel.\n" +
		"Deleting " + kd + "/updates/dkms/foo.ko\n"
	install := func(e *testEnv) {
		t.Helper()
		if _, errOut, code := e.run("install", "foo/1.0", "-k", fk); code != 0 {
			t.Fatal(errOut)
		}
	}

	t.Run("modules.dep missing", func(t *testing.T) {
		e := fakeEnv(t, "", nil)
		install(e)
		runSteps(t, e, []step{
			{[]string{"uninstall", "foo/1.0", "-k", fk, "--verbose"}, 0, head + "do_depmod " + fk + "\n" +
				"Skipping depmod because '" + kd + "/modules.dep' is missing.\n done.\n", ""},
		})
	})
	t.Run("System.map passed when present", func(t *testing.T) {
		e := fakeEnv(t, "", nil)
		install(e)
		e.write("/lib/modules/"+fk+"/modules.dep", "kernel/x.ko:\n")
		e.write("/boot/System.map-"+fk, "")
		runSteps(t, e, []step{
			{[]string{"uninstall", "foo/1.0", "-k", fk, "--verbose"}, 0, head + "do_depmod " + fk + "\n" +
				"depmod -b <root> -a " + fk + " -F <root>/boot/System.map-" + fk + "\n done.\n", ""},
		})
	})
	t.Run("emptied modules.dep cleaned up", func(t *testing.T) {
		e := fakeEnv(t, "", nil)
		install(e)
		for _, f := range []string{"modules.dep", "modules.alias", "modules.symbols", "modules.alias.bin", "modules.dep.bin"} {
			e.write("/lib/modules/"+fk+"/"+f, "x\n")
		}
		if err := os.RemoveAll(e.inst + "/" + fk + "/build"); err != nil {
			t.Fatal(err)
		}
		t.Setenv("DEPMOD_MODE", "empty") // depmod inherits the test process environment
		t.Setenv("DEPMOD_DIR", e.inst+"/"+fk)
		runSteps(t, e, []step{
			{[]string{"uninstall", "foo/1.0", "-k", fk, "--verbose"}, 0, head + "do_depmod " + fk + "\n" +
				"depmod -b <root> -a " + fk + "\n" +
				"removed '" + kd + "/modules.alias'\nremoved '" + kd + "/modules.dep'\nremoved '" + kd + "/modules.symbols'\n" +
				"removed '" + kd + "/modules.alias.bin'\nremoved '" + kd + "/modules.dep.bin'\n" +
				"removed directory " + kd + "\n done.\n", ""},
		})
		if _, err := os.Stat(e.inst + "/" + fk); !os.IsNotExist(err) {
			t.Errorf("kernel directory left: %v", err)
		}
	})
	t.Run("failing depmod still done", func(t *testing.T) {
		e := fakeEnv(t, "", nil)
		install(e)
		e.write("/lib/modules/"+fk+"/modules.dep", "kernel/x.ko:\n")
		t.Setenv("DEPMOD_MODE", "fail")
		runSteps(t, e, []step{
			{[]string{"uninstall", "foo/1.0", "-k", fk}, 0, head + "Running depmod... done.\n", ""},
		})
	})
}
