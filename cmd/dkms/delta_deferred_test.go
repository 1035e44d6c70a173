package main

import (
	"strings"
	"testing"
)

// Delta D13: autoinstall defers a module whose BUILD_DEPENDS are not
// registered with DKMS, in `dkms autoinstall`, `dkms kernel_postinst` and
// dkms-autoinstall's parallel scheduler.

// deferredTree is the delta's example: ok installed; aa depends on the
// unregistered nosuch; bb (when withBB) on cc, which is in the tree without
// AUTOINSTALL, and on the unregistered nosuch2; ee depends on ok only.
func deferredTree(t *testing.T, withBB, withEE bool) *testEnv {
	t.Helper()
	e := newEnv(t)
	e.fakeKernel(fk, "")
	mod := func(m, extra string) {
		t.Helper()
		e.module(m, "1.0", "PACKAGE_NAME="+m+"\nPACKAGE_VERSION=1.0\nBUILT_MODULE_NAME[0]="+m+
			"\nDEST_MODULE_LOCATION[0]=/updates\nMAKE[0]=\"make all\"\n"+extra, fakeBuildFiles(m))
		if _, errOut, code := e.run("add", m+"/1.0"); code != 0 {
			t.Fatalf("add %s: %s", m, errOut)
		}
	}
	mod("ok", "AUTOINSTALL=yes\n")
	if _, errOut, code := e.run("install", "ok/1.0", "-k", fk); code != 0 {
		t.Fatal(errOut)
	}
	mod("aa", "AUTOINSTALL=yes\nBUILD_DEPENDS=nosuch\n")
	if withBB {
		mod("cc", "")
		mod("bb", "AUTOINSTALL=yes\nBUILD_DEPENDS=(cc nosuch2)\n")
	}
	if withEE {
		mod("ee", "AUTOINSTALL=yes\nBUILD_DEPENDS=ok\n")
	}
	return e
}

const (
	deferredAA = "aa/1.0 autoinstall deferred: BUILD_DEPENDS not registered with DKMS: nosuch.\n"
	deferredKK = "Autoinstall on " + fk + " deferred module(s) aa/1.0 due to BUILD_DEPENDS not yet registered with DKMS.\n" +
		"These may be provided externally or by a package not yet configured; autoinstall will retry on the next trigger.\n"
	die11 = "\nError! One or more modules failed to install during autoinstall.\nRefer to previous errors for more information.\n"
)

func TestDeltaDeferredAutoinstall(t *testing.T) {
	t.Parallel()
	for _, action := range [][]string{{"autoinstall", "-k", fk}, {"kernel_postinst", "-k", fk}} {
		t.Run(action[0], func(t *testing.T) {
			t.Parallel()
			e := deferredTree(t, true, false)
			runSteps(t, e, []step{
				{action, 11, "Autoinstall on " + fk + " succeeded for module(s) ok.\n" + deferredAA +
					"bb/1.0 autoinstall failed due to missing dependencies: cc.\n" + deferredKK, die11},
				// The deferred module is left added, never built.
				{[]string{"status", "aa"}, 0, "aa/1.0: added\n", ""},
			})
		})
		t.Run(action[0]+" deferred only", func(t *testing.T) {
			t.Parallel()
			e := deferredTree(t, false, false)
			runSteps(t, e, []step{{action, 0, "Autoinstall on " + fk + " succeeded for module(s) ok.\n" + deferredAA + deferredKK, ""}})
		})
	}
}

// TestDeltaDeferredDependent: a module whose dependency is itself deferred
// waits for a known module, so it is unresolved and the run dies 11.
func TestDeltaDeferredDependent(t *testing.T) {
	t.Parallel()
	e := deferredTree(t, false, false)
	e.module("dd", "1.0", "PACKAGE_NAME=dd\nPACKAGE_VERSION=1.0\nBUILT_MODULE_NAME[0]=dd\nDEST_MODULE_LOCATION[0]=/updates\nMAKE[0]=\"make all\"\nAUTOINSTALL=yes\nBUILD_DEPENDS=aa\n", fakeBuildFiles("dd"))
	e.run("add", "dd/1.0")
	runSteps(t, e, []step{{[]string{"autoinstall", "-k", fk}, 11, "Autoinstall on " + fk + " succeeded for module(s) ok.\n" + deferredAA +
		"dd/1.0 autoinstall failed due to missing dependencies: aa.\n" + deferredKK, die11}})
}

// TestDeltaDeferredScheduler: dkms-autoinstall, parallel and strict,
// reports the deferred module as deferred (not a failure, exit 0) and
// still builds its sibling.
func TestDeltaDeferredScheduler(t *testing.T) {
	t.Parallel()
	e := deferredTree(t, false, true)
	out, errOut, code := e.runAutoinstall("-k", fk, "-j", "2", "--strict")
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	for _, want := range []string{"Installing <root>/lib/modules/" + fk + "/updates/dkms/ee.ko\n",
		"Autoinstall on " + fk + " succeeded for module(s) ok ee.\n" + deferredAA + deferredKK} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if !strings.Contains(errOut, "deferred until their BUILD_DEPENDS are registered with DKMS: aa/1.0") || strings.Contains(errOut, "failed") {
		t.Errorf("log:\n%s", errOut)
	}
	// With bb the known dependency cc makes it a failure, and strict exits 11.
	e = deferredTree(t, true, true)
	out, errOut, code = e.runAutoinstall("-k", fk, "-j", "2", "--strict")
	if code != 11 || !strings.Contains(out, "bb/1.0 autoinstall failed due to missing dependencies: cc.\n") {
		t.Errorf("exit %d\n%s\n%s", code, out, errOut)
	}
	// Without --strict the hook's own rule: exit 0.
	if _, _, code := e.runAutoinstall("-k", fk, "-j", "2"); code != 0 {
		t.Errorf("non-strict exit %d", code)
	}
}
