package main

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/dkms-go/dkms/internal/testenv"
)

func TestInstallPaths(t *testing.T) {
	t.Parallel()
	const created = "Creating symlink <root>/var/lib/dkms/foo/1.0/source -> <root>/usr/src/foo-1.0\n\n"
	const built = created + noSign + "Building module(s)... done.\n"
	cases := []envCase{
		{"original module archived and restored", "", nil, func(e *testEnv) {
			e.write("/lib/modules/"+fk+"/kernel/drivers/foo.ko", "in-tree foo\n")
		}, []step{
			{[]string{"install", "foo/1.0", "-k", fk}, 0, built +
				"Found pre-existing <root>/lib/modules/6.1.0-test/kernel/drivers/foo.ko, archiving for uninstallation\n" +
				"Installing <root>/lib/modules/6.1.0-test/updates/dkms/foo.ko\nRunning depmod... done.\n", modinfoErr("foo", 2)},
			{[]string{"status"}, 0, "foo/1.0, 6.1.0-test, x86_64: installed (Original modules exist)\n", ""},
			{[]string{"install", "foo/1.0", "-k", fk}, 0, "Module foo/1.0 already installed on kernel 6.1.0-test (x86_64), skip. You may override by specifying --force.\n", ""},
			{[]string{"uninstall", "foo/1.0", "-k", fk}, 0, "Module foo/1.0 for kernel 6.1.0-test (x86_64):\n" +
				"Before uninstall, this module version was ACTIVE on this kernel.\n" +
				"Deleting <root>/lib/modules/6.1.0-test/updates/dkms/foo.ko\n" +
				"Restoring archived original module <root>/lib/modules/6.1.0-test/kernel/drivers/foo.ko\n" +
				"Running depmod... done.\n", ""},
			{[]string{"uninstall", "foo/1.0", "-k", fk}, 0, "Module foo/1.0 is not installed for kernel 6.1.0-test (x86_64). Skipping...\n", ""},
		}, func(t *testing.T, e *testEnv) {
			b, err := os.ReadFile(e.inst + "/" + fk + "/kernel/drivers/foo.ko")
			if err != nil || string(b) != "in-tree foo\n" {
				t.Errorf("original not restored: %q %v", b, err)
			}
			if _, err := os.Stat(e.dkms + "/foo/original_module"); !os.IsNotExist(err) {
				t.Errorf("original_module left behind")
			}
		}},
		{"ADDON_MODULES_DIR from /etc/sysconfig/module-init-tools", "", nil, func(e *testEnv) {
			e.write("/etc/sysconfig/module-init-tools", "ADDON_MODULES_DIR=addon\n")
		}, []step{
			{[]string{"install", "foo/1.0", "-k", fk}, 0, built + "Installing <root>/lib/modules/6.1.0-test/addon/foo.ko\nRunning depmod... done.\n", ""},
		}, nil},
		{"force reinstall", "", nil, nil, []step{
			{[]string{"install", "foo/1.0", "-k", fk}, 0, built + "Installing <root>/lib/modules/6.1.0-test/updates/dkms/foo.ko\nRunning depmod... done.\n", ""},
			{[]string{"install", "foo/1.0", "-k", fk, "--force"}, 0, "Module foo/1.0 for kernel 6.1.0-test (x86_64):\n" +
				"Before uninstall, this module version was ACTIVE on this kernel.\n" +
				"Deleting <root>/lib/modules/6.1.0-test/updates/dkms/foo.ko\nRunning depmod... done.\n\n" +
				"Installing <root>/lib/modules/6.1.0-test/updates/dkms/foo.ko\nRunning depmod... done.\n", ""},
		}, nil},
		{"pre_install fails", "PRE_INSTALL=pre.sh\n", map[string]string{"pre.sh": "#!/bin/sh\necho refusing\nexit 4\n"}, nil, []step{
			{[]string{"install", "foo/1.0", "-k", fk}, 101, built + "Running the pre_install script:\nrefusing\n",
				"\nError! pre_install failed, aborting install.\nYou may override by specifying --force.\n"},
		}, nil},
		{"script without #! line runs as a bash script", "POST_ADD=\"s.sh x\"\n", map[string]string{"s.sh": "echo \"no interpreter line $1\"\nexit 3\n"}, nil, []step{
			{[]string{"add", "foo/1.0"}, 3, "Creating symlink <root>/var/lib/dkms/foo/1.0/source -> <root>/usr/src/foo-1.0\nRunning the post_add script:\nno interpreter line x\n", ""},
		}, nil},
		{"script not executable", "POST_INSTALL=missing.sh\n", nil, nil, []step{
			{[]string{"install", "foo/1.0", "-k", fk}, 0, built + "Installing <root>/lib/modules/6.1.0-test/updates/dkms/foo.ko\n\nRunning depmod... done.\n",
				"Warning: The post_install script is not executable.\n"},
		}, nil},
		{"no kernel dir", "", nil, func(e *testEnv) {
			e.run("build", "foo/1.0", "-k", fk)
			os.RemoveAll(e.inst + "/" + fk)
		}, []step{
			{[]string{"install", "foo/1.0", "-k", fk}, 6, "",
				"\nError! The directory <root>/lib/modules/6.1.0-test doesn't exist.\nYou cannot install a module onto a non-existent kernel.\n"},
		}, nil},
		{"obsolete", "OBSOLETE_BY=5.10\nBUILD_EXCLUSIVE_KERNEL_MAX=99\n", nil, nil, []step{
			{[]string{"install", "foo/1.0", "-k", fk}, 6, created + noSign + "Building module(s)... done.\n",
				"Deprecated feature: OBSOLETE_BY (<root>/usr/src/foo-1.0/dkms.conf): use BUILD_EXCLUSIVE_KERNEL_MAX instead\n" +
					"\nModule has been obsoleted due to being included in kernel 5.10.\nWe will avoid installing for future kernels above 5.10.\nYou may override by specifying --force.\n\nError! Installation aborted.\n"},
		}, nil},
		{"obsolete compares VER with the dashes removed afterwards", "OBSOLETE_BY=6.1.0-100\nBUILD_EXCLUSIVE_KERNEL_MAX=99\n", nil, nil, []step{
			{[]string{"install", "foo/1.0", "-k", fk}, 6, created + noSign + "Building module(s)... done.\n",
				"Deprecated feature: OBSOLETE_BY (<root>/usr/src/foo-1.0/dkms.conf): use BUILD_EXCLUSIVE_KERNEL_MAX instead\n" +
					"\nModule has been obsoleted due to being included in kernel 6.1.0-100.\nWe will avoid installing for future kernels above 6.1.0-100.\nYou may override by specifying --force.\n\nError! Installation aborted.\n"},
		}, nil},
		{"post_transaction", "", nil, func(e *testEnv) {
			e.write("/etc/dkms/framework.conf", "post_transaction=\"echo transaction for $kernelver; exit 3\"\n")
		}, []step{
			{[]string{"install", "foo/1.0", "-k", fk}, 0, built + "Installing <root>/lib/modules/6.1.0-test/updates/dkms/foo.ko\nRunning depmod... done.\n" +
				"Executing post-transaction command...(bad exit status: 3)\nFailed command:\necho transaction for 6.1.0-test; exit 3\n", ""},
		}, func(t *testing.T, e *testEnv) {
			b, _ := os.ReadFile(e.dkms + "/post_transaction.log")
			if !strings.Contains(string(b), "\nExecuting post-transaction command\n# command: echo transaction for 6.1.0-test; exit 3\ntransaction for 6.1.0-test\n\n# exit code: 3\n") {
				t.Errorf("post_transaction.log:\n%s", b)
			}
		}},
		{"unbuild and remove", "", nil, func(e *testEnv) {
			e.run("install", "foo/1.0", "-k", fk)
			e.run("build", "foo/1.0", "-k", "6.2.0-test", "--kernelsourcedir", e.inst+"/"+fk+"/build")
		}, []step{
			{[]string{"unbuild", "foo/1.0", "-k", "6.2.0-test"}, 0, "Module foo/1.0 is not installed for kernel 6.2.0-test (x86_64). Skipping...\n", ""},
			{[]string{"unbuild", "foo/1.0", "-k", "6.2.0-test"}, 0, "Module foo/1.0 is not installed for kernel 6.2.0-test (x86_64). Skipping...\nModule foo/1.0 is not built for kernel 6.2.0-test (x86_64). Skipping...\n", ""},
			{[]string{"remove", "foo/1.0", "--all"}, 0, "Module foo/1.0 for kernel 6.1.0-test (x86_64):\n" +
				"Before uninstall, this module version was ACTIVE on this kernel.\n" +
				"Deleting <root>/lib/modules/6.1.0-test/updates/dkms/foo.ko\nRunning depmod... done.\n\n" +
				"Deleting module foo/1.0 completely from the DKMS tree.\n", ""},
			{[]string{"status"}, 0, "", ""},
		}, func(t *testing.T, e *testEnv) {
			if _, err := os.Stat(e.dkms + "/foo"); !os.IsNotExist(err) {
				t.Errorf("module dir left: %v", err)
			}
		}},
		{"kernel_prerm", "", nil, func(e *testEnv) {
			e.run("install", "foo/1.0", "-k", fk)
		}, []step{
			{[]string{"kernel_prerm", "-k", fk}, 0, "Module foo/1.0 for kernel 6.1.0-test (x86_64):\n" +
				"Before uninstall, this module version was ACTIVE on this kernel.\n" +
				"Deleting <root>/lib/modules/6.1.0-test/updates/dkms/foo.ko\n\nRunning depmod... done.\n",
				"dkms: removing module foo/1.0 for kernel 6.1.0-test (x86_64)\n"},
			{[]string{"status"}, 0, "foo/1.0: added\n", ""},
		}, func(t *testing.T, e *testEnv) {
			if _, err := os.Stat(e.dkms + "/foo/kernel-" + fk + "-x86_64"); !os.IsNotExist(err) {
				t.Errorf("kernel link left behind")
			}
		}},
		// §6.8: kernel_prerm finds a broken module by its built directory
		// and kernel link; its uninstall fails in the conf read.
		{"kernel_prerm broken module", "", nil, func(e *testEnv) {
			e.run("install", "foo/1.0", "-k", fk)
			os.RemoveAll(e.src + "/foo-1.0")
		}, []step{
			{[]string{"kernel_prerm", "-k", fk}, 14, "Module foo/1.0 for kernel 6.1.0-test (x86_64):\n\n",
				"dkms: removing module foo/1.0 for kernel 6.1.0-test (x86_64)\n" +
					"\nError! Could not locate dkms.conf file.\nFile: <root>/var/lib/dkms/foo/1.0/source/dkms.conf does not exist.\n" +
					"\nError! dkms kernel_prerm for kernel 6.1.0-test (x86_64) failed for module(s) foo/1.0(4).\n"},
		}, func(t *testing.T, e *testEnv) {
			if _, err := os.Stat(e.inst + "/" + fk + "/updates/dkms/foo.ko"); err != nil {
				t.Errorf("the installed module must stay: %v", err)
			}
		}},
		{"compression follows the kernel", "", nil, func(e *testEnv) {
			e.write("/lib/modules/"+fk+"/kernel/fs/other.ko.xz", "x")
		}, []step{
			{[]string{"install", "foo/1.0", "-k", fk}, 0, built + "Installing <root>/lib/modules/6.1.0-test/updates/dkms/foo.ko.xz\nRunning depmod... done.\n", ""},
			{[]string{"uninstall", "foo/1.0", "-k", fk}, 0, "Module foo/1.0 for kernel 6.1.0-test (x86_64):\n" +
				"Before uninstall, this module version was ACTIVE on this kernel.\n" +
				"Deleting <root>/lib/modules/6.1.0-test/updates/dkms/foo.ko.xz\nRunning depmod... done.\n", ""},
		}, func(t *testing.T, e *testEnv) {
			if _, err := os.Stat(e.dkms + "/foo/1.0/" + fk + "/x86_64/module/foo.ko.xz"); err != nil {
				t.Errorf("dkms tree must hold foo.ko.xz: %v", err)
			}
		}},
		// §7.3: the suffix is never cleared in the main context (6.3.0-test
		// has plain modules), but each pair's kernel is still searched, and
		// its own compressed modules win.
		{"compression suffix per kernel in one uninstall", "", nil, func(e *testEnv) {
			e.fakeKernel("6.2.0-test", "")
			e.fakeKernel("6.3.0-test", "")
			e.write("/lib/modules/"+fk+"/kernel/fs/other.ko.xz", "x")
			e.write("/lib/modules/6.2.0-test/kernel/fs/other.ko.zst", "x")
			e.run("install", "foo/1.0", "-k", fk, "-k", "6.2.0-test", "-k", "6.3.0-test")
		}, []step{
			{[]string{"uninstall", "foo/1.0", "--all"}, 0, "Module foo/1.0 for kernel 6.1.0-test (x86_64):\n" +
				"Before uninstall, this module version was ACTIVE on this kernel.\n" +
				"Deleting <root>/lib/modules/6.1.0-test/updates/dkms/foo.ko.xz\nRunning depmod... done.\n\n" +
				"Module foo/1.0 for kernel 6.2.0-test (x86_64):\n" +
				"Before uninstall, this module version was ACTIVE on this kernel.\n" +
				"Deleting <root>/lib/modules/6.2.0-test/updates/dkms/foo.ko.zst\nRunning depmod... done.\n\n" +
				"Module foo/1.0 for kernel 6.3.0-test (x86_64):\n" +
				"Before uninstall, this module version was ACTIVE on this kernel.\n" +
				"Deleting <root>/lib/modules/6.3.0-test/updates/dkms/foo.ko.zst\nRunning depmod... done.\n", ""},
		}, nil},
		// §6.3 step 6: the built file must be <d>.ko or <d>.ko<ext> for the
		// suffix the kernel has now; a foo.ko.xz built while the kernel had
		// xz modules is missing once it has none.
		{"built with another compression", "", nil, func(e *testEnv) {
			e.write("/lib/modules/"+fk+"/kernel/fs/other.ko.xz", "x")
			e.run("build", "foo/1.0", "-k", fk)
			os.Remove(e.inst + "/" + fk + "/kernel/fs/other.ko.xz")
		}, []step{
			{[]string{"install", "foo/1.0", "-k", fk}, 6, "",
				"\nError! Missing module foo in <root>/var/lib/dkms/foo/1.0/6.1.0-test/x86_64/module\n"},
		}, nil},
		{"kernel_preinst keeps non-autoinstall", "", nil, func(e *testEnv) {
			e.run("install", "foo/1.0", "-k", fk)
		}, []step{
			{[]string{"kernel_preinst", "-k", fk}, 0, "", ""},
			{[]string{"status"}, 0, "foo/1.0, 6.1.0-test, x86_64: installed\n", ""},
		}, nil},
		{"kernel_preinst removes autoinstall", "AUTOINSTALL=yes\n", nil, func(e *testEnv) {
			e.run("install", "foo/1.0", "-k", fk)
		}, []step{
			{[]string{"kernel_preinst", "-k", fk}, 0, "Module foo/1.0 for kernel 6.1.0-test (x86_64):\n" +
				"Before uninstall, this module version was ACTIVE on this kernel.\n" +
				"Deleting <root>/lib/modules/6.1.0-test/updates/dkms/foo.ko\nRunning depmod... done.\n",
				"dkms: removing module foo/1.0 for kernel 6.1.0-test (x86_64)\n"},
		}, nil},
		{"autoinstall disabled", "AUTOINSTALL=yes\n", nil, func(e *testEnv) {
			e.run("add", "foo/1.0")
			e.write("/etc/dkms/no-autoinstall", "")
		}, []step{
			{[]string{"autoinstall", "-k", fk}, 0, "Automatic installation of modules has been disabled.\n", ""},
		}, nil},
		{"autoinstall fake", "AUTOINSTALL=yes\n", nil, func(e *testEnv) {
			e.run("add", "foo/1.0")
		}, []step{
			{[]string{"autoinstall", "-k", fk}, 0, noSign + "Autoinstall of module foo/1.0 for kernel 6.1.0-test (x86_64)\nBuilding module(s)... done.\n" +
				"Installing <root>/lib/modules/6.1.0-test/updates/dkms/foo.ko\nRunning depmod... done.\n\n" +
				"Autoinstall on 6.1.0-test succeeded for module(s) foo.\n", ""},
			{[]string{"autoinstall", "-k", fk}, 0, "", ""},
			{[]string{"kernel_postinst", "-k", fk}, 0, "", ""},
		}, nil},
		{"duplicates caught on a cached strict read", "", nil, func(e *testEnv) {
			e.run("install", "foo/1.0", "-k", fk)
			conf, _ := os.ReadFile(e.src + "/foo-1.0/dkms.conf")
			e.write("/usr/src/foo-1.0/dkms.conf", string(conf)+"BUILT_MODULE_NAME[1]=foo\nDEST_MODULE_LOCATION[1]=/kernel/drivers\n")
		}, []step{
			{[]string{"install", "foo/1.0", "-k", fk, "--force"}, 8, "Module foo/1.0 for kernel 6.1.0-test (x86_64):\n" +
				"Before uninstall, this module version was ACTIVE on this kernel.\n" +
				"Deleting <root>/lib/modules/6.1.0-test/updates/dkms/foo.ko\n" +
				"Module foo.ko was not found within <root>/lib/modules/6.1.0-test/\nRunning depmod... done.\n\n",
				"dkms.conf: Error! Duplicate module 'foo' in 'BUILT_MODULE_NAME[1]'.\ndkms.conf: Error! Duplicate module 'foo' in 'DEST_MODULE_NAME[1]'.\n" +
					"\nError! Bad conf file.\nFile:  does not represent a valid dkms.conf file.\n"},
		}, nil},
		// §6.1 step 7: ln -s into an existing source directory makes the link
		// inside it; over a dangling link it fails and the add carries on.
		{"add over a source directory", "", nil, func(e *testEnv) {
			e.write("/var/lib/dkms/foo/1.0/source/foo.ko", "binary\n")
		}, []step{
			{[]string{"add", "foo/1.0"}, 0, "Creating symlink <root>/var/lib/dkms/foo/1.0/source -> <root>/usr/src/foo-1.0\n", ""},
		}, func(t *testing.T, e *testEnv) {
			if l, err := os.Readlink(e.dkms + "/foo/1.0/source/foo-1.0"); err != nil || l != e.src+"/foo-1.0" {
				t.Errorf("link inside source/: %q %v", l, err)
			}
		}},
		{"add over a dangling link", "", nil, func(e *testEnv) {
			os.MkdirAll(e.dkms+"/foo/1.0", 0o755)
			os.Symlink("/nonexistent", e.dkms+"/foo/1.0/source")
		}, []step{
			{[]string{"add", "foo/1.0"}, 0, "Creating symlink <root>/var/lib/dkms/foo/1.0/source -> <root>/usr/src/foo-1.0\n",
				"ln: failed to create symbolic link '<root>/var/lib/dkms/foo/1.0/source': File exists\n"},
		}, nil},
		{"add errors", "", nil, nil, []step{
			{[]string{"add", "foo/1.0"}, 0, "Creating symlink <root>/var/lib/dkms/foo/1.0/source -> <root>/usr/src/foo-1.0\n", ""},
			{[]string{"add", "foo/1.0"}, 3, "", "\nError! DKMS tree already contains: foo/1.0\nYou cannot add the same module/version combo more than once.\n"},
			{[]string{"add", "foo/2.0"}, 2, "", "\nError! Could not find module source directory.\nDirectory: <root>/usr/src/foo-2.0 does not exist.\n"},
			{[]string{"add"}, 1, "", "\nError! Arguments <module> and <module-version> are not specified.\nUsage: add <module>/<module-version> or\n       add -m <module>/<module-version> or\n       add -m <module> -v <module-version>\n"},
		}, nil},
	}
	runEnvCases(t, cases)
}

func TestBadConf(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.module("bad", "1.0", "PACKAGE_NAME=bad\nBUILT_MODULE_NAME[0]=bad.ko\nAUTOINSTALL=maybe\n", map[string]string{"Makefile": "all:\n"})
	_, errOut, code := e.run("add", "bad/1.0")
	want := "dkms.conf: Error! No 'PACKAGE_VERSION' directive specified.\n" +
		"dkms.conf: Error! 'BUILT_MODULE_NAME' directive ends in '.o' or '.ko' in record #0.\n" +
		"dkms.conf: Error! 'DEST_MODULE_NAME' directive ends in '.o' or '.ko' in record #0.\n" +
		"dkms.conf: Error! No 'DEST_MODULE_LOCATION' directive specified for record #0.\n" +
		"dkms.conf: Error! Unsupported AUTOINSTALL value 'maybe'\n" +
		"\nError! Bad conf file.\nFile: <root>/usr/src/bad-1.0/dkms.conf does not represent a valid dkms.conf file.\n"
	if code != 8 || errOut != want {
		t.Errorf("exit %d\n%s\nwant\n%s", code, errOut, want)
	}
	e.module("evil", "1.0", "PACKAGE_NAME=evil\nPACKAGE_VERSION=1.0\nrm -rf /tmp/x\n", map[string]string{"Makefile": "all:\n"})
	_, errOut, code = e.run("add", "evil/1.0")
	if code != 8 || !strings.Contains(errOut, "dkms.conf:3: command \"rm\" is not allowed") {
		t.Errorf("sandbox: exit %d\n%s", code, errOut)
	}
}

// TestAddFromPath: a directory or its dkms.conf given as argument is copied
// into the source tree and added (§6.1 add-from-path).
func TestAddFromPath(t *testing.T) {
	t.Parallel()
	for _, arg := range []string{"/dir", "/dir/dkms.conf"} {
		e := newEnv(t)
		e.write("/dir/dkms.conf", "PACKAGE_NAME=baz\nPACKAGE_VERSION=3.0\nBUILT_MODULE_NAME[0]=baz\nDEST_MODULE_LOCATION[0]=/extra\n")
		e.write("/dir/Makefile", "all:\n")
		out, errOut, code := e.run("add", e.root+arg)
		if code != 0 || out != "Creating symlink <root>/var/lib/dkms/baz/3.0/source -> <root>/usr/src/baz-3.0\n" {
			t.Errorf("%s: %d %q %q", arg, code, out, errOut)
		}
		if _, err := os.Stat(e.src + "/baz-3.0/Makefile"); err != nil {
			t.Errorf("%s: source not copied: %v", arg, err)
		}
	}
}

// TestInterruptedInstallRepaired: an install cut short after the module
// file was copied (no kernel link yet, and no pending marker: an earlier
// version's leftover) is finished by the next install, which neither
// refuses our own copy nor archives it as an "original"; one cut short
// before depmod gets depmod on the next autoinstall.
func TestInterruptedInstallRepaired(t *testing.T) {
	t.Parallel()
	e := fakeEnv(t, "AUTOINSTALL=yes\n", nil)
	if _, errOut, code := e.run("build", "foo/1.0", "-k", fk); code != 0 {
		t.Fatal(errOut)
	}
	built, _ := os.ReadFile(e.dkms + "/foo/1.0/" + fk + "/x86_64/module/foo.ko")
	e.write("/lib/modules/"+fk+"/updates/dkms/foo.ko", string(built)) // the copy of the interrupted run
	// A byte-identical copy without the kernel link is our own: the
	// install finishes, without --force, and does not archive it.
	out, errOut, code := e.run("install", "foo/1.0", "-k", fk)
	if code != 0 || strings.Contains(out, "Found pre-existing") || strings.Contains(errOut, "already installed") {
		t.Errorf("own leftover not finished: %d\n%s%s", code, out, errOut)
	}
	if _, err := os.Stat(e.dkms + "/foo/original_module"); !os.IsNotExist(err) {
		t.Errorf("original_module created for our own copy")
	}
	// Installed, but modules.dep is older than the install: depmod is due.
	dep := e.write("/lib/modules/"+fk+"/modules.dep", "")
	old := time.Now().Add(-time.Hour)
	os.Chtimes(dep, old, old)
	out, _, code = e.run("autoinstall", "-k", fk)
	if code != 0 || out != "Running depmod... done.\n" {
		t.Errorf("depmod repair: %d %q", code, out)
	}
	out, _, _ = e.run("autoinstall", "-k", fk)
	if out != "" {
		t.Errorf("second run must do nothing: %q", out)
	}
}

// TestBuildDependsRebuild: installing a new version of a dependency
// rebuilds the modules recorded against the old one (§7.9), in the same
// process, so the kernel preparation is not printed a second time.
func TestBuildDependsRebuild(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.fakeKernel(fk, "")
	conf := func(m, v, extra string) string {
		return "PACKAGE_NAME=" + m + "\nPACKAGE_VERSION=" + v + "\nMAKE[0]=\"make all\"\nDEST_MODULE_LOCATION[0]=/extra\n" + extra
	}
	e.module("dkms_test", "1.0", conf("dkms_test", "1.0", ""), fakeBuildFiles("dkms_test"))
	v2 := fakeBuildFiles("dkms_test")
	v2["Makefile"] = strings.ReplaceAll(v2["Makefile"], "fake module", "fake module v2")
	e.module("dkms_test", "2.0", conf("dkms_test", "2.0", ""), v2)
	dep := "dkms_dependencies_rebuild_test"
	e.module(dep, "1.0", conf(dep, "1.0", "BUILD_DEPENDS[0]=dkms_test\nBUILD_DEPENDS_REBUILD=yes\n"), fakeBuildFiles(dep))
	for _, mv := range []string{"dkms_test/1.0", dep + "/1.0"} {
		if _, errOut, code := e.run("install", mv, "-k", fk); code != 0 {
			t.Fatalf("install %s: %d %s", mv, code, errOut)
		}
	}
	depFile := e.dkms + "/" + dep + "/1.0/" + fk + "/x86_64/.dep_dkms_test"
	if b, err := os.ReadFile(depFile); err != nil || string(b) != "1.0\n" {
		t.Fatalf(".dep_dkms_test = %q %v", b, err)
	}
	runSteps(t, e, []step{
		{[]string{"install", "dkms_test/2.0", "-k", fk}, 0, "Creating symlink <root>/var/lib/dkms/dkms_test/2.0/source -> <root>/usr/src/dkms_test-2.0\n\n" + noSign +
			"Building module(s)... done.\n" +
			"Installing <root>/lib/modules/6.1.0-test/updates/dkms/dkms_test.ko\nRunning depmod... done.\n\n" +
			"Rebuilding module " + dep + "/1.0 due to updated dependencies\n\n" +
			"Module " + dep + "/1.0 for kernel 6.1.0-test (x86_64):\n" +
			"Before uninstall, this module version was ACTIVE on this kernel.\n" +
			"Deleting <root>/lib/modules/6.1.0-test/updates/dkms/" + dep + ".ko\nRunning depmod... done.\n" +
			"Building module(s)... done.\n" +
			"Installing <root>/lib/modules/6.1.0-test/updates/dkms/" + dep + ".ko\nRunning depmod... done.\n",
			modinfoErr("dkms_test", 2)},
	})
	if b, err := os.ReadFile(depFile); err != nil || string(b) != "2.0\n" {
		t.Errorf(".dep_dkms_test after the rebuild = %q %v", b, err)
	}
}

// TestCompressionFailure: when the compressor fails, its own messages
// reach the terminal, as the command runs unredirected, and the plain
// module is stored (spec 7.3).
func TestCompressionFailure(t *testing.T) {
	t.Parallel()
	testenv.RequireTools(t, "xz")
	e := fakeEnv(t, "", nil)
	e.write("/etc/dkms/framework.conf", "compress_xz_opts=\"--bogus-option\"\n")
	e.write("/lib/modules/"+fk+"/kernel/fs/other.ko.xz", "x")
	out, errOut, code := e.run("build", "foo/1.0", "-k", fk)
	if code != 0 || undot(out) != "Creating symlink <root>/var/lib/dkms/foo/1.0/source -> <root>/usr/src/foo-1.0\n\n"+noSign+"Building module(s)... done.\n" {
		t.Errorf("exit %d\n%s", code, out)
	}
	if !strings.Contains(errOut, "xz: unrecognized option '--bogus-option'") {
		t.Errorf("stderr lacks xz's message:\n%s", errOut)
	}
	if _, err := os.Stat(e.dkms + "/foo/1.0/" + fk + "/x86_64/module/foo.ko"); err != nil {
		t.Errorf("plain module not stored: %v", err)
	}
}

// modinfoErr is what modinfo prints on stderr, n times, for a stand-in module
// that is no ELF file: the version check (§7.5 rule 5) runs modinfo on the
// kernel's copy and on ours and lets its errors through.
func modinfoErr(name string, n int) string {
	return strings.Repeat("modinfo: ERROR: could not get modinfo from '"+name+"': Exec format error\n", n)
}

// TestVerboseDepmodStreams: in verbose mode the output of depmod, a step
// without a log, is shown as it comes (§0.2): its stdout on stdout, its
// stderr on stderr, as upstream's unredirected eval does.
func TestVerboseDepmodStreams(t *testing.T) {
	bin := t.TempDir()
	if err := os.WriteFile(bin+"/depmod", []byte("#!/bin/sh\necho \"depmod out $*\"\necho 'depmod err' >&2\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", bin+":"+os.Getenv("PATH"))
	e := fakeEnv(t, "", nil)
	e.write("/lib/modules/"+fk+"/modules.dep", "kernel/x.ko:\n")
	runSteps(t, e, []step{
		{[]string{"build", "foo/1.0", "-k", fk}, 0,
			"Creating symlink <root>/var/lib/dkms/foo/1.0/source -> <root>/usr/src/foo-1.0\n\n" + noSign + "Building module(s)... done.\n", ""},
		{[]string{"install", "foo/1.0", "-k", fk, "--verbose"}, 0,
			"Installing <root>/lib/modules/" + fk + "/updates/dkms/foo.ko\ndo_depmod " + fk + "\n" +
				"depmod out -b <root> -a " + fk + "\n done.\n", "depmod err\n"},
		{[]string{"uninstall", "foo/1.0", "-k", fk, "--verbose"}, 0,
			"Module foo/1.0 for kernel " + fk + " (x86_64):\nBefore uninstall, this module version was ACTIVE on this kernel.\n" +
				"Deleting <root>/lib/modules/" + fk + "/updates/dkms/foo.ko\ndo_depmod " + fk + "\n" +
				"depmod out -b <root> -a " + fk + "\n done.\n", "depmod err\n"},
	})
}

// TestPostTransactionRereadBesideBrokenFile: the re-read of post_transaction
// with $kernelver set (§3.2, §7.7) keeps the values of the files that
// evaluated when another framework file fails, as the start-up read does.
func TestPostTransactionRereadBesideBrokenFile(t *testing.T) {
	t.Parallel()
	e := fakeEnv(t, "", nil)
	e.write("/etc/dkms/framework.conf", "post_transaction=\"echo transaction for $kernelver\"\n")
	e.write("/etc/dkms/framework.conf.d/broken.conf", "X=$(\n")
	out, errOut, code := e.run("install", "foo/1.0", "-k", fk)
	if code != 0 || !strings.HasSuffix(out, "Executing post-transaction command... done.\n") ||
		!strings.Contains(errOut, "broken.conf") {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	b, _ := os.ReadFile(e.dkms + "/post_transaction.log")
	if !strings.Contains(string(b), "\n# command: echo transaction for "+fk+"\ntransaction for "+fk+"\n") {
		t.Errorf("post_transaction.log:\n%s", b)
	}
}
