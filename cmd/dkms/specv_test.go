package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/dkms-go/dkms/internal/modname"
	"github.com/dkms-go/dkms/internal/testenv"
)

// Tests for the [V] (verified against upstream) statements of spec §0-§6.7
// that no other test checked to the byte: exact streams, exit statuses
// and the files left behind.

const (
	vCreated = "Creating symlink <root>/var/lib/dkms/foo/1.0/source -> <root>/usr/src/foo-1.0\n"
	vBuilt   = vCreated + "\n" + noSign + "Building module(s)... done.\n"
	vAddArgs = "\nError! Arguments <module> and <module-version> are not specified.\nUsage: add <module>/<module-version> or\n" +
		"       add -m <module>/<module-version> or\n       add -m <module> -v <module-version>\n"
	vBroken = "\nError! foo/1.0 is broken!\nMissing the source directory or the symbolic link pointing to it.\nManual intervention is required!\n"
	vNoHdr  = "\nError! Your kernel headers for kernel %s cannot be found at <root>/lib/modules/%s/build or <root>/lib/modules/%s/source.\n" +
		"Please install your distribution's kernel headers package matching %s, or use the --kernelsourcedir option to tell DKMS where it's located.\n"
)

func noHeaders(k string) string { return strings.ReplaceAll(vNoHdr, "%s", k) }

// fooV2 adds source foo/2.0, whose module differs from 1.0's.
func fooV2(e *testEnv) {
	f := fakeBuildFiles("foo")
	f["Makefile"] = strings.ReplaceAll(f["Makefile"], "fake module", "fake module v2")
	e.module("foo", "2.0", "PACKAGE_NAME=foo\nPACKAGE_VERSION=2.0\nBUILT_MODULE_NAME[0]=foo\nDEST_MODULE_LOCATION[0]=/kernel/drivers\nMAKE[0]=\"make all\"\n", f)
}

func exists(p string) bool { _, err := os.Lstat(p); return err == nil }

func TestSpecVerifiedActions(t *testing.T) {
	t.Parallel()
	rmAll := func(p string) func(e *testEnv) { return func(e *testEnv) { os.RemoveAll(e.root + p) } }
	dangling := func(e *testEnv) {
		os.RemoveAll(e.src + "/foo-1.0")
		os.MkdirAll(e.dkms+"/foo/1.0", 0o755)
		os.Symlink("/nonexistent/foo-1.0", e.dkms+"/foo/1.0/source")
	}
	cases := []envCase{
		// §0.2 (spec line 60), §5.1 build/ kept (498), §6.2 step 13 (753-755), failed build shows added (799).
		{"make failure", "MAKE[0]=\"make nosuchtarget\"\n", nil, nil, []step{
			{[]string{"build", "foo/1.0", "-k", fk, "-j", "2"}, 10, vCreated + "\n" + noSign +
				"Building module(s)...(bad exit status: 2)\nFailed command:\nmake -j2 KERNELRELEASE=6.1.0-test nosuchtarget\n",
				"\nError! Bad return status for module build on kernel: 6.1.0-test (x86_64)\nConsult <root>/var/lib/dkms/foo/1.0/build/make.log for more information.\n"},
			{[]string{"status"}, 0, "foo/1.0: added\n", ""},
		}, func(t *testing.T, e *testEnv) {
			b, err := os.ReadFile(e.dkms + "/foo/1.0/build/make.log")
			if err != nil || !strings.Contains(string(b), "\nBuilding module(s)\n# command: make -j2 KERNELRELEASE=6.1.0-test nosuchtarget\n") ||
				!strings.Contains(string(b), "\n# exit code: 2\n") {
				t.Errorf("build/make.log must stay with the failed record: %v\n%s", err, b)
			}
			if !exists(e.dkms+"/foo/1.0/build/fake.c") || exists(e.dkms+"/foo/1.0/"+fk) {
				t.Errorf("a failed build keeps build/ and makes no kernel dir")
			}
		}},
		// §0.2 verbose failure (68): the command line, then "(bad exit status: N)" with no newline.
		{"verbose make failure", "MAKE[0]=\"make nosuchtarget\"\n", nil, nil, []step{
			{[]string{"build", "foo/1.0", "-k", fk, "-j", "2", "--verbose"}, 10, vCreated + "\n" + noSign +
				"make -j2 KERNELRELEASE=6.1.0-test nosuchtarget\n(bad exit status: 2)",
				"\nError! Bad return status for module build on kernel: 6.1.0-test (x86_64)\nConsult <root>/var/lib/dkms/foo/1.0/build/make.log for more information.\n"},
		}, nil},
		// §6.2 step 1 (696), §5.1 build/ deleted and source link target (497, 498).
		{"already built", "", nil, nil, []step{
			{[]string{"build", "foo/1.0", "-k", fk}, 0, vBuilt, ""},
			{[]string{"build", "foo/1.0", "-k", fk}, 0, "Module foo/1.0 already built for kernel 6.1.0-test (x86_64), skip. You may override by specifying --force.\n", ""},
		}, func(t *testing.T, e *testEnv) {
			if l, err := os.Readlink(e.dkms + "/foo/1.0/source"); err != nil || l != e.src+"/foo-1.0" {
				t.Errorf("source link -> %q %v", l, err)
			}
			if exists(e.dkms + "/foo/1.0/build") {
				t.Errorf("build/ must be deleted after a successful build")
			}
			if !exists(e.dkms + "/foo/1.0/" + fk + "/x86_64/log/make.log") {
				t.Errorf("make.log not moved to log/")
			}
		}},
		// §6.0 per-pair isolation (631): the last pair's status is the program's.
		{"last pair fails", "", nil, nil, []step{
			{[]string{"build", "foo/1.0", "-k", fk, "-k", "9.9-nokernel"}, 21, vBuilt, noHeaders("9.9-nokernel")},
		}, nil},
		// §6.0 (614): build/install without a module reach the implicit add.
		{"build without module", "", nil, nil, []step{
			{[]string{"build", "-k", fk}, 1, "", vAddArgs},
			{[]string{"install", "-k", fk}, 1, "", vAddArgs},
		}, nil},
		// §6.0 broken gate (616).
		{"broken gate", "", nil, dangling, []step{
			{[]string{"build", "foo/1.0", "-k", fk}, 4, "", vBroken},
			{[]string{"install", "foo/1.0", "-k", fk}, 4, "", vBroken},
			{[]string{"uninstall", "foo/1.0", "-k", fk}, 4, "", vBroken},
			{[]string{"unbuild", "foo/1.0", "-k", fk}, 4, "", vBroken},
			{[]string{"remove", "foo/1.0", "-k", fk}, 4, "", vBroken},
		}, nil},
		// §6.0 added gate (617) for uninstall and unbuild.
		{"not added gate", "", nil, nil, []step{
			{[]string{"uninstall", "foo/1.0", "-k", fk}, 3, "", "\nError! The module/version combo: foo/1.0 is not located in the DKMS tree.\n"},
			{[]string{"unbuild", "foo/1.0", "-k", fk}, 3, "", "\nError! The module/version combo: foo/1.0 is not located in the DKMS tree.\n"},
		}, nil},
		// §6.1 step 8 (660): POST_ADD's status is add's; the module stays added.
		{"post_add status", "POST_ADD=\"s.sh 7\"\n", map[string]string{"s.sh": "#!/bin/sh\nexit $1\n"}, nil, []step{
			{[]string{"add", "foo/1.0"}, 7, vCreated + "Running the post_add script:\n", ""},
			{[]string{"status"}, 0, "foo/1.0: added\n", ""},
		}, nil},
		{"implicit add ignores post_add status", "POST_ADD=\"s.sh 7\"\n", map[string]string{"s.sh": "#!/bin/sh\nexit $1\n"}, nil, []step{
			{[]string{"build", "foo/1.0", "-k", fk}, 0, vCreated + "Running the post_add script:\n\n" + noSign + "Building module(s)... done.\n", ""},
		}, nil},
		// §6.1 (663): broken state b (version dir, no source link) can be re-added.
		{"re-add broken state b", "", nil, func(e *testEnv) { os.MkdirAll(e.dkms+"/foo/1.0", 0o755) }, []step{
			{[]string{"status"}, 0, "foo/1.0: broken\n", "\nError! foo/1.0: Missing the module source directory or the symbolic link pointing to it.\nManual intervention is required!\n"},
			{[]string{"add", "foo/1.0"}, 0, vCreated, ""},
			{[]string{"status"}, 0, "foo/1.0: added\n", ""},
		}, nil},
		// §4.2 (354): DIRECTIVE lines on stdout; §4.1 (329): the conf's stdout is discarded, its stderr shown.
		{"directive and conf output", "echo conf-stdout\necho conf-stderr >&2\n", nil, nil, []step{
			{[]string{"add", "foo/1.0", "--directive", "FOO=bar=baz", "--directive=POST_ADD="}, 0,
				"DIRECTIVE: FOO=\"bar=baz\"\nDIRECTIVE: POST_ADD=\"\"\n" + vCreated, "conf-stderr\n"},
		}, nil},
		// §4.5 (428): deprecation notices name the file of the chain just evaluated, in the listed order.
		{"deprecation notices", "MODULES_CONF_ALIAS_TYPE[0]=x\nREMAKE_INITRD=no\nCLEAN=\"make clean\"\n", nil, func(e *testEnv) {
			e.write("/etc/dkms/foo-1.0.conf", "CLEAN=true\nunset REMAKE_INITRD MODULES_CONF_ALIAS_TYPE\nMODULES_CONF_OBSOLETE_ONLY=1\n")
		}, []step{
			{[]string{"add", "foo/1.0"}, 0, vCreated,
				"Deprecated feature: CLEAN (<root>/usr/src/foo-1.0/dkms.conf)\n" +
					"Deprecated feature: REMAKE_INITRD (<root>/usr/src/foo-1.0/dkms.conf)\n" +
					"Deprecated feature: MODULES_CONF_ALIAS_TYPE (<root>/usr/src/foo-1.0/dkms.conf)\n" +
					// A file cannot unset what an earlier one set (§3.1), so it is reported again.
					"Deprecated feature: REMAKE_INITRD (<root>/etc/dkms/foo-1.0.conf)\n" +
					"Deprecated feature: MODULES_CONF_ALIAS_TYPE (<root>/etc/dkms/foo-1.0.conf)\n" +
					"Deprecated feature: MODULES_CONF_OBSOLETE_ONLY (<root>/etc/dkms/foo-1.0.conf)\n"},
		}, nil},
		// §6.3 step 2 (811): an implicit build's failure is the install's status.
		{"install of excluded module", "BUILD_EXCLUSIVE_ARCH=\"^arm\"\n", nil, nil, []step{
			{[]string{"install", "foo/1.0", "-k", fk}, 77, vCreated + "\n",
				"Warning: The <root>/var/lib/dkms/foo/1.0/6.1.0-test/x86_64/dkms.conf\nfor module foo/1.0 includes BUILD_EXCLUSIVE directives\n" +
					"which do not match this kernel/arch/config for any modules.\nThis indicates that it should not be built.\n"},
		}, nil},
		{"install without headers", "", nil, rmAll("/lib/modules/" + fk + "/build/include"), []step{
			{[]string{"install", "foo/1.0", "-k", fk}, 21, vCreated + "\n", noHeaders(fk)},
		}, nil},
		{"install without source", "", nil, rmAll("/usr/src/foo-1.0"), []step{
			{[]string{"install", "foo/1.0", "-k", fk}, 2, "", "\nError! Could not find module source directory.\nDirectory: <root>/usr/src/foo-1.0 does not exist.\n"},
		}, nil},
		// §6.3 step 3 (815).
		{"forced-install list", "", nil, func(e *testEnv) {
			e.write("/usr/share/dkms/modules_to_force_install/a", "bar\n  foo_version\n")
			e.write("/usr/share/dkms/modules_to_force_install/b", "baz foo\n")
		}, []step{
			{[]string{"install", "foo/1.0", "-k", fk}, 0, vBuilt + "Forcing installation of foo\n" +
				"Installing <root>/lib/modules/6.1.0-test/updates/dkms/foo.ko\nRunning depmod... done.\n", ""},
		}, nil},
		{"forced version override list", "", nil, func(e *testEnv) {
			e.write("/usr/share/dkms/modules_to_force_install/a", "foo_version-override\n")
		}, []step{
			{[]string{"install", "foo/1.0", "-k", fk}, 0, vBuilt + "Forcing version override of foo\n" +
				"Installing <root>/lib/modules/6.1.0-test/updates/dkms/foo.ko\nRunning depmod... done.\n", ""},
		}, nil},
		// §6.3 step 10.3 (833): symlink_modules installs a link to the dkms-tree file.
		{"symlink modules", "", nil, nil, []step{
			{[]string{"install", "foo/1.0", "-k", fk, "--symlink-modules"}, 0, vBuilt +
				"Installing <root>/lib/modules/6.1.0-test/updates/dkms/foo.ko\nRunning depmod... done.\n", ""},
			{[]string{"status"}, 0, "foo/1.0, 6.1.0-test, x86_64: installed\n", ""},
		}, func(t *testing.T, e *testEnv) {
			l, err := os.Readlink(e.inst + "/" + fk + "/updates/dkms/foo.ko")
			if err != nil || l != e.dkms+"/foo/1.0/"+fk+"/x86_64/module/foo.ko" {
				t.Errorf("installed file -> %q %v", l, err)
			}
		}},
		// §6.3 step 12 (838), §5.1 kernel link (503).
		{"another version supersedes", "", nil, fooV2, []step{
			{[]string{"install", "foo/1.0", "-k", fk}, 0, vBuilt + "Installing <root>/lib/modules/6.1.0-test/updates/dkms/foo.ko\nRunning depmod... done.\n", ""},
			{[]string{"install", "foo/2.0", "-k", fk, "--force-version-override"}, 0,
				"Creating symlink <root>/var/lib/dkms/foo/2.0/source -> <root>/usr/src/foo-2.0\n\n" + noSign + "Building module(s)... done.\n" +
					"Installing <root>/lib/modules/6.1.0-test/updates/dkms/foo.ko\nRunning depmod... done.\n", ""},
			{[]string{"status"}, 0, "foo/1.0, 6.1.0-test, x86_64: built\nfoo/2.0, 6.1.0-test, x86_64: installed\n", ""},
		}, func(t *testing.T, e *testEnv) {
			if l, _ := os.Readlink(e.dkms + "/foo/kernel-" + fk + "-x86_64"); l != "2.0/"+fk+"/x86_64" {
				t.Errorf("kernel link -> %q", l)
			}
			if b, _ := os.ReadFile(e.inst + "/" + fk + "/updates/dkms/foo.ko"); string(b) != "fake module v2 foo\n" {
				t.Errorf("installed file %q", b)
			}
		}},
		// §5.1 original_module and .origin (504), §6.4 step 6 (875).
		{"original module files", "", nil, func(e *testEnv) {
			e.write("/lib/modules/"+fk+"/kernel/drivers/foo.ko", "in-tree foo\n")
			e.write("/lib/modules/"+fk+"/kernel/other/bar.ko", "x")
		}, []step{
			{[]string{"install", "foo/1.0", "-k", fk}, 0, vBuilt +
				"Found pre-existing <root>/lib/modules/6.1.0-test/kernel/drivers/foo.ko, archiving for uninstallation\n" +
				"Installing <root>/lib/modules/6.1.0-test/updates/dkms/foo.ko\nRunning depmod... done.\n", modinfoErr("foo", 2)},
		}, func(t *testing.T, e *testEnv) {
			bk := e.dkms + "/foo/original_module/" + fk + "/x86_64/"
			b, _ := os.ReadFile(bk + "foo.ko")
			o, _ := os.ReadFile(bk + "foo.ko.origin")
			if string(b) != "in-tree foo\n" || string(o) != e.inst+"/"+fk+"/kernel/drivers/foo.ko\n" {
				t.Errorf("archive %q, origin %q", b, o)
			}
			if l, _ := os.Readlink(e.dkms + "/foo/kernel-" + fk + "-x86_64"); l != "1.0/"+fk+"/x86_64" {
				t.Errorf("kernel link -> %q", l)
			}
			e.write("/var/lib/dkms/foo/original_module/"+fk+"/x86_64/notes.txt", "kept by hand\n")
			runSteps(t, e, []step{{[]string{"uninstall", "foo/1.0", "-k", fk}, 0, "Module foo/1.0 for kernel 6.1.0-test (x86_64):\n" +
				"Before uninstall, this module version was ACTIVE on this kernel.\n" +
				"Deleting <root>/lib/modules/6.1.0-test/updates/dkms/foo.ko\n" +
				"Restoring archived original module <root>/lib/modules/6.1.0-test/kernel/drivers/foo.ko\n" +
				"Running depmod... done.\n" +
				"Removing original module(s) from DKMS tree for kernel 6.1.0-test (x86_64)\n", ""}})
			if exists(e.dkms + "/foo/original_module") {
				t.Errorf("original_module must be deleted")
			}
		}},
		// §2.4 --all order (208): built-only pairs first (version-sorted), then installed ones.
		{"--all order", "", nil, func(e *testEnv) {
			e.run("install", "foo/1.0", "-k", fk)
			for _, k := range []string{"6.10.0-test", "6.9.0-test"} {
				e.run("build", "foo/1.0", "-k", k, "--kernelsourcedir", e.inst+"/"+fk+"/build")
			}
		}, []step{
			{[]string{"unbuild", "foo/1.0", "--all"}, 0, "Module foo/1.0 is not installed for kernel 6.9.0-test (x86_64). Skipping...\n\n" +
				"Module foo/1.0 is not installed for kernel 6.10.0-test (x86_64). Skipping...\n\n" +
				"Module foo/1.0 for kernel 6.1.0-test (x86_64):\nBefore uninstall, this module version was ACTIVE on this kernel.\n" +
				"Deleting <root>/lib/modules/6.1.0-test/updates/dkms/foo.ko\nRunning depmod... done.\n", ""},
			{[]string{"status"}, 0, "foo/1.0: added\n", ""},
		}, nil},
		// §6.6 example (915), tarball/ deleted too (905).
		{"remove --all", "", nil, func(e *testEnv) {
			e.run("build", "foo/1.0", "-k", fk)
			e.run("build", "foo/1.0", "-k", "6.2.0-test", "--kernelsourcedir", e.inst+"/"+fk+"/build")
			e.write("/var/lib/dkms/foo/1.0/tarball/foo.tar.gz", "x")
		}, []step{
			{[]string{"remove", "foo/1.0", "--all"}, 0, "Module foo/1.0 is not installed for kernel 6.1.0-test (x86_64). Skipping...\n\n" +
				"Module foo/1.0 is not installed for kernel 6.2.0-test (x86_64). Skipping...\n\n" +
				"Deleting module foo/1.0 completely from the DKMS tree.\n", ""},
		}, func(t *testing.T, e *testEnv) {
			if exists(e.dkms + "/foo") {
				t.Errorf("module dir left behind")
			}
		}},
		// §6.6 (911): nothing built, --all: only the "Deleting module" line.
		{"remove --all nothing built", "", nil, func(e *testEnv) { e.run("add", "foo/1.0") }, []step{
			{[]string{"remove", "foo/1.0", "--all"}, 0, "Deleting module foo/1.0 completely from the DKMS tree.\n", ""},
		}, nil},
		// §6.6 (912): a leftover <k>/<a> without module/ blocks complete deletion.
		{"remove blocked by leftover", "", nil, func(e *testEnv) {
			e.run("build", "foo/1.0", "-k", fk)
			os.MkdirAll(e.dkms+"/foo/1.0/6.2.0-test/x86_64/log", 0o755)
		}, []step{
			{[]string{"remove", "foo/1.0", "--all"}, 0, "Module foo/1.0 is not installed for kernel 6.1.0-test (x86_64). Skipping...\n\n", ""},
			{[]string{"status"}, 0, "foo/1.0: added\n", ""},
		}, func(t *testing.T, e *testEnv) {
			if !exists(e.dkms+"/foo/1.0/6.2.0-test/x86_64/log") || exists(e.dkms+"/foo/1.0/"+fk) {
				t.Errorf("want only the leftover kept")
			}
		}},
		// §6.2 step 19 (780): a failing POST_BUILD leaves the pair built with build/ and its make.log.
		{"failing post_build keeps build/", "POST_BUILD=\"post.sh 3\"\n", map[string]string{"post.sh": "#!/bin/sh\nexit $1\n"}, nil, []step{
			{[]string{"build", "foo/1.0", "-k", fk}, 3, vBuilt + "Running the post_build script...(bad exit status: 3)\nFailed command:\n" +
				"cd <root>/var/lib/dkms/foo/1.0/build/ && <root>/var/lib/dkms/foo/1.0/build/post.sh 3\n" +
				"Consult <root>/var/lib/dkms/foo/1.0/build/make.log for more information.\n", ""},
		}, func(t *testing.T, e *testEnv) {
			if !exists(e.dkms+"/foo/1.0/build/make.log") || exists(e.dkms+"/foo/1.0/"+fk+"/x86_64/log/make.log") {
				t.Errorf("make.log must stay in build/")
			}
		}},
		// §4.7 (461): the default make command, shown by --verbose (the fake
		// kernel has no Makefile, so make fails).
		{"default make command", "unset 'MAKE[0]'\n", nil, nil, []step{
			{[]string{"build", "foo/1.0", "-k", fk, "-j", "3", "--verbose"}, 10, vCreated + "\n" + noSign +
				"make -j3 KERNELRELEASE=6.1.0-test -C <root>/lib/modules/6.1.0-test/build M=<root>/var/lib/dkms/foo/1.0/build\n(bad exit status: 2)",
				"\nError! Bad return status for module build on kernel: 6.1.0-test (x86_64)\nConsult <root>/var/lib/dkms/foo/1.0/build/make.log for more information.\n"},
		}, nil},
		// §5.4 (553): an installed file that cannot be found counts as different.
		{"installed file missing", "", nil, func(e *testEnv) {
			e.run("install", "foo/1.0", "-k", fk)
			os.Remove(e.inst + "/" + fk + "/updates/dkms/foo.ko")
		}, []step{
			{[]string{"status"}, 0, "foo/1.0, 6.1.0-test, x86_64: installed (Differences between built and installed modules)\n", ""},
		}, nil},
		// §6.7 step 2 (932) and step 5 (951).
		{"autoinstall broken entry", "AUTOINSTALL=yes\n", nil, func(e *testEnv) {
			e.run("add", "foo/1.0")
			os.MkdirAll(e.dkms+"/bar/1.0", 0o755)
			os.Symlink("/nonexistent/bar-1.0", e.dkms+"/bar/1.0/source")
		}, []step{
			{[]string{"autoinstall", "-k", fk}, 0, noSign + "Autoinstall of module foo/1.0 for kernel 6.1.0-test (x86_64)\nBuilding module(s)... done.\n" +
				"Installing <root>/lib/modules/6.1.0-test/updates/dkms/foo.ko\nRunning depmod... done.\n\n" +
				"Autoinstall on 6.1.0-test succeeded for module(s) foo.\n",
				"\nError! bar/1.0 is broken! Missing the source directory or the symbolic link pointing to it.\nManual intervention is required!\n"},
		}, nil},
		{"autoinstall without headers", "AUTOINSTALL=yes\n", nil, func(e *testEnv) {
			e.run("add", "foo/1.0")
			os.RemoveAll(e.inst + "/" + fk + "/build/include")
		}, []step{
			{[]string{"autoinstall", "-k", fk}, 21, "", noHeaders(fk)},
		}, nil},
	}
	runEnvCases(t, cases)
}

// usageText is §2.6 for program path /usr/sbin/dkms.
const usageText = `Usage: /usr/sbin/dkms [action] [options]
  [action]  = { add | remove | build | unbuild | install | uninstall | match |
               autoinstall | mktarball | ldtarball | status | generate_mok |
               kernel_preinst | kernel_postinst | kernel_prerm }
  [options] = [-m module] [-v module-version] [-k kernel-version] [-a arch]
              [-c dkms.conf-location] [-q] [--force] [--force-version-override] [--all]
              [--templatekernel=kernel] [--directive='cli-directive=cli-value']
              [--config=kernel-include/config/auto.conf-location] [--archive=tarball-location]
              [--kernelsourcedir=source-location] [--rpm_safe_upgrade]
              [--dkmstree path] [--sourcetree path] [--installtree path]
              [--binaries-only] [--source-only] [--verbose]
              [--no-depmod] [--modprobe-on-install] [-j number] [--version] [--help]
`

// TestSpecVerifiedCommandLine: §2.1 (spec lines 154, 169) and §2.2 (183),
// streams and texts in full.
func TestSpecVerifiedCommandLine(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	var steps []step
	for _, bad := range []string{"-m=x", "-k=x", "-c=x", "-j4"} {
		steps = append(steps, step{[]string{"status", bad}, 2, usageText, "\nError! Unknown option: " + bad + "\n"})
	}
	steps = append(steps,
		step{[]string{"--help"}, 0, usageText, ""},
		// §2.3 row 6 (198): checked before the kernel default is applied.
		step{[]string{"kernel_postinst"}, 4, "", "\nError! The action kernel_postinst requires exactly one kernel version parameter on the command line.\n"},
		step{[]string{"kernel_preinst", "-k", "a", "-k", "b"}, 4, "", "\nError! The action kernel_preinst requires exactly one kernel version parameter on the command line.\n"},
		step{[]string{"kernel_prerm", "--all"}, 5, "", "\nError! The action kernel_prerm does not support the --all parameter.\n"},
		// §6.0 (621, 622, 626).
		step{[]string{"install", "foo/1.0", "--all"}, 5, "", "\nError! The action install does not support the --all parameter.\n"},
		step{[]string{"autoinstall", "-k", "a", "-k", "b"}, 4, "", "\nError! The action autoinstall does not support multiple kernel version parameters on the command line.\n"},
		step{[]string{"-k", fk}, 0, usageText, "\nError! Unknown action specified: \"\"\n"},
		step{[]string{"status"}, 0, "", ""},
		// Module "", version "nonexistent-dkms-dir/y": add finds no module.
		step{[]string{"add", "/nonexistent-dkms-dir/y"}, 1, "", vAddArgs},
		// The version is all after the first "/": foo/1.0/6.1 is version
		// 1.0/6.1, which upstream looks for as <root>/usr/src/foo-1.0/6.1
		// (die 2); ours refuses it as a path part (docs/COMPATIBILITY.md).
		step{[]string{"add", "foo/1.0/6.1"}, 1, "", "\nError! Invalid module version \"1.0/6.1\" on the command line: it contains '/'.\n" + modname.Rule + "\n"},
	)
	runSteps(t, e, steps)
}

// TestSpecVerifiedZeroModules: §4.5 (430) the warning comes on every strict
// read, cached ones too; §6.3 step 11 (835) a conf without records installs
// nothing and succeeds.
func TestSpecVerifiedZeroModules(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.fakeKernel(fk, "")
	e.module("foo", "1.0", "PACKAGE_NAME=foo\nPACKAGE_VERSION=1.0\nMAKE[0]=\"make all\"\n", fakeBuildFiles("foo"))
	const warn = "dkms.conf: Warning! Zero modules specified.\n"
	runSteps(t, e, []step{
		{[]string{"add", "foo/1.0"}, 0, vCreated, warn},
		{[]string{"install", "foo/1.0", "-k", fk}, 0, noSign + "Building module(s)... done.\nRunning depmod... done.\n", warn + warn},
		{[]string{"status"}, 0, "foo/1.0, 6.1.0-test, x86_64: installed\n", ""},
	})
}

// TestSpecVerifiedAddFromPath: §6.1 add-from-path (spec lines 673-684).
func TestSpecVerifiedAddFromPath(t *testing.T) {
	t.Parallel()
	const bazConf = "PACKAGE_NAME=baz\nPACKAGE_VERSION=3.0\nBUILT_MODULE_NAME[0]=baz\nDEST_MODULE_LOCATION[0]=/extra\n"
	const bazCreated = "Creating symlink <root>/var/lib/dkms/baz/3.0/source -> <root>/usr/src/baz-3.0\n"
	t.Run("bad conf names the resolved path", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t)
		e.write("/dir/dkms.conf", "PACKAGE_NAME=baz\nPACKAGE_VERSION=3.0\nBUILT_MODULE_NAME[0]=baz\n")
		os.MkdirAll(e.root+"/other", 0o755)
		runSteps(t, e, []step{{[]string{"add", e.root + "/other/../dir"}, 8, "",
			"dkms.conf: Error! No 'DEST_MODULE_LOCATION' directive specified for record #0.\n" +
				"\nError! Bad conf file.\nFile: <root>/dir/dkms.conf does not represent a valid dkms.conf file.\n"}})
	})
	t.Run("force replaces the source copy", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t)
		e.write("/dir/dkms.conf", bazConf)
		e.write("/dir/Makefile", "all:\n")
		e.write("/usr/src/baz-3.0/stale.c", "old\n")
		runSteps(t, e, []step{{[]string{"add", e.root + "/dir", "--force"}, 0, "Forcing install of baz/3.0\n" + bazCreated, "\n"}})
		if exists(e.src+"/baz-3.0/stale.c") || !exists(e.src+"/baz-3.0/Makefile") {
			t.Errorf("the old source directory must be replaced by the copy")
		}
	})
	t.Run("force on the source directory itself", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t)
		e.module("baz", "3.0", bazConf, map[string]string{"Makefile": "all:\n"})
		runSteps(t, e, []step{{[]string{"add", e.src + "/baz-3.0", "--force"}, 2, "Forcing install of baz/3.0\n",
			"\n\nError! Could not find module source directory.\nDirectory: <root>/usr/src/baz-3.0 does not exist.\n"}})
		if exists(e.src + "/baz-3.0") {
			t.Errorf("the source directory is deleted (hazard reproduced)")
		}
	})
	t.Run("re-add refreshes then dies 3", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t)
		e.write("/dir/dkms.conf", bazConf)
		e.write("/dir/Makefile", "all:\n")
		runSteps(t, e, []step{{[]string{"add", e.root + "/dir"}, 0, bazCreated, ""}})
		e.write("/dir/new.c", "new\n")
		runSteps(t, e, []step{{[]string{"add", e.root + "/dir"}, 3, "",
			"\nError! DKMS tree already contains: baz/3.0\nYou cannot add the same module/version combo more than once.\n"}})
		if !exists(e.src + "/baz-3.0/new.c") {
			t.Errorf("the copy must be refreshed before the add fails")
		}
	})
}

// TestSpecVerifiedAddBinariesOnly: §6.1 step 1 (spec line 643): add of a
// binaries-only archive without installed source loads the binaries and
// then dies 2 at step 5.
func TestSpecVerifiedAddBinariesOnly(t *testing.T) {
	t.Parallel()
	testenv.RequireRoot(t)
	testenv.RequireTools(t, "make")
	a := fakeTree(t, true, tarK1)
	if out, errOut, code := a.run("mktarball", "foo/1.0", "-k", tarK1, "--binaries-only"); code != 0 {
		t.Fatalf("mktarball: %d\n%s\n%s", code, out, errOut)
	}
	archive := a.dkms + "/foo/1.0/tarball/foo-1.0-kernel" + tarK1 + "-x86_64.dkms.tar.gz"
	c := emptyTree(t, tarK1)
	runSteps(t, c, []step{
		{[]string{"add", "--archive=" + archive}, 2,
			"\nLoading tarball for foo/1.0\nCreating <root>/var/lib/dkms/foo/1.0/source\n" +
				"Copying dkms.conf to <root>/var/lib/dkms/foo/1.0/source ...\nLoading <root>/var/lib/dkms/foo/1.0/" + tarK1 + "/x86_64...\n",
			"\nError! Could not find module source directory.\nDirectory: <root>/usr/src/foo-1.0 does not exist.\n"},
	})
	if !exists(c.dkms + "/foo/1.0/" + tarK1 + "/x86_64/module/foo.ko") {
		t.Errorf("the binaries must be loaded before the add fails")
	}
}

// runAsNobody runs the dkms binary against e's trees as uid/gid 65534.
func runAsNobody(t *testing.T, e *testEnv, args ...string) (string, string, int) {
	t.Helper()
	bin := testenv.Binary(t, ".", "dkms")
	// Let the user through the private temp directories to the root and the binary.
	for _, d := range []string{filepath.Dir(bin), filepath.Dir(e.root), e.root} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(e.root+"/tmp", 0o1777); err != nil {
		t.Fatal(err)
	}
	full := append(append([]string{}, args...), "--dkmstree", e.dkms, "--sourcetree", e.src, "--installtree", e.inst)
	cmd := exec.Command(bin, full...)
	cmd.Dir = e.root
	cmd.Env = append(testenv.CleanEnv(), "DKMS_SYSROOT="+e.root, "TMPDIR="+e.root+"/tmp")
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	code := 0
	if err := cmd.Run(); err != nil {
		ee, ok := err.(*exec.ExitError)
		if !ok {
			t.Fatal(err)
		}
		code = ee.ExitCode()
	}
	return e.norm(out.String()), e.norm(errb.String()), code
}

// TestSpecVerifiedNonRootGates: §6.0 gate messages for a user other than
// root (spec lines 561, 618, 620, 623).
func TestSpecVerifiedNonRootGates(t *testing.T) {
	t.Parallel()
	testenv.RequireRoot(t)
	e := fakeEnv(t, "", nil)
	if _, errOut, code := e.run("build", "foo/1.0", "-k", fk); code != 0 {
		t.Fatal(errOut)
	}
	const root = "\nError! You must be root to use this command.\n"
	const noWrite = "\nError! No write access to DKMS tree at <root>/var/lib/dkms\n"
	cases := []struct {
		args           []string
		code           int
		stdout, stderr string
	}{
		{[]string{"install", "foo/1.0", "-k", fk}, 1, "", root},
		{[]string{"uninstall", "foo/1.0", "-k", fk}, 1, "", root},
		{[]string{"autoinstall", "-k", fk}, 1, "", root},
		{[]string{"kernel_postinst", "-k", fk}, 1, "", root},
		{[]string{"add", "foo/1.0"}, 1, "", noWrite},
		{[]string{"build", "foo/1.0", "-k", fk}, 1, "", noWrite},
		{[]string{"unbuild", "foo/1.0", "-k", fk}, 1, "", noWrite},
		{[]string{"remove", "foo/1.0", "-k", fk}, 1, "", noWrite},
		{[]string{"ldtarball", "/nonexistent.tar.gz", "--force"}, 1, "", "\nError! You must be root to use this command with the --force option.\n"},
		{[]string{"status"}, 0, "foo/1.0, 6.1.0-test, x86_64: built\n", ""},
	}
	for _, c := range cases {
		out, errOut, code := runAsNobody(t, e, c.args...)
		if code != c.code || out != c.stdout || errOut != c.stderr {
			t.Errorf("%v: exit %d (want %d)\nstdout:\n%s\nwant:\n%s\nstderr:\n%s\nwant:\n%s", c.args, code, c.code, out, c.stdout, errOut, c.stderr)
		}
	}
}

// TestSpecVerifiedConfReads: §4.1 (spec line 329) no $kernelver_array, dkms
// variables visible, stderr shown once; §4.2 (354) DIRECTIVE printed on
// non-cached reads only: add, build and install of one run read the same
// file for the same pair, so only the first read is evaluated.
func TestSpecVerifiedConfReads(t *testing.T) {
	t.Parallel()
	e := fakeEnv(t, "echo \"kva=${kernelver_array[0]} k=$kernelver a=$arch m=$module v=$module_version ksd=$kernel_source_dir\" >&2\n", nil)
	runSteps(t, e, []step{{[]string{"install", "foo/1.0", "-k", fk, "--directive", "FOO=1"}, 0,
		"DIRECTIVE: FOO=\"1\"\n" + vBuilt + "Installing <root>/lib/modules/6.1.0-test/updates/dkms/foo.ko\nRunning depmod... done.\n",
		"kva= k=6.1.0-test a=x86_64 m=foo v=1.0 ksd=<root>/lib/modules/6.1.0-test/build\n"}})
}

// TestSpecVerifiedSourceLinkAsGiven: §5.1 (spec line 497) and §6.1 step 7
// (655): the source link's target is <source_tree>/<m>-<v> exactly as
// the tree was given, not canonicalised.
func TestSpecVerifiedSourceLinkAsGiven(t *testing.T) {
	t.Parallel()
	e := fakeEnv(t, "", nil)
	if err := os.Symlink(e.src, e.root+"/srclink"); err != nil {
		t.Fatal(err)
	}
	args := []string{"/usr/sbin/dkms", "add", "foo/1.0", "--dkmstree", e.dkms, "--sourcetree", e.root + "/srclink/", "--installtree", e.inst}
	var out, errb bytes.Buffer
	code := runWithRoot(context.Background(), args, append(testenv.CleanEnv(), "DKMS_SYSROOT="+e.root, "TMPDIR="+e.root+"/tmp"), &out, &errb, e.root)
	if code != 0 || e.norm(out.String()) != "Creating symlink <root>/var/lib/dkms/foo/1.0/source -> <root>/srclink//foo-1.0\n" || errb.Len() != 0 {
		t.Errorf("add: %d %q %q", code, out.String(), errb.String())
	}
	if l, err := os.Readlink(e.dkms + "/foo/1.0/source"); err != nil || l != e.root+"/srclink//foo-1.0" {
		t.Errorf("source link -> %q %v", l, err)
	}
}
