package main

import (
	"os"
	"strings"
	"testing"
)

// Delta D10: build_environment. The make target, PRE_BUILD and POST_BUILD
// print what they see into make.log; POST_INSTALL prints to the terminal.

const envProbe = `echo "probe FOO=$$FOO CC=$$CC SEEN=$$SEEN PLAIN=$$PLAIN"`

func buildEnvFiles() map[string]string {
	f := fakeBuildFiles("foo")
	f["Makefile"] = "all:\n\t@" + envProbe + "\n\tprintf 'fake module foo\\n' > foo.ko\n"
	f["pre.sh"] = "#!/bin/sh\necho \"pre FOO=$FOO\"\n"
	f["post.sh"] = "#!/bin/sh\necho \"post FOO=$FOO\"\n"
	f["inst.sh"] = "#!/bin/sh\necho \"post_install FOO=$FOO\"\n"
	return f
}

func TestDeltaBuildEnvironment(t *testing.T) {
	t.Parallel()
	const scripts = "PRE_BUILD=pre.sh\nPOST_BUILD=post.sh\nPOST_INSTALL=inst.sh\n"
	const file = `echo noise; echo more noise >&2
export FOO=bar
PLAIN=notexported
export SEEN="$kernelver $arch $module $module_version"
export CC=mycc
`
	build := created + "\n" + noSign + "Running the pre_build script... done.\n" + buildingDone + "Running the post_build script... done.\n"
	cases := []struct {
		name    string
		file    string // "" = no file at the configured path
		viaEnv  bool   // set build_environment in the environment instead of framework.conf
		makeOut string
		preOut  string
	}{
		{"exported variables reach the build", file, false,
			"probe FOO=bar CC=mycc SEEN=6.1.0-test x86_64 foo 1.0 PLAIN=", "pre FOO=bar"},
		{"from the environment, C1", file, true,
			"probe FOO=bar CC=mycc SEEN=6.1.0-test x86_64 foo 1.0 PLAIN=", "pre FOO=bar"},
		{"a file that exits imports nothing", "export FOO=bar\nexit 0\n", false,
			"probe FOO= CC= SEEN= PLAIN=", "pre FOO="},
		{"a missing file is ignored", "", false, "probe FOO= CC= SEEN= PLAIN=", "pre FOO="},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			e := fakeEnv(t, scripts, buildEnvFiles())
			path := e.root + "/opt/env"
			if c.file != "" {
				e.write("/opt/env", c.file)
			}
			if c.viaEnv {
				e.extraEnv = []string{"build_environment=" + path}
			} else {
				e.write("/etc/dkms/framework.conf", "build_environment="+path+"\n")
			}
			runSteps(t, e, []step{{[]string{"build", "foo/1.0", "-k", fk}, 0, build, ""}})
			b, err := os.ReadFile(e.dkms + "/foo/1.0/" + fk + "/x86_64/log/make.log")
			if err != nil {
				t.Fatal(err)
			}
			log := string(b)
			for _, want := range []string{"\n" + c.makeOut + "\n", "\n" + c.preOut + "\n", "\npost" + strings.TrimPrefix(c.preOut, "pre") + "\n"} {
				if !strings.Contains(log, want) {
					t.Errorf("make.log lacks %q:\n%s", want, log)
				}
			}
		})
	}
}

// TestDeltaBuildEnvironmentScope: the values are gone once the build step
// ends: an install that builds first runs POST_INSTALL without them, and
// the file's output never shows.
func TestDeltaBuildEnvironmentScope(t *testing.T) {
	t.Parallel()
	e := fakeEnv(t, "POST_INSTALL=inst.sh\n", buildEnvFiles())
	e.write("/opt/env", "echo noise; echo noise >&2\nexport FOO=bar\n")
	e.write("/etc/dkms/framework.conf", "build_environment="+e.root+"/opt/env\n")
	runSteps(t, e, []step{{[]string{"install", "foo/1.0", "-k", fk}, 0,
		created + "\n" + noSign + buildingDone + "Installing <root>/lib/modules/6.1.0-test/updates/dkms/foo.ko\n" +
			"Running the post_install script:\npost_install FOO=\nRunning depmod... done.\n", ""}})
	b, _ := os.ReadFile(e.dkms + "/foo/1.0/" + fk + "/x86_64/log/make.log")
	if !strings.Contains(string(b), "\nprobe FOO=bar ") {
		t.Errorf("the build did not see the file's variable:\n%s", b)
	}
}

// TestDeltaBuildEnvironmentCompiler: an exported CC in the file overrides
// the compiler step 8 takes from the kernel configuration.
func TestDeltaBuildEnvironmentCompiler(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.fakeKernel(fk, "CONFIG_CC_VERSION_TEXT=\"sh (fake) 1.0\"\n")
	e.module("foo", "1.0", "PACKAGE_NAME=foo\nPACKAGE_VERSION=1.0\nBUILT_MODULE_NAME[0]=foo\nDEST_MODULE_LOCATION[0]=/updates\nMAKE[0]=\"make all\"\n", buildEnvFiles())
	noHash := "The kernel is built without module signing facility, modules won't be signed\n\n"
	runSteps(t, e, []step{{[]string{"build", "foo/1.0", "-k", fk}, 0, created + "\n" + noHash + buildingDone, ""}})
	b, _ := os.ReadFile(e.dkms + "/foo/1.0/" + fk + "/x86_64/log/make.log")
	if !strings.Contains(string(b), "\nprobe FOO= CC=sh ") {
		t.Fatalf("without the file the kernel's compiler (sh, found in PATH) is CC:\n%s", b)
	}
	e.write("/opt/env", "export CC=mycc\n")
	e.write("/etc/dkms/framework.conf", "build_environment="+e.root+"/opt/env\n")
	runSteps(t, e, []step{{[]string{"build", "foo/1.0", "-k", fk, "--force"}, 0, noHash + buildingDone, ""}})
	b, _ = os.ReadFile(e.dkms + "/foo/1.0/" + fk + "/x86_64/log/make.log")
	if !strings.Contains(string(b), "\nprobe FOO= CC=mycc ") {
		t.Errorf("the file's CC must win:\n%s", b)
	}
}
