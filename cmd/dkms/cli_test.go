package main

import (
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/dkms-go/dkms/internal/testenv"
)

// TestCommandLine covers §2: option parsing, immediate exits, validation.
func TestCommandLine(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name           string
		args           []string
		code           int
		stdout, stderr string // substrings ("" = must be empty)
	}{
		{"version", []string{"--version"}, 0, "dkms-3.4.3\n", ""},
		{"version short wins over later junk", []string{"-V", "--bogus"}, 0, "dkms-3.4.3\n", ""},
		{"help", []string{"-h"}, 0, "Usage: /usr/sbin/dkms [action] [options]", ""},
		{"unknown option", []string{"status", "--bogus"}, 2, "Usage: /usr/sbin/dkms", "\nError! Unknown option: --bogus\n"},
		{"attached -j", []string{"status", "-j4"}, 2, "Usage:", "Error! Unknown option: -j4\n"},
		{"-m=x", []string{"status", "-m=x"}, 2, "Usage:", "Error! Unknown option: -m=x\n"},
		{"--json outside initramfs-check", []string{"status", "--json"}, 2, "Usage:", "Error! Unknown option: --json\n"},
		{"two actions", []string{"status", "build"}, 4, "", "\nError! Cannot specify more than one action.\n"},
		{"binaries and source only", []string{"mktarball", "--binaries-only", "--source-only"}, 8, "",
			"\nError! You have specified both --binaries-only and --source-only.\nYou cannot do this.\n"},
		{"arch count", []string{"build", "-k", "a", "-a", "x", "-a", "y", "-k", "b", "-k", "c"}, 1, "",
			"Error! If more than one arch is specified on the command line, then there\nmust be an equal number of kernel versions also specified (1:1 relationship).\n"},
		{"kernel and all", []string{"remove", "-k", "1.0", "--all"}, 2, "",
			"Error! You cannot specify a kernel version and also specify\n--all on the command line.\n"},
		{"arch and all", []string{"remove", "-a", "x86_64", "--all"}, 3, "",
			"Error! You cannot specify an arch and also specify\n--all on the command line.\n"},
		{"kernel_prerm needs a kernel", []string{"kernel_prerm"}, 4, "",
			"Error! The action kernel_prerm requires exactly one kernel version parameter on the command line.\n"},
		{"kernel_preinst --all", []string{"kernel_preinst", "--all"}, 5, "",
			"Error! The action kernel_preinst does not support the --all parameter.\n"},
		{"empty kernel", []string{"build", "foo/1.0", "-k", ""}, 16, "", "Error! Empty kernelver[0]\n"},
		{"empty arch", []string{"build", "foo/1.0", "-k", "6.1/"}, 16, "", "Error! Empty arch[0]\n"},
		{"no action", []string{"-k", "6.1.0-test"}, 0, "Usage: /usr/sbin/dkms", "\nError! Unknown action specified: \"\"\n"},
		{"deprecated", []string{"status", "--no-initrd"}, 0, "", "Deprecated feature: --no-initrd\n"},
		{"unknown extra positional", []string{"status", "foo", "bar"}, 0, "", "Warning: I do not know how to handle bar.\n"},
		{"module args", []string{"remove", "-k", "6.1.0-test"}, 1, "",
			"\nError! Arguments <module> and <module-version> are not specified.\nUsage: remove <module>/<module-version> or\n       remove -m <module>/<module-version> or\n       remove -m <module> -v <module-version>\n"},
		{"not in tree", []string{"remove", "foo/1.0", "-k", "6.1.0-test"}, 3, "",
			"\nError! The module/version combo: foo/1.0 is not located in the DKMS tree.\n"},
		{"--all unsupported", []string{"build", "foo/1.0", "--all"}, 5, "",
			"Error! The action build does not support the --all parameter.\n"},
		{"autoinstall two kernels", []string{"autoinstall", "-k", "a", "-k", "b"}, 4, "",
			"Error! The action autoinstall does not support multiple kernel version parameters on the command line.\n"},
		{"quiet", []string{"-q", "remove", "-k", "6.1.0-test"}, 1, "", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			out, errOut, code := e.run(c.args...)
			if code != c.code {
				t.Errorf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, c.code, out, errOut)
			}
			check := func(stream, got, want string) {
				if want == "" {
					if got != "" {
						t.Errorf("%s: want nothing, got %q", stream, got)
					}
					return
				}
				if !strings.Contains(got, want) {
					t.Errorf("%s: want %q in\n%q", stream, want, got)
				}
			}
			check("stdout", out, c.stdout)
			check("stderr", errOut, c.stderr)
		})
	}
}

func TestNoOSRelease(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	removeFile(t, e.root+"/etc/os-release")
	_, errOut, code := e.run("--version")
	if code != 4 || errOut != "\nError! System is missing os-release file.\n" {
		t.Errorf("got %d %q", code, errOut)
	}
}

// TestTempProbe: the temp-space probe (§1 step 6) runs before
// framework.conf is read (step 8), so its warning names ${TMPDIR:-/tmp}
// whatever tmp_location framework.conf sets, and a failed probe ends the
// run before framework.conf can print anything.
func TestTempProbe(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.write("/etc/dkms/framework.conf", "tmp_location=/elsewhere\nif then\n")
	e.extraEnv = []string{"TMPDIR=" + e.root + "/nonexistent"}
	out, errOut, code := e.run("status")
	want := "\nError! Unable to make temporary file.\n" +
		"Warning: dkms will not function properly without some free space in $TMPDIR (<root>/nonexistent).\n"
	if code != 1 || out != "" || errOut != want {
		t.Errorf("exit %d, stdout %q, stderr:\n%q\nwant:\n%q", code, out, errOut, want)
	}
}

// TestFrameworkErrorShownOnce: a framework.conf that fails to evaluate is
// reported once on stderr (as bash's own message is, §3.1) and skipped.
func TestFrameworkErrorShownOnce(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.write("/etc/dkms/framework.conf", "if then\n")
	out, errOut, code := e.run("status")
	if code != 0 || out != "" || strings.Count(errOut, "framework.conf:1:") != 1 {
		t.Errorf("exit %d, stdout %q, stderr %q", code, out, errOut)
	}
}

// TestCompilerVariablesUnset: CC, CXX, CFLAGS, CXXFLAGS and LDFLAGS are
// removed from dkms's own environment at start-up (§1 step 2), so no
// child sees them: the make that computes CC from .kernelvariables (§6.2
// step 8) falls back to make's default "cc", not the caller's CC.
func TestCompilerVariablesUnset(t *testing.T) {
	t.Parallel()
	testenv.RequireTools(t, "make")
	bin := testenv.Binary(t, ".", "dkms")
	e := newEnv(t)
	e.fakeKernel(fk, "")
	e.write("/lib/modules/"+fk+"/build/.kernelvariables", "ARCH=x86\n")
	e.module("foo", "1.0", "PACKAGE_NAME=foo\nPACKAGE_VERSION=1.0\nBUILT_MODULE_NAME[0]=foo\nDEST_MODULE_LOCATION[0]=/updates\nMAKE[0]=\"make all\"\n",
		map[string]string{"Makefile": "all:\n\t@echo \"cc=$$CC cflags=$$CFLAGS\"\n\tprintf x > foo.ko\n"})
	cmd := exec.Command(bin, "build", "foo/1.0", "-k", fk, "--dkmstree", e.dkms, "--sourcetree", e.src, "--installtree", e.inst)
	cmd.Env = append(testenv.CleanEnv(), "DKMS_SYSROOT="+e.root, "TMPDIR="+e.root+"/tmp", "CC=bogus-cc", "CFLAGS=-Dbogus")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	b, err := os.ReadFile(e.dkms + "/foo/1.0/" + fk + "/x86_64/log/make.log")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), "\ncc=cc cflags=\n") {
		t.Errorf("make.log:\n%s", b)
	}
}
