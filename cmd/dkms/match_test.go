package main

import (
	"os"
	"strings"
	"testing"

	"github.com/dkms-go/dkms/internal/testenv"
)

// matchTree: foo and bar installed for tarK1, baz only built for it, and
// qux installed for tarK2 only; tarK2 has headers too.
func matchTree(t *testing.T) *testEnv {
	t.Helper()
	e := emptyTree(t, tarK1, tarK2)
	for _, m := range []string{"foo", "bar", "baz", "qux"} {
		e.module(m, "1.0", strings.ReplaceAll(fakeFooConf, "foo", m), fakeBuildFiles(m))
	}
	for _, args := range [][]string{
		{"install", "foo/1.0", "-k", tarK1}, {"install", "bar/1.0", "-k", tarK1},
		{"build", "baz/1.0", "-k", tarK1}, {"install", "qux/1.0", "-k", tarK2},
	} {
		if out, errOut, code := e.run(args...); code != 0 {
			t.Fatalf("%v: %d\n%s\n%s", args, code, out, errOut)
		}
	}
	return e
}

func TestMatchInstallsTemplateModules(t *testing.T) {
	t.Parallel()
	testenv.RequireRoot(t)
	testenv.RequireTools(t, "make")
	e := matchTree(t)
	out, errOut, code := e.run("match", "--templatekernel="+tarK1, "-k", tarK2)
	if code != 0 || errOut != "" {
		t.Fatalf("match: %d\n%s\n%s", code, out, errOut)
	}
	golden(t, "match_all", undot(out))
	st, _, _ := e.run("status")
	want := "bar/1.0, " + tarK1 + ", x86_64: installed\nbar/1.0, " + tarK2 + ", x86_64: installed\n" +
		"baz/1.0, " + tarK1 + ", x86_64: built\n" +
		"foo/1.0, " + tarK1 + ", x86_64: installed\nfoo/1.0, " + tarK2 + ", x86_64: installed\n" +
		"qux/1.0, " + tarK2 + ", x86_64: installed\n"
	if st != want {
		t.Errorf("status after match:\n%s\nwant\n%s", st, want)
	}
	for _, m := range []string{"foo", "bar"} {
		if _, err := os.Stat(e.inst + "/" + tarK2 + "/updates/dkms/" + m + ".ko"); err != nil {
			t.Errorf("%s not installed for %s: %v", m, tarK2, err)
		}
	}

	// Matching again finds everything in place.
	out, _, code = e.run("match", "--templatekernel", tarK1, "-k", tarK2, "foo")
	want = "\nMatching modules in kernel: " + tarK2 + " (x86_64)\nto the configuration of kernel: " + tarK1 + " (x86_64)\n" +
		"Module:  foo\nVersion: 1.0\n" +
		"Module foo/1.0 already built for kernel " + tarK2 + " (x86_64), skip. You may override by specifying --force.\n" +
		"Module foo/1.0 already installed on kernel " + tarK2 + " (x86_64), skip. You may override by specifying --force.\n"
	if code != 0 || out != want {
		t.Errorf("second match of foo: %d\n%s\nwant\n%s", code, out, want)
	}
}

func TestMatchModuleFilterAndFailures(t *testing.T) {
	t.Parallel()
	testenv.RequireRoot(t)
	testenv.RequireTools(t, "make")
	e := matchTree(t)
	// A third kernel without headers: the build fails, install is skipped.
	os.MkdirAll(e.inst+"/6.3.0-test", 0o755)
	// The module must be a directory of the tree before it is matched.
	// (An empty one would be tidied away by the tree's crash recovery.)
	e.write("/var/lib/dkms/ba/.keep", "")
	head := func(k, tmpl string) string {
		return "\nMatching modules in kernel: " + k + " (x86_64)\nto the configuration of kernel: " + tmpl + " (x86_64)\n"
	}
	tests := []struct {
		name   string
		args   []string
		code   int
		stdout string
		stderr string
	}{
		{"module filter", []string{"match", "--templatekernel=" + tarK1, "-k", tarK2, "-m", "bar"}, 0, "", ""},
		// D14: the module is a basic regular expression for the name
		// before the "/"; a prefix of a name is no match.
		{"prefix is no match", []string{"match", "--templatekernel=" + tarK1, "-k", tarK2, "ba"}, 0,
			head(tarK2, tarK1) + "\nThere is nothing to be done for this match.\n", ""},
		{"nothing installed", []string{"match", "--templatekernel=6.9.0-none", "-k", tarK2}, 0,
			head(tarK2, "6.9.0-none") + "\nThere is nothing to be done for this match.\n", ""},
		{"module not installed for the template", []string{"match", "--templatekernel=" + tarK1, "-k", tarK2, "baz"}, 0,
			head(tarK2, tarK1) + "\nThere is nothing to be done for this match.\n", ""},
		{"unknown module", []string{"match", "--templatekernel=" + tarK1, "-k", tarK2, "-m", "nope"}, 3, "",
			"\nError! The module: nope is not located in the DKMS tree.\n"},
		{"no template", []string{"match", "-k", tarK2}, 1, "",
			"\nError! Invalid number of parameters passed.\nUsage: match --templatekernel=<kernel-version> -k <kernel-version>\n" +
				"   or: match --templatekernel=<kernel-version> -k <kernel-version> <module>\n"},
		{"same kernel", []string{"match", "--templatekernel=" + tarK2, "-k", tarK2}, 2, "",
			"\nError! The templatekernel and the specified kernel version are the same.\n"},
		{"two kernels", []string{"match", "--templatekernel=" + tarK1, "-k", tarK2, "-k", "6.3.0-test"}, 4, "",
			"\nError! The action match does not support multiple kernel version parameters on the command line.\n"},
		{"all", []string{"match", "--templatekernel=" + tarK1, "--all"}, 5, "",
			"\nError! The action match does not support the --all parameter.\n"},
		{"no headers", []string{"match", "--templatekernel=" + tarK1, "-k", "6.3.0-test"}, 21, head("6.3.0-test", tarK1),
			"\nError! Your kernel headers for kernel 6.3.0-test cannot be found at <root>/lib/modules/6.3.0-test/build or <root>/lib/modules/6.3.0-test/source.\n" +
				"Please install your distribution's kernel headers package matching 6.3.0-test, or use the --kernelsourcedir option to tell DKMS where it's located.\n"},
	}
	for _, tc := range tests {
		out, errOut, code := e.run(tc.args...)
		out = undot(out)
		if tc.name == "module filter" {
			if code != 0 || !strings.Contains(out, "Module:  bar\nVersion: 1.0\n") || strings.Contains(out, "Module:  foo") {
				t.Errorf("%s: %d\n%s\n%s", tc.name, code, out, errOut)
			}
			continue
		}
		if code != tc.code || out != tc.stdout || errOut != tc.stderr {
			t.Errorf("%s: exit %d (want %d)\nstdout:\n%s\nwant:\n%s\nstderr:\n%s\nwant:\n%s", tc.name, code, tc.code, out, tc.stdout, errOut, tc.stderr)
		}
	}
	if st, _, _ := e.run("status", "-k", tarK2); !strings.Contains(st, "bar/1.0, "+tarK2+", x86_64: installed\n") || strings.Contains(st, "foo/1.0, "+tarK2) {
		t.Errorf("the module filter must install bar only:\n%s", st)
	}
}

// TestMatchInstallAfterFailedBuild: a module excluded for the new kernel
// reports its build warning, then the install step tries and reports
// again (delta D14: build and install each isolated); the status is the
// install's.
func TestMatchInstallAfterFailedBuild(t *testing.T) {
	t.Parallel()
	testenv.RequireRoot(t)
	testenv.RequireTools(t, "make")
	e := emptyTree(t, tarK1, tarK2)
	e.module("foo", "1.0", fakeFooConf+"BUILD_EXCLUSIVE_KERNEL=\"^6\\.1\\.\"\n", fakeBuildFiles("foo"))
	if out, errOut, code := e.run("install", "foo/1.0", "-k", tarK1); code != 0 {
		t.Fatalf("install: %d\n%s\n%s", code, out, errOut)
	}
	out, errOut, code := e.run("match", "--templatekernel="+tarK1, "-k", tarK2)
	wantOut := "\nMatching modules in kernel: " + tarK2 + " (x86_64)\nto the configuration of kernel: " + tarK1 + " (x86_64)\n" +
		"Module:  foo\nVersion: 1.0\n"
	if code != 77 || out != wantOut || strings.Count(errOut, "BUILD_EXCLUSIVE") != 2 {
		t.Errorf("match: exit %d (want 77)\nstdout:\n%s\nwant:\n%s\nstderr:\n%s", code, out, wantOut, errOut)
	}
	if _, err := os.Stat(e.dkms + "/foo/kernel-" + tarK2 + "-x86_64"); !os.IsNotExist(err) {
		t.Errorf("foo must not be installed for %s: %v", tarK2, err)
	}
}

// TestMatchRegexpAndVersion: delta D14's module filter is a basic regular
// expression ("." any character) and a version given with it is ignored.
func TestMatchRegexpAndVersion(t *testing.T) {
	t.Parallel()
	testenv.RequireRoot(t)
	testenv.RequireTools(t, "make")
	e := matchTree(t)
	// The module must be a directory of the tree before it is used as an
	// expression (not an empty one: crash recovery tidies those away).
	e.write("/var/lib/dkms/b.r/.keep", "")
	out, errOut, code := e.run("match", "--templatekernel="+tarK1, "-k", tarK2, "-m", "b.r", "-v", "9.9")
	out = undot(out)
	if code != 0 || !strings.Contains(out, "Module:  bar\nVersion: 1.0\n") || strings.Contains(out, "Module:  foo") ||
		!strings.Contains(out, "Installing <root>/lib/modules/"+tarK2+"/updates/dkms/bar.ko\n") {
		t.Errorf("match b.r: %d\n%s\n%s", code, out, errOut)
	}
}
