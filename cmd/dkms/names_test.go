package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/dkms-go/dkms/internal/modname"
	"github.com/dkms-go/dkms/internal/testenv"
)

// attackBound is how long one refused command may take. Refusals happen
// before any build, so they take milliseconds; the bound is generous
// because the test machine is shared.
const attackBound = 30 * time.Second

// attack runs the dkms binary (a real process, as an attacker would get
// it) against the env's trees and fails the test unless it ended on its
// own within attackBound, by an exit rather than a signal, and without a
// Go panic or fatal error. It returns stdout, stderr (with the root and
// the archive path replaced by <root> and <archive>) and the exit status.
func (e *testEnv) attack(archive string, args ...string) (string, string, int) {
	e.t.Helper()
	bin := testenv.Binary(e.t, ".", "dkms")
	ctx, cancel := context.WithTimeout(context.Background(), attackBound)
	defer cancel()
	full := append(append([]string{}, args...), "--dkmstree", e.dkms, "--sourcetree", e.src, "--installtree", e.inst)
	cmd := exec.CommandContext(ctx, bin, full...)
	cmd.Env = append(testenv.CleanEnv(), "DKMS_SYSROOT="+e.root, "TMPDIR="+e.root+"/tmp")
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	start := time.Now()
	err := cmd.Run()
	if ctx.Err() != nil {
		e.t.Fatalf("%v: still running after %v", args, attackBound)
	}
	code := 0
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee) && ee.Exited():
		code = ee.ExitCode()
	case err != nil:
		e.t.Fatalf("%v: %v after %v\n%s", args, err, time.Since(start), errb.String())
	}
	for _, crash := range []string{"panic:", "fatal error:", "goroutine "} {
		if strings.Contains(errb.String(), crash) {
			e.t.Fatalf("%v crashed:\n%s", args, errb.String())
		}
	}
	norm := func(s string) string {
		if archive != "" {
			s = strings.ReplaceAll(s, archive, "<archive>")
		}
		return e.norm(s)
	}
	return norm(out.String()), norm(errb.String()), code
}

// confWith is fakeFooConf with PACKAGE_NAME and PACKAGE_VERSION replaced
// (as double-quoted shell words, so a newline can be written).
func confWith(name, version string) string {
	c := strings.Replace(fakeFooConf, "PACKAGE_NAME=foo", `PACKAGE_NAME="`+name+`"`, 1)
	return strings.Replace(c, "PACKAGE_VERSION=1.0", `PACKAGE_VERSION="`+version+`"`, 1)
}

// refusal is the error block of an archive whose dkms.conf names an
// unusable module or version.
func refusal(conf, directive, detail string) string {
	return "\nError! Refusing to load <archive>: it is not a safe DKMS archive.\n" +
		conf + ": " + directive + " " + detail + "\nNothing was written to the DKMS tree.\n"
}

// TestArchiveNamesCannotEscape: the attacks of issue 12 through archives.
// (A newline cannot reach a name through a dkms.conf: the values are
// re-expanded unquoted when read back, §4.2, which turns it into a space;
// the command-line test has the newline rows.)
// Each archive declares a PACKAGE_NAME or PACKAGE_VERSION that, used as a
// path part, would write, replace or delete something outside the trees
// (or spoof `dkms status`). Every form of loading refuses it with exit 3
// before anything is written or removed: the whole system root, sentinels
// included, is byte for byte as before.
func TestArchiveNamesCannotEscape(t *testing.T) {
	t.Parallel()
	testenv.RequireRoot(t)
	const headers = "/usr/src/linux-headers-6.1.0-57-amd64"
	generic := func(conf string, extra ...tarEnt) []tarEnt {
		return append([]tarEnt{{Name: "./pkg/"}, {Name: "./pkg/dkms.conf", Body: conf}, {Name: "./pkg/foo.c", Body: "int x;\n"}}, extra...)
	}
	mktarball := func(conf string, extra ...tarEnt) []tarEnt {
		return append([]tarEnt{{Name: "./"}, {Name: "./dkms_main_tree/"}, {Name: "./dkms_source_tree/"},
			{Name: "./dkms_source_tree/dkms.conf", Body: conf}}, extra...)
	}
	binariesOnly := func(conf string) []tarEnt {
		return []tarEnt{{Name: "./"}, {Name: "./dkms_main_tree/"}, {Name: "./dkms_main_tree/" + tarK1 + "/"},
			{Name: "./dkms_main_tree/" + tarK1 + "/x86_64/"}, {Name: "./dkms_main_tree/" + tarK1 + "/x86_64/module/"},
			{Name: "./dkms_main_tree/" + tarK1 + "/x86_64/module/foo.ko", Body: "\x7fELF"},
			{Name: "./dkms_binaries_only/"}, {Name: "./dkms_binaries_only/dkms.conf", Body: conf}}
	}
	frameworkMember := tarEnt{Name: "./pkg/framework.conf", Body: "full_shell_modules=\"*\"\n"}
	tests := []struct {
		name   string
		ents   []tarEnt
		stderr string
	}{
		{"version climbing to /tmp/x/pwn, generic archive", generic(confWith("foo", "../../../../tmp/x/pwn")),
			refusal("pkg/dkms.conf", "PACKAGE_VERSION", `"../../../../tmp/x/pwn" contains '/'`)},
		{"version climbing to /tmp/x/pwn, mktarball archive", mktarball(confWith("foo", "../../../../tmp/x/pwn")),
			refusal("dkms_source_tree/dkms.conf", "PACKAGE_VERSION", `"../../../../tmp/x/pwn" contains '/'`)},
		{"version climbing to /tmp/x/pwn, binaries-only archive", binariesOnly(confWith("foo", "../../../../tmp/x/pwn")),
			refusal("dkms_binaries_only/dkms.conf", "PACKAGE_VERSION", `"../../../../tmp/x/pwn" contains '/'`)},
		{"linux-headers version overwriting /etc/dkms/framework.conf",
			generic(confWith("linux", "headers-6.1.0-57-amd64/../../../etc/dkms"), frameworkMember),
			refusal("pkg/dkms.conf", "PACKAGE_VERSION", `"headers-6.1.0-57-amd64/../../../etc/dkms" contains '/'`)},
		{"name climbing to /tmp/x/victim (removed under --force)", generic(confWith("../../tmp/x/victim", "1")),
			refusal("pkg/dkms.conf", "PACKAGE_NAME", `"../../tmp/x/victim" contains '/'`)},
		{"name climbing to /tmp/x/victim, mktarball archive", mktarball(confWith("../../tmp/x/victim", "1")),
			refusal("dkms_source_tree/dkms.conf", "PACKAGE_NAME", `"../../tmp/x/victim" contains '/'`)},
		{"version with a slash (nested directories)", generic(confWith("foo", "1.0/evil")),
			refusal("pkg/dkms.conf", "PACKAGE_VERSION", `"1.0/evil" contains '/'`)},
		{"name dot-dot", generic(confWith("..", "1.0")), refusal("pkg/dkms.conf", "PACKAGE_NAME", `".." is a relative directory name`)},
		{"version dot", mktarball(confWith("foo", ".")), refusal("dkms_source_tree/dkms.conf", "PACKAGE_VERSION", `"." is a relative directory name`)},
		{"option-like version", generic(confWith("foo", "-rf")), refusal("pkg/dkms.conf", "PACKAGE_VERSION", `"-rf" starts with '-'`)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := emptyTree(t, tarK1)
			e.write("/tmp/x/victim-1/keep", "sentinel\n")
			e.write("/etc/dkms/framework.conf", "# sentinel framework.conf\n")
			e.write(headers+"/Makefile", "# headers\n")
			archive := writeTar(t, tc.ents)
			before := testenv.Tree(t, e.root, ".dkms.lock")
			for _, args := range [][]string{{"ldtarball", archive}, {"add", "--archive=" + archive},
				{"ldtarball", archive, "--force"}, {"add", archive, "--force"}} {
				out, errOut, code := e.attack(archive, args...)
				if code != 3 || out != "" || errOut != tc.stderr {
					t.Errorf("%v: exit %d (want 3), stdout %q\nstderr:\n%s\nwant:\n%s", args[:1], code, out, errOut, tc.stderr)
				}
				if after := testenv.Tree(t, e.root, ".dkms.lock"); after != before {
					t.Fatalf("%v changed the system root:\n%s\nbefore:\n%s", args[:1], after, before)
				}
			}
			for _, p := range []string{"/tmp/x/pwn", "/var/lib/dkms/foo", "/usr/src/foo-1.0", "/var/lib/dkms/bar"} {
				if _, err := os.Lstat(e.root + p); err == nil {
					t.Errorf("%s was created", p)
				}
			}
			if b, err := os.ReadFile(e.root + "/tmp/x/victim-1/keep"); err != nil || string(b) != "sentinel\n" {
				t.Errorf("sentinel /tmp/x/victim-1/keep: %q, %v", b, err)
			}
			if b, _ := os.ReadFile(e.root + "/etc/dkms/framework.conf"); string(b) != "# sentinel framework.conf\n" {
				t.Errorf("/etc/dkms/framework.conf became %q", b)
			}
		})
	}
}

// TestCommandLineNamesCannotEscape: the same rule for -m, -v and module
// specs: die 1 naming the argument, nothing touched.
func TestCommandLineNamesCannotEscape(t *testing.T) {
	t.Parallel()
	e := emptyTree(t, tarK1)
	e.write("/tmp/x/victim-1/keep", "sentinel\n")
	e.module("foo", "1.0", fakeFooConf, nil)
	rule := modname.Rule + "\n"
	tests := []struct {
		args   []string
		stderr string
	}{
		{[]string{"add", "-m", "foo", "-v", "../../../../tmp/x/pwn"},
			"\nError! Invalid module version \"../../../../tmp/x/pwn\" on the command line: it contains '/'.\n" + rule},
		{[]string{"remove", "../../tmp/x/victim/1", "--all"},
			"\nError! Invalid module name \"..\" on the command line: it is a relative directory name.\n" + rule},
		{[]string{"remove", "-m", "foo", "-v", "../../../../tmp/x/victim-1", "--all"},
			"\nError! Invalid module version \"../../../../tmp/x/victim-1\" on the command line: it contains '/'.\n" + rule},
		{[]string{"build", "foo/1.0/" + tarK1},
			"\nError! Invalid module version \"1.0/" + tarK1 + "\" on the command line: it contains '/'.\n" + rule},
		{[]string{"add", "foo/1.0\nbar/2.0, " + tarK1 + ", x86_64: installed"},
			"\nError! Invalid module version \"1.0\\nbar/2.0, " + tarK1 + ", x86_64: installed\" on the command line: it contains '/'.\n" + rule},
		{[]string{"status", "foo/1.0\nbar, " + tarK1 + ", x86_64: installed"},
			"\nError! Invalid module version \"1.0\\nbar, " + tarK1 + ", x86_64: installed\" on the command line: it contains a newline.\n" + rule},
		{[]string{"add", "--module=-foo/1.0"},
			"\nError! Invalid module name \"-foo\" on the command line: it starts with '-'.\n" + rule},
		{[]string{"status", "-m", "foo", "-v", "."},
			"\nError! Invalid module version \".\" on the command line: it is a relative directory name.\n" + rule},
	}
	before := testenv.Tree(t, e.root, ".dkms.lock")
	for _, tc := range tests {
		out, errOut, code := e.attack("", tc.args...)
		if code != 1 || out != "" || errOut != tc.stderr {
			t.Errorf("%q: exit %d (want 1), stdout %q\nstderr:\n%s\nwant:\n%s", tc.args, code, out, errOut, tc.stderr)
		}
		if after := testenv.Tree(t, e.root, ".dkms.lock"); after != before {
			t.Fatalf("%q changed the system root:\n%s\nbefore:\n%s", tc.args, after, before)
		}
	}
}

// TestAddFromPathNamesCannotEscape: a source directory given to add whose
// dkms.conf declares an unusable version is refused with upstream's bad
// conf block (exit 8) after the reason, before anything is copied or, with
// --force, deleted.
func TestAddFromPathNamesCannotEscape(t *testing.T) {
	t.Parallel()
	testenv.RequireRoot(t)
	e := emptyTree(t, tarK1)
	e.write("/tmp/x/victim-1/keep", "sentinel\n")
	dir := e.root + "/home/user/pkg"
	for _, tc := range []struct{ name, version, detail string }{
		{"../../tmp/x/victim", "1", `PACKAGE_NAME "../../tmp/x/victim" contains '/'`},
		{"foo", "../../../../tmp/x/pwn", `PACKAGE_VERSION "../../../../tmp/x/pwn" contains '/'`},
		{"foo", "-1.0", `PACKAGE_VERSION "-1.0" starts with '-'`},
	} {
		e.write("/home/user/pkg/dkms.conf", confWith(tc.name, tc.version))
		before := testenv.Tree(t, e.root, ".dkms.lock")
		for _, args := range [][]string{{"add", dir}, {"add", dir, "--force"}, {"build", dir, "-k", tarK1}} {
			out, errOut, code := e.attack("", args...)
			want := "<root>/home/user/pkg/dkms.conf: " + tc.detail + "\n" + modname.Rule + "\n" +
				"\nError! Bad conf file.\nFile: <root>/home/user/pkg/dkms.conf does not represent a valid dkms.conf file.\n"
			if code != 8 || out != "" || errOut != want {
				t.Errorf("%v (%s): exit %d (want 8), stdout %q\nstderr:\n%s\nwant:\n%s", args[:1], tc.detail, code, out, errOut, want)
			}
			if after := testenv.Tree(t, e.root, ".dkms.lock"); after != before {
				t.Fatalf("%v changed the system root:\n%s\nbefore:\n%s", args[:1], after, before)
			}
		}
	}
	if _, err := os.Lstat(e.root + "/tmp/x/pwn"); err == nil {
		t.Errorf("/tmp/x/pwn was created")
	}
}

// TestConfSymlinkOutsideIsNotRead: a dkms.conf that is a symbolic link
// leaving its source tree (to a stand-in for /etc/shadow) is refused
// without a byte of the target in the output, whether it is added from a
// path or already in the tree.
func TestConfSymlinkOutsideIsNotRead(t *testing.T) {
	t.Parallel()
	testenv.RequireRoot(t)
	e := emptyTree(t, tarK1)
	const secret = "root:$y$j9T$SECRETHASH:19000:0:99999:7:::"
	e.write("/etc/shadow", secret+"\n")
	e.write("/home/user/pkg/foo.c", "int x;\n")
	if err := os.Symlink(e.root+"/etc/shadow", e.root+"/home/user/pkg/dkms.conf"); err != nil {
		t.Fatal(err)
	}
	// A module already in the tree whose conf is swapped for such a link.
	e.module("bar", "1.0", strings.ReplaceAll(fakeFooConf, "foo", "bar"), nil)
	if _, errOut, code := e.attack("", "add", "bar/1.0"); code != 0 {
		t.Fatalf("add bar/1.0: %d\n%s", code, errOut)
	}
	os.Remove(e.src + "/bar-1.0/dkms.conf")
	if err := os.Symlink("../../../etc/shadow", e.src+"/bar-1.0/dkms.conf"); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args  []string
		conf  string
		shown string // upstream names the default conf as ""
	}{
		{[]string{"add", e.root + "/home/user/pkg"}, "<root>/home/user/pkg/dkms.conf", "<root>/home/user/pkg/dkms.conf"},
		{[]string{"build", "bar/1.0", "-k", tarK1}, "<root>/var/lib/dkms/bar/1.0/source/dkms.conf", ""},
	} {
		before := testenv.Tree(t, e.root, ".dkms.lock")
		out, errOut, code := e.attack("", tc.args...)
		want := tc.conf + ": a symbolic link leading out of its directory, not read\n" +
			"\nError! Bad conf file.\nFile: " + tc.shown + " does not represent a valid dkms.conf file.\n"
		if code != 8 || errOut != want {
			t.Errorf("%v: exit %d (want 8)\nstdout:\n%s\nstderr:\n%s\nwant:\n%s", tc.args[:1], code, out, errOut, want)
		}
		if strings.Contains(out+errOut, "SECRETHASH") {
			t.Errorf("%v printed the link target's content:\n%s%s", tc.args[:1], out, errOut)
		}
		if after := testenv.Tree(t, e.root, ".dkms.lock"); after != before {
			t.Errorf("%v changed the system root:\n%s\nbefore:\n%s", tc.args[:1], after, before)
		}
	}
}
