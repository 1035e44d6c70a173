package main

import (
	"os"
	"strings"
	"testing"
)

const fk = "6.1.0-test"

// fakeEnv: a fake kernel with headers and a module foo/1.0 whose build
// makes foo.ko without a compiler.
func fakeEnv(t *testing.T, extraConf string, files map[string]string) *testEnv {
	t.Helper()
	e := newEnv(t)
	e.fakeKernel(fk, "")
	f := fakeBuildFiles("foo")
	for k, v := range files {
		f[k] = v
	}
	e.module("foo", "1.0", "PACKAGE_NAME=foo\nPACKAGE_VERSION=1.0\nBUILT_MODULE_NAME[0]=foo\nDEST_MODULE_LOCATION[0]=/kernel/drivers\nMAKE[0]=\"make all\"\n"+extraConf, f)
	return e
}

const noSign = "Kernel config <root>/lib/modules/" + fk + "/build/.config not found, modules won't be signed\n\n"

type step struct {
	args           []string
	code           int
	stdout, stderr string
}

func runSteps(t *testing.T, e *testEnv, steps []step) {
	t.Helper()
	for i, s := range steps {
		out, errOut, code := e.run(s.args...)
		out = undot(out)
		if code != s.code || out != s.stdout || errOut != s.stderr {
			t.Errorf("step %d %v: exit %d (want %d)\nstdout:\n%s\nwant:\n%s\nstderr:\n%s\nwant:\n%s",
				i, s.args, code, s.code, out, s.stdout, errOut, s.stderr)
		}
	}
}

// envCase is a row of the fakeEnv tables: the module foo/1.0 with extra
// conf lines and files, an optional setup, the steps, an optional check.
type envCase struct {
	name  string
	conf  string
	files map[string]string
	setup func(e *testEnv)
	steps []step
	check func(t *testing.T, e *testEnv)
}

// runEnvCases runs each row in a fresh fakeEnv, in parallel.
func runEnvCases(t *testing.T, cases []envCase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			e := fakeEnv(t, c.conf, c.files)
			if c.setup != nil {
				c.setup(e)
			}
			runSteps(t, e, c.steps)
			if c.check != nil {
				c.check(t, e)
			}
		})
	}
}

// TestBuildPaths: the build's outcomes one row each. The build errors of
// testdata/script/build_errors.txtar and build_failures.txtar (patch, make,
// BUILD_DEPENDS, module name, leftover directory, BUILD_EXCLUSIVE) are
// there as readable scripts instead of rows here.
func TestBuildPaths(t *testing.T) {
	t.Parallel()
	patch := "--- a/fake.c\n+++ b/fake.c\n@@ -1 +1 @@\n-/* stand-in */\n+/* patched */\n"
	cases := []envCase{
		{"patches and scripts", "PATCH[0]=p2.patch\nPATCH[1]=p1.patch\nPATCH_MATCH[1]=^6\nPATCH[2]=never.patch\nPATCH_MATCH[2]=^2\\.4\nPRE_BUILD=pre.sh\nPOST_BUILD=\"post.sh arg\"\n",
			map[string]string{"patches/p2.patch": patch, "patches/p1.patch": strings.ReplaceAll(strings.ReplaceAll(patch, "-/* stand-in */", "-/* patched */"), "+/* patched */", "+/* twice */"),
				"pre.sh": "#!/bin/sh\necho pre\n", "post.sh": "#!/bin/sh\necho post \"$1\"\n"}, nil,
			[]step{{[]string{"build", "foo/1.0", "-k", fk}, 0, "Creating symlink <root>/var/lib/dkms/foo/1.0/source -> <root>/usr/src/foo-1.0\n\n" + noSign +
				"Applying patch p2.patch... done.\nApplying patch p1.patch... done.\nRunning the pre_build script... done.\nBuilding module(s)... done.\nRunning the post_build script... done.\n", ""}}, nil},
		{"failing post_build", "POST_BUILD=\"post.sh 3\"\n", map[string]string{"post.sh": "#!/bin/sh\nexit $1\n"}, nil,
			[]step{{[]string{"build", "foo/1.0", "-k", fk}, 3, "Creating symlink <root>/var/lib/dkms/foo/1.0/source -> <root>/usr/src/foo-1.0\n\n" + noSign +
				"Building module(s)... done.\nRunning the post_build script...(bad exit status: 3)\nFailed command:\ncd <root>/var/lib/dkms/foo/1.0/build/ && <root>/var/lib/dkms/foo/1.0/build/post.sh 3\n" +
				"Consult <root>/var/lib/dkms/foo/1.0/build/make.log for more information.\n", ""},
				{[]string{"status"}, 0, "foo/1.0, 6.1.0-test, x86_64: built\n", ""}}, nil},
		{"patch with ..", "PATCH[0]=../x.patch\n", nil, nil,
			[]step{{[]string{"build", "foo/1.0", "-k", fk}, 5, "Creating symlink <root>/var/lib/dkms/foo/1.0/source -> <root>/usr/src/foo-1.0\n\n" + noSign,
				"\nError! Patch ../x.patch as specified in dkms.conf contains '..' path component.\n"}}, nil},
		{"missing patch", "PATCH[0]=x.patch\n", nil, nil,
			[]step{{[]string{"build", "foo/1.0", "-k", fk}, 5, "Creating symlink <root>/var/lib/dkms/foo/1.0/source -> <root>/usr/src/foo-1.0\n\n" + noSign,
				"\nError! Patch x.patch as specified in dkms.conf cannot be\nfound in <root>/var/lib/dkms/foo/1.0/build/patches/.\n"}}, nil},
		{"missing headers", "", nil, func(e *testEnv) { os.RemoveAll(e.inst + "/" + fk + "/build/include") },
			[]step{{[]string{"build", "foo/1.0", "-k", fk}, 21, "Creating symlink <root>/var/lib/dkms/foo/1.0/source -> <root>/usr/src/foo-1.0\n\n",
				"\nError! Your kernel headers for kernel 6.1.0-test cannot be found at <root>/lib/modules/6.1.0-test/build or <root>/lib/modules/6.1.0-test/source.\n" +
					"Please install your distribution's kernel headers package matching 6.1.0-test, or use the --kernelsourcedir option to tell DKMS where it's located.\n"}}, nil},
		// Steps 11 and 14 test existence as the shell's -e does: a dangling
		// symlink does not exist.
		{"built module is a dangling link", "", map[string]string{"Makefile": "all:\n\tln -s nowhere foo.ko\n"}, nil,
			[]step{{[]string{"build", "foo/1.0", "-k", fk}, 7, "Creating symlink <root>/var/lib/dkms/foo/1.0/source -> <root>/usr/src/foo-1.0\n\n" + noSign + "Building module(s)... done.\n",
				"\nError! Build of foo.ko failed for: 6.1.0-test (x86_64)\nMake sure the name and location of the generated module are correct,\nor consult <root>/var/lib/dkms/foo/1.0/build/make.log for more information.\n"}}, nil},
		{"patch is a dangling link", "PATCH[0]=x.patch\n", nil, func(e *testEnv) {
			os.MkdirAll(e.src+"/foo-1.0/patches", 0o755)
			os.Symlink("nowhere", e.src+"/foo-1.0/patches/x.patch")
		}, []step{{[]string{"build", "foo/1.0", "-k", fk}, 5, "Creating symlink <root>/var/lib/dkms/foo/1.0/source -> <root>/usr/src/foo-1.0\n\n" + noSign,
			"\nError! Patch x.patch as specified in dkms.conf cannot be\nfound in <root>/var/lib/dkms/foo/1.0/build/patches/.\n"}}, nil},
		{"only dkms.conf", "", nil, func(e *testEnv) {
			os.Remove(e.src + "/foo-1.0/Makefile")
			os.Remove(e.src + "/foo-1.0/fake.c")
		}, []step{{[]string{"build", "foo/1.0", "-k", fk}, 8, "Creating symlink <root>/var/lib/dkms/foo/1.0/source -> <root>/usr/src/foo-1.0\n\n",
			"\nError! The directory <root>/var/lib/dkms/foo/1.0/source does not appear to have module source located within it.\nBuild halted.\n"}}, nil},
		{"no source", "", nil, func(e *testEnv) { os.RemoveAll(e.src + "/foo-1.0") },
			[]step{{[]string{"build", "foo/1.0", "-k", fk}, 2, "",
				"\nError! Could not find module source directory.\nDirectory: <root>/usr/src/foo-1.0 does not exist.\n"}}, nil},
		{"clang config adds LLVM=1", "", nil, func(e *testEnv) {
			e.write("/lib/modules/"+fk+"/build/.config", "CONFIG_X=y\nCONFIG_CC_IS_CLANG=y \n")
		}, []step{{[]string{"build", "foo/1.0", "-k", fk, "-j", "3", "--verbose"}, 0, "Creating symlink <root>/var/lib/dkms/foo/1.0/source -> <root>/usr/src/foo-1.0\n\n" +
			"The kernel is built without module signing facility, modules won't be signed\n\nmake -j3 KERNELRELEASE=6.1.0-test all LLVM=1\n done.\n", ""}}, nil},
		{"vmlinux hides the config from the LLVM check", "", nil, func(e *testEnv) {
			e.write("/lib/modules/"+fk+"/build/.config", "CONFIG_CC_IS_CLANG=y\n")
			e.write("/lib/modules/"+fk+"/build/vmlinux", "not an ELF file\n")
		}, []step{{[]string{"build", "foo/1.0", "-k", fk, "-j", "3", "--verbose"}, 0, "Creating symlink <root>/var/lib/dkms/foo/1.0/source -> <root>/usr/src/foo-1.0\n\n" +
			"The kernel is built without module signing facility, modules won't be signed\n\nmake -j3 KERNELRELEASE=6.1.0-test all\n done.\n", ""}}, nil},
		{"pair isolation", "", nil, nil,
			[]step{{[]string{"build", "foo/1.0", "-k", "9.9-nokernel", "-k", fk}, 0, "Creating symlink <root>/var/lib/dkms/foo/1.0/source -> <root>/usr/src/foo-1.0\n\n" + noSign + "Building module(s)... done.\n",
				"\nError! Your kernel headers for kernel 9.9-nokernel cannot be found at <root>/lib/modules/9.9-nokernel/build or <root>/lib/modules/9.9-nokernel/source.\n" +
					"Please install your distribution's kernel headers package matching 9.9-nokernel, or use the --kernelsourcedir option to tell DKMS where it's located.\n"}}, nil},
	}
	runEnvCases(t, cases)
}

// TestMakeLogGolden: the whole make.log of a build with a patch and both
// build scripts, timestamps normalised (§0.3).
func TestMakeLogGolden(t *testing.T) {
	t.Parallel()
	patch := "--- a/fake.c\n+++ b/fake.c\n@@ -1 +1 @@\n-/* stand-in */\n+/* patched */\n"
	e := fakeEnv(t, "PATCH[0]=p.patch\nPRE_BUILD=pre.sh\nPOST_BUILD=post.sh\n", map[string]string{
		"patches/p.patch": patch, "pre.sh": "#!/bin/sh\necho configuring\n", "post.sh": "#!/bin/sh\necho done >&2\n"})
	if _, errOut, code := e.run("build", "foo/1.0", "-k", fk, "-j", "2"); code != 0 {
		t.Fatalf("build: %d %s", code, errOut)
	}
	b, err := os.ReadFile(e.dkms + "/foo/1.0/" + fk + "/x86_64/log/make.log")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitN(e.norm(string(b)), "\n", 3)
	if len(lines) < 3 {
		t.Fatalf("short make.log: %q", b)
	}
	lines[1] = "<date>"
	golden(t, "make_log", timeLine.ReplaceAllString(strings.Join(lines, "\n"), "# elapsed time: HH:MM:SS"))
}

// TestTerminalScripts: post_add, pre_install, post_install and post_remove
// run in the source directory with their output on the terminal (§7.1).
func TestTerminalScripts(t *testing.T) {
	t.Parallel()
	script := "#!/bin/sh\necho \"$0 $*\"\necho \"to stderr $1\" >&2\npwd\n"
	e := fakeEnv(t, "POST_ADD=\"s.sh post_add\"\nPOST_INSTALL=\"s.sh post_install\"\nPOST_REMOVE=\"s.sh post_remove\"\n",
		map[string]string{"s.sh": script})
	src := "<root>/var/lib/dkms/foo/1.0/source"
	runSteps(t, e, []step{
		{[]string{"add", "foo/1.0"}, 0, "Creating symlink " + src + " -> <root>/usr/src/foo-1.0\nRunning the post_add script:\n" +
			src + "/s.sh post_add\n" + src + "\n", "to stderr post_add\n"},
	})
	// Glob patterns in the value expand in the script's directory, not
	// in dkms's own working directory (this package, full of *.go).
	e.write("/usr/src/foo-1.0/x.go", "")
	e.write("/usr/src/foo-1.0/.hidden.go", "")
	out, errOut, code := e.run("install", "foo/1.0", "-k", fk, "--directive", "POST_INSTALL=s.sh *.go n*.none")
	if code != 0 || !strings.Contains(out, "Running the post_install script:\n"+src+"/s.sh x.go n*.none\n") || errOut != "to stderr x.go\n" {
		t.Errorf("install: %d\n%s\n%s", code, out, errOut)
	}
	out, _, code = e.run("uninstall", "foo/1.0", "-k", fk)
	if code != 0 || !strings.Contains(out, "Running the post_remove script:\n"+src+"/s.sh post_remove\n") {
		t.Errorf("uninstall: %d\n%s", code, out)
	}
}
