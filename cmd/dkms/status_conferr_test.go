package main

import "testing"

// TestStatusConfErrorsIgnored: status needs no root or module argument and
// exits 0 even when a conf read fails; the error is shown on stderr (§6.13).
func TestStatusConfErrorsIgnored(t *testing.T) {
	t.Parallel()
	e := fakeEnv(t, "", nil)
	if _, errOut, code := e.run("build", "foo/1.0", "-k", fk); code != 0 {
		t.Fatal(errOut)
	}
	e.write("/usr/src/foo-1.0/dkms.conf", "PACKAGE_NAME=foo\nPACKAGE_VERSION=1.0\nBUILT_MODULE_NAME[0]=foo\nDEST_MODULE_LOCATION[0]=/kernel/drivers\nAUTOINSTALL=maybe\n")
	runSteps(t, e, []step{{[]string{"status"}, 0, "foo/1.0, 6.1.0-test, x86_64: built\n",
		"dkms.conf: Error! Unsupported AUTOINSTALL value 'maybe'\n"}})
}
