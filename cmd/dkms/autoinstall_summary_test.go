package main

import (
	"os/exec"
	"strings"
	"testing"
)

// TestAutoinstallSummaryFake is §6.7's verified example with stand-in
// modules: dependency rounds, BUILD_EXCLUSIVE skips, a failing build, a
// self-dependency and a dependency on the failing module, then die 11.
func TestAutoinstallSummaryFake(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.fakeKernel(fk, "")
	mod := func(m, extra string, files map[string]string) {
		t.Helper()
		e.module(m, "1.0", "PACKAGE_NAME="+m+"\nPACKAGE_VERSION=1.0\nBUILT_MODULE_NAME[0]="+m+
			"\nDEST_MODULE_LOCATION[0]=/updates\nMAKE[0]=\"make all\"\nAUTOINSTALL=yes\n"+extra, files)
		if _, errOut, code := e.run("add", m+"/1.0"); code != 0 {
			t.Fatalf("add %s: %s", m, errOut)
		}
	}
	excl := "BUILD_EXCLUSIVE_KERNEL=\"^4\\.\"\n"
	for _, m := range []string{"bar", "dkms_test", "foo"} {
		mod(m, "", fakeBuildFiles(m))
	}
	mod("dkms_dependencies_test", "BUILD_DEPENDS[0]=dkms_test\n", fakeBuildFiles("dkms_dependencies_test"))
	mod("dkms_build_exclusive_test", excl, fakeBuildFiles("dkms_build_exclusive_test"))
	mod("dkms_build_exclusive_dependencies_test", excl+"BUILD_DEPENDS[0]=dkms_build_exclusive_test\n", fakeBuildFiles("dkms_build_exclusive_dependencies_test"))
	mod("dkms_failing_test", "", map[string]string{"Makefile": "all:\n\texit 2\n"})
	mod("dkms_circular_dependencies_test", "BUILD_DEPENDS[0]=dkms_circular_dependencies_test\n", fakeBuildFiles("dkms_circular_dependencies_test"))
	mod("dkms_failing_dependencies_test", "BUILD_DEPENDS[0]=dkms_failing_test\n", fakeBuildFiles("dkms_failing_dependencies_test"))

	ok := func(m string) string {
		return "Autoinstall of module " + m + "/1.0 for kernel " + fk + " (x86_64)\nBuilding module(s)... done.\n" +
			"Installing <root>/lib/modules/" + fk + "/updates/dkms/" + m + ".ko\nRunning depmod... done.\n\n"
	}
	skipped := func(m string) string { return "Autoinstall of module " + m + "/1.0 for kernel " + fk + " (x86_64)\n\n" }
	wantOut := noSign + ok("bar") + skipped("dkms_build_exclusive_test") +
		"Autoinstall of module dkms_failing_test/1.0 for kernel " + fk + " (x86_64)\n" +
		"Building module(s)...(bad exit status: 2)\nFailed command:\nmake -j2 KERNELRELEASE=" + fk + " all\n\n" +
		ok("dkms_test") + ok("foo") + skipped("dkms_build_exclusive_dependencies_test") + ok("dkms_dependencies_test") +
		"Autoinstall on " + fk + " succeeded for module(s) bar dkms_test foo dkms_dependencies_test.\n" +
		"Autoinstall on " + fk + " was skipped for module(s) dkms_build_exclusive_test dkms_build_exclusive_dependencies_test.\n" +
		"Autoinstall on " + fk + " failed for module(s) dkms_failing_test(10).\n" +
		"dkms_circular_dependencies_test/1.0 autoinstall failed due to missing dependencies: dkms_circular_dependencies_test.\n" +
		"dkms_failing_dependencies_test/1.0 autoinstall failed due to missing dependencies: dkms_failing_test.\n"
	exclWarn := func(m string) string {
		return "Warning: The <root>/var/lib/dkms/" + m + "/1.0/" + fk + "/x86_64/dkms.conf\nfor module " + m +
			"/1.0 includes BUILD_EXCLUSIVE directives\nwhich do not match this kernel/arch/config for any modules.\nThis indicates that it should not be built.\n"
	}
	wantErr := exclWarn("dkms_build_exclusive_test") +
		"\nError! Bad return status for module build on kernel: " + fk + " (x86_64)\n" +
		"Consult <root>/var/lib/dkms/dkms_failing_test/1.0/build/make.log for more information.\n" +
		exclWarn("dkms_build_exclusive_dependencies_test") +
		"\nError! One or more modules failed to install during autoinstall.\nRefer to previous errors for more information.\n"
	runSteps(t, e, []step{{[]string{"autoinstall", "-k", fk, "-j", "2"}, 11, wantOut, wantErr}})
}

// TestAutoinstallRunningKernelNoHeaders: without -k the running kernel is
// used; with no headers for it and an unbuilt candidate, autoinstall dies
// 21 before any "Autoinstall of module" line (§6.7).
func TestAutoinstallRunningKernelNoHeaders(t *testing.T) {
	t.Parallel()
	out, err := exec.Command("uname", "-r").Output()
	if err != nil {
		t.Fatal(err)
	}
	k := strings.TrimSpace(string(out))
	e := fakeEnv(t, "AUTOINSTALL=yes\n", nil)
	if _, errOut, code := e.run("add", "foo/1.0"); code != 0 {
		t.Fatal(errOut)
	}
	runSteps(t, e, []step{{[]string{"autoinstall"}, 21, "",
		"\nError! Your kernel headers for kernel " + k + " cannot be found at <root>/lib/modules/" + k + "/build or <root>/lib/modules/" + k + "/source.\n" +
			"Please install your distribution's kernel headers package matching " + k + ", or use the --kernelsourcedir option to tell DKMS where it's located.\n"}})
}
