package main

import (
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/dkms-go/dkms/internal/testenv"
)

// realModule writes a small real module m (one .c file) to the source tree.
func (e *testEnv) realModule(t *testing.T, m, extraConf, cbody string) {
	t.Helper()
	name := strings.ReplaceAll(m, "-", "_")
	conf := "PACKAGE_NAME=" + m + "\nPACKAGE_VERSION=1.0\nBUILT_MODULE_NAME[0]=" + name +
		"\nDEST_MODULE_LOCATION[0]=/updates\nAUTOINSTALL=yes\n" + extraConf
	if cbody == "" {
		cbody = "#include <linux/module.h>\nstatic int __init i(void) { return 0; }\nstatic void __exit x(void) {}\n" +
			"module_init(i);\nmodule_exit(x);\nMODULE_LICENSE(\"GPL\");\nMODULE_VERSION(\"1.0\");\n"
	}
	e.module(m, "1.0", conf, map[string]string{
		"Makefile":  "obj-m := " + name + ".o\n",
		name + ".c": cbody,
	})
	if _, errOut, code := e.run("add", m+"/1.0"); code != 0 {
		t.Fatalf("add %s: %d %s", m, code, errOut)
	}
}

// autoinstallTree: a needs b, an independent one, one that does not
// compile, a BUILD_EXCLUSIVE one and one that needs the failing one.
func autoinstallTree(t *testing.T, k string) *testEnv {
	e := newEnv(t)
	e.realKernel(k)
	e.write("/etc/dkms/framework.conf", "sign_file=/nonexistent\n")
	e.realModule(t, "mod-a", "BUILD_DEPENDS[0]=mod-b\n", "")
	e.realModule(t, "mod-b", "", "")
	e.realModule(t, "mod-solo", "", "")
	e.realModule(t, "mod-broken", "", "this does not compile;\n")
	e.realModule(t, "mod-excl", "BUILD_EXCLUSIVE_KERNEL=\"^2\\.6\"\n", "")
	e.realModule(t, "mod-needs-broken", "BUILD_DEPENDS[0]=mod-broken\n", "")
	return e
}

func TestAutoinstallRealModules(t *testing.T) {
	testenv.RequireRoot(t)
	testenv.RequireTools(t, "make", "gcc")
	k := testenv.DebianKernel(t)
	e := autoinstallTree(t, k)
	out, errOut, code := e.run("autoinstall", "-k", k)
	out = undot(out)
	if code != 11 {
		t.Fatalf("exit %d, want 11\n%s\n%s", code, out, errOut)
	}
	tail := "Autoinstall on " + k + " succeeded for module(s) mod-b mod-solo mod-a.\n" +
		"Autoinstall on " + k + " was skipped for module(s) mod-excl.\n" +
		"Autoinstall on " + k + " failed for module(s) mod-broken(10).\n" +
		"mod-needs-broken/1.0 autoinstall failed due to missing dependencies: mod-broken.\n"
	if !strings.HasSuffix(out, tail) {
		t.Errorf("summary:\n%s\nwant suffix:\n%s", out, tail)
	}
	// Serial rounds: round 1 runs b, solo, broken, excl in queue order
	// (a waits for b), round 2 runs a.
	order := []string{"mod-b", "mod-broken", "mod-excl", "mod-solo", "mod-a"}
	last := -1
	for _, m := range order {
		i := strings.Index(out, "Autoinstall of module "+m+"/1.0 for kernel "+k+" (x86_64)\n")
		if i < 0 || i < last {
			t.Errorf("%s started out of order (at %d, previous %d)", m, i, last)
		}
		last = i
	}
	if !strings.Contains(errOut, "Warning: The <root>/var/lib/dkms/mod-excl/1.0/"+k+"/x86_64/dkms.conf\nfor module mod-excl/1.0 includes BUILD_EXCLUSIVE directives\n") {
		t.Errorf("exclusive warning missing:\n%s", errOut)
	}
	st, _, _ := e.run("status", "-k", k)
	want := "mod-a/1.0, " + k + ", x86_64: installed\n" +
		"mod-b/1.0, " + k + ", x86_64: installed\n" +
		"mod-broken/1.0: added\nmod-excl/1.0: added\nmod-needs-broken/1.0: added\n" +
		"mod-solo/1.0, " + k + ", x86_64: installed\n"
	if st != want {
		t.Errorf("status after autoinstall:\n%s\nwant\n%s", st, want)
	}
	// Nothing to do now except the failing ones, which fail again.
	out, _, code = e.run("autoinstall", "-k", k)
	if code != 11 || !strings.Contains(undot(out), "succeeded for module(s) mod-a mod-b mod-solo.\n") {
		t.Errorf("second run: %d\n%s", code, out)
	}
}

// TestParallelAutoinstall runs the dkms-autoinstall engine path (modules in
// parallel under one jobserver) on the same tree: same outcome.
func TestParallelAutoinstall(t *testing.T) {
	testenv.RequireRoot(t)
	testenv.RequireTools(t, "make", "gcc")
	k := testenv.DebianKernel(t)
	e := autoinstallTree(t, k)
	e.write("/etc/dkms/framework.conf", "sign_file=/nonexistent\nparallel_jobs=2\n")
	out, errOut, code := e.runAutoinstall("-k", k, "--strict")
	if code != 11 {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	for _, line := range []string{
		"Autoinstall on " + k + " was skipped for module(s) mod-excl.\n",
		"Autoinstall on " + k + " failed for module(s) mod-broken(10).\n",
		"mod-needs-broken/1.0 autoinstall failed due to missing dependencies: mod-broken.\n",
	} {
		if !strings.Contains(out, line) {
			t.Errorf("missing %q in\n%s", line, out)
		}
	}
	if !strings.Contains(errOut, "module mod-broken/1.0 failed for kernel "+k+" (status 10); see <root>/var/lib/dkms/mod-broken/1.0/build/make.log") {
		t.Errorf("log line naming the failed module and its make.log missing:\n%s", errOut)
	}
	for _, m := range []string{"mod-a", "mod-b", "mod-solo"} {
		if _, err := os.Stat(e.inst + "/" + k + "/updates/dkms/" + strings.ReplaceAll(m, "-", "_") + ".ko"); err != nil {
			t.Errorf("%s not installed: %v", m, err)
		}
	}
	// Without --strict the hook path exits 0 despite the failure.
	_, _, code = e.runAutoinstall("-k", k, "--hook", "postinst")
	if code != 0 {
		t.Errorf("hook mode must exit 0, got %d", code)
	}
}

// TestConcurrentAutoinstall: two autoinstalls at the same moment both
// finish, each module is built once, the tree is consistent.
func TestConcurrentAutoinstall(t *testing.T) {
	testenv.RequireRoot(t)
	testenv.RequireTools(t, "make", "gcc")
	k := testenv.DebianKernel(t)
	e := newEnv(t)
	e.realKernel(k)
	e.write("/etc/dkms/framework.conf", "sign_file=/nonexistent\n")
	e.realModule(t, "mod-x", "", "")
	e.realModule(t, "mod-y", "", "")
	var wg sync.WaitGroup
	outs := make([]string, 2)
	codes := make([]int, 2)
	for i := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			outs[i], _, codes[i] = e.run("autoinstall", "-k", k)
		}()
	}
	wg.Wait()
	builds := strings.Count(outs[0]+outs[1], "Building module(s)")
	if codes[0] != 0 || codes[1] != 0 || builds != 2 {
		t.Errorf("codes %v, %d builds (want 2)\n%s\n---\n%s", codes, builds, outs[0], outs[1])
	}
	st, _, _ := e.run("status")
	if st != "mod-x/1.0, "+k+", x86_64: installed\nmod-y/1.0, "+k+", x86_64: installed\n" {
		t.Errorf("status: %s", st)
	}
}

// TestMultiKernelAutoinstall: dkms-autoinstall -k k1 -k k2 builds for both
// kernels in one run; a kernel without headers is skipped, not failed.
func TestMultiKernelAutoinstall(t *testing.T) {
	t.Parallel()
	e := fakeEnv(t, "AUTOINSTALL=yes\n", nil)
	e.fakeKernel("6.2.0-test", "")
	os.MkdirAll(e.inst+"/6.3.0-noheaders", 0o755)
	if _, errOut, code := e.run("add", "foo/1.0"); code != 0 {
		t.Fatal(errOut)
	}
	out, errOut, code := e.runAutoinstall("-k", fk, "-k", "6.2.0-test", "-k", "6.3.0-noheaders", "-j", "2", "--strict")
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	for _, k := range []string{fk, "6.2.0-test"} {
		if !strings.Contains(out, "Autoinstall on "+k+" succeeded for module(s) foo.\n") {
			t.Errorf("no summary for %s:\n%s", k, out)
		}
	}
	st, _, _ := e.run("status")
	if st != "foo/1.0, 6.1.0-test, x86_64: installed\nfoo/1.0, 6.2.0-test, x86_64: installed\n" {
		t.Errorf("status:\n%s", st)
	}
	if !strings.Contains(errOut, "6.3.0-noheaders was skipped since the kernel headers") {
		t.Errorf("no skip message for the kernel without headers:\n%s", errOut)
	}
}

// TestParallelDepmodOnce: with parallel builds depmod runs once per kernel
// after its modules, never once per module (and never two at once).
func TestParallelDepmodOnce(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.fakeKernel(fk, "")
	for _, m := range []string{"aa", "bb", "cc"} {
		e.module(m, "1.0", "PACKAGE_NAME="+m+"\nPACKAGE_VERSION=1.0\nBUILT_MODULE_NAME[0]="+m+"\nDEST_MODULE_LOCATION[0]=/updates\nMAKE[0]=\"make all\"\nAUTOINSTALL=yes\n", fakeBuildFiles(m))
		if _, errOut, code := e.run("add", m+"/1.0"); code != 0 {
			t.Fatal(errOut)
		}
	}
	out, errOut, code := e.runAutoinstall("-k", fk, "-j", "2", "--strict")
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	if n := strings.Count(out, "Running depmod... done."); n != 1 {
		t.Errorf("depmod ran %d times, want once:\n%s", n, out)
	}
	if !strings.Contains(out, "Running depmod... done.\nAutoinstall on "+fk+" succeeded for module(s) ") {
		t.Errorf("depmod must run after all modules, before the summary:\n%s", out)
	}
	// -j 1 is upstream's serial format: depmod after every install.
	e2 := newEnv(t)
	e2.fakeKernel(fk, "")
	for _, m := range []string{"aa", "bb"} {
		e2.module(m, "1.0", "PACKAGE_NAME="+m+"\nPACKAGE_VERSION=1.0\nBUILT_MODULE_NAME[0]="+m+"\nDEST_MODULE_LOCATION[0]=/updates\nMAKE[0]=\"make all\"\nAUTOINSTALL=yes\n", fakeBuildFiles(m))
		e2.run("add", m+"/1.0")
	}
	out, _, _ = e2.runAutoinstall("-k", fk, "-j", "1")
	if n := strings.Count(out, "Running depmod... done."); n != 2 {
		t.Errorf("serial: depmod ran %d times, want 2:\n%s", n, out)
	}
}

// TestAutoinstallPreparesKernelLazily: the kernel preparation (signing
// lines and their empty line) comes just before the first module that has
// to be built, not before an already built one (§6.7 step 5.2); without
// headers the built module is still installed before the die 21.
func TestAutoinstallPreparesKernelLazily(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.fakeKernel(fk, "")
	for _, m := range []string{"aa", "bb"} {
		e.module(m, "1.0", "PACKAGE_NAME="+m+"\nPACKAGE_VERSION=1.0\nBUILT_MODULE_NAME[0]="+m+"\nDEST_MODULE_LOCATION[0]=/updates\nMAKE[0]=\"make all\"\nAUTOINSTALL=yes\n", fakeBuildFiles(m))
		if _, errOut, code := e.run("add", m+"/1.0"); code != 0 {
			t.Fatal(errOut)
		}
	}
	if _, errOut, code := e.run("build", "aa/1.0", "-k", fk); code != 0 {
		t.Fatal(errOut)
	}
	out, errOut, code := e.run("autoinstall", "-k", fk)
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	want := "Autoinstall of module aa/1.0 for kernel " + fk + " (x86_64)\n" +
		"Installing <root>/lib/modules/" + fk + "/updates/dkms/aa.ko\nRunning depmod... done.\n\n" +
		"Kernel config <root>/lib/modules/" + fk + "/build/.config not found, modules won't be signed\n\n" +
		"Autoinstall of module bb/1.0 for kernel " + fk + " (x86_64)\n"
	if !strings.HasPrefix(out, want) {
		t.Errorf("output:\n%s\nwant prefix:\n%s", out, want)
	}
	// Again without headers: aa is installed, then bb's preparation dies 21.
	for _, m := range []string{"aa", "bb"} {
		e.run("uninstall", m+"/1.0", "-k", fk)
	}
	e.run("unbuild", "bb/1.0", "-k", fk)
	if err := os.RemoveAll(e.inst + "/" + fk + "/build"); err != nil {
		t.Fatal(err)
	}
	out, errOut, code = e.run("autoinstall", "-k", fk)
	if code != 21 || out != "Autoinstall of module aa/1.0 for kernel "+fk+" (x86_64)\n"+
		"Installing <root>/lib/modules/"+fk+"/updates/dkms/aa.ko\nRunning depmod... done.\n\n" ||
		!strings.HasPrefix(errOut, "\nError! Your kernel headers for kernel "+fk+" cannot be found") {
		t.Errorf("without headers: exit %d\n%q\n%q", code, out, errOut)
	}
}
