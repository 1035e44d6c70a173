package main

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// Delta C1 (framework variables from the process environment), D2 (the new
// keys) and D12.1 (try_sign_modules and the chroot test) through the real
// binary: exact streams and exit statuses, and the make.log command line.

const (
	created      = "Creating symlink <root>/var/lib/dkms/foo/1.0/source -> <root>/usr/src/foo-1.0\n"
	policyOff    = "Module signing is disabled by policy, modules won't be signed\n\n"
	inChroot     = "Running in chroot, modules won't be signed\n\n"
	buildingDone = "Building module(s)... done.\n"
)

// makeLogCommand returns the "# command:" line of the built pair's make.log.
func makeLogCommand(t *testing.T, e *testEnv) string {
	t.Helper()
	b, err := os.ReadFile(e.dkms + "/foo/1.0/" + fk + "/x86_64/log/make.log")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if c, ok := strings.CutPrefix(l, "# command: "); ok {
			return c
		}
	}
	t.Fatalf("no command line in make.log:\n%s", b)
	return ""
}

func TestDeltaEnvironmentFramework(t *testing.T) {
	t.Parallel()
	build := []string{"build", "foo/1.0", "-k", fk}
	cases := []struct {
		name      string
		env       []string
		framework map[string]string // file (below /etc/dkms) -> content
		args      []string
		stdout    string
		command   string // make.log command line; "" = not checked
	}{
		{"parallel_jobs from the environment", []string{"parallel_jobs=1"}, nil, build,
			created + "\n" + noSign + buildingDone, "make -j1 KERNELRELEASE=6.1.0-test all"},
		{"-j on the command line wins", []string{"parallel_jobs=1"}, nil, append(build, "-j", "3"),
			created + "\n" + noSign + buildingDone, "make -j3 KERNELRELEASE=6.1.0-test all"},
		{"framework.conf wins over the environment", []string{"parallel_jobs=1"},
			map[string]string{"framework.conf": "parallel_jobs=5\n"}, build,
			created + "\n" + noSign + buildingDone, "make -j5 KERNELRELEASE=6.1.0-test all"},
		{"framework.conf.d wins over framework.conf", []string{"parallel_jobs=1"},
			map[string]string{"framework.conf": "parallel_jobs=5\n", "framework.conf.d/a.conf": "parallel_jobs=6\n"}, build,
			created + "\n" + noSign + buildingDone, "make -j6 KERNELRELEASE=6.1.0-test all"},
		{"an environment 0 gives a bare -j", []string{"parallel_jobs=0"}, nil, build,
			created + "\n" + noSign + buildingDone, "make -j KERNELRELEASE=6.1.0-test all"},
		// Runs of blanks collapse to one (C1 item 4), as the copy-back's
		// unquoted echo leaves them.
		{"the environment value goes through a file's copy-back", []string{"parallel_jobs=  7 "},
			map[string]string{"framework.conf": "# nothing assigned\n"}, build,
			created + "\n" + noSign + buildingDone, "make -j 7  KERNELRELEASE=6.1.0-test all"},
		{"without a file it is taken verbatim", []string{"parallel_jobs=  7 "}, nil, build,
			created + "\n" + noSign + buildingDone, "make -j  7  KERNELRELEASE=6.1.0-test all"},
		{"try_sign_modules=false from the environment", []string{"try_sign_modules=false"}, nil, build,
			created + "\n" + policyOff + buildingDone, ""},
		{"try_sign_modules=false from framework.conf", nil, map[string]string{"framework.conf": "try_sign_modules=false\n"}, build,
			created + "\n" + policyOff + buildingDone, ""},
		{"verbose is reset at start-up", []string{"verbose=1"}, nil, build,
			created + "\n" + noSign + buildingDone, ""},
		{"mok_signing_key and mok_certificate from the environment", []string{"mok_signing_key=/env/k", "mok_certificate=/env/c"}, nil,
			[]string{"generate_mok"}, "Signing key: /env/k\nPublic certificate (MOK): /env/c\n", ""},
		{"framework.conf wins over an environment key", []string{"mok_signing_key=/env/k", "mok_certificate=/env/c"},
			map[string]string{"framework.conf": "mok_signing_key=/fw/k\n"},
			[]string{"generate_mok"}, "Signing key: /fw/k\nPublic certificate (MOK): /env/c\n", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			e := fakeEnv(t, "", nil)
			e.extraEnv = c.env
			for f, content := range c.framework {
				e.write("/etc/dkms/"+f, content)
			}
			if c.args[0] == "generate_mok" {
				// Key and certificate exist, so nothing is generated.
				for _, p := range []string{"/env/k", "/env/c", "/fw/k"} {
					e.write(p, "x")
				}
				for i, kv := range c.env {
					name, v, _ := strings.Cut(kv, "=")
					c.env[i] = name + "=" + e.root + v
				}
				for f, content := range c.framework {
					e.write("/etc/dkms/"+f, strings.ReplaceAll(content, "=/", "="+e.root+"/"))
				}
				c.stdout = strings.ReplaceAll(c.stdout, ": /", ": <root>/")
			}
			runSteps(t, e, []step{{c.args, 0, c.stdout, ""}})
			if c.command != "" {
				if got := makeLogCommand(t, e); got != c.command {
					t.Errorf("make ran as %q, want %q", got, c.command)
				}
			}
		})
	}
}

// TestDeltaEnvironmentSignFile: sign_file from the environment is the
// signing tool, as if framework.conf had set it.
func TestDeltaEnvironmentSignFile(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.fakeKernel(fk, "CONFIG_MODULE_SIG_HASH=\"sha256\"\n")
	e.module("foo", "1.0", "PACKAGE_NAME=foo\nPACKAGE_VERSION=1.0\nBUILT_MODULE_NAME[0]=foo\nDEST_MODULE_LOCATION[0]=/updates\nMAKE[0]=\"make all\"\n", fakeBuildFiles("foo"))
	tool := e.r.Write("/opt/mysign", "#!/bin/sh\necho \"$@\" > "+e.root+"/signed\n", 0o755)
	e.write("/var/lib/dkms/mok.key", "k")
	e.write("/var/lib/dkms/mok.pub", "c")
	e.extraEnv = []string{"sign_file=" + tool}
	runSteps(t, e, []step{{[]string{"build", "foo/1.0", "-k", fk}, 0,
		created + "\nSign command: <root>/opt/mysign\nSigning key: <root>/var/lib/dkms/mok.key\nPublic certificate (MOK): <root>/var/lib/dkms/mok.pub\n\n" +
			buildingDone + "Signing module <root>/var/lib/dkms/foo/1.0/build/foo.ko\n", ""}})
	if b, err := os.ReadFile(e.root + "/signed"); err != nil || e.norm(string(b)) != "sha256 <root>/var/lib/dkms/mok.key <root>/var/lib/dkms/mok.pub <root>/var/lib/dkms/foo/1.0/build/foo.ko\n" {
		t.Errorf("sign tool arguments %q %v", b, err)
	}
}

// TestDeltaPostTransactionEnvironment is C1 item 4's example: with no
// framework file the environment's command runs verbatim; with one, it is
// re-expanded at start-up and again at the re-read.
func TestDeltaPostTransactionEnvironment(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, file, command, output string
	}{
		{"no framework file", "", `echo A\$HOME   B`, "A$HOME B"},
		{"one framework file", "# comments only\n", "echo A/home/ptx B", "A/home/ptx B"},
		{"a file assigning it wins", "post_transaction='echo fromfile'\n", "echo fromfile", "fromfile"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := fakeEnv(t, "", nil)
			e.extraEnv = []string{`post_transaction=echo A\$HOME   B`, "HOME=/home/ptx"}
			if tc.file != "" {
				e.write("/etc/dkms/framework.conf", tc.file)
			}
			if _, errOut, code := e.run("add", "foo/1.0"); code != 0 {
				t.Fatalf("add: %d %s", code, errOut)
			}
			out, errOut, code := e.run("unbuild", "foo/1.0", "-k", fk)
			if code != 0 || errOut != "" || !strings.HasSuffix(undot(out), "Executing post-transaction command... done.\n") {
				t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
			}
			b, _ := os.ReadFile(e.dkms + "/post_transaction.log")
			if !strings.Contains(string(b), "\n# command: "+tc.command+"\n"+tc.output+"\n") {
				t.Errorf("post_transaction.log:\n%s\nwant command %q with output %q", b, tc.command, tc.output)
			}
		})
	}
}

// TestDeltaChrootSigning: D12.1 through the binary. Another mount
// namespace than PID 1's means a chroot; try_sign_modules=true still
// signs there; an environment true loses to a framework not_in_chroot.
func TestDeltaChrootSigning(t *testing.T) {
	t.Parallel()
	build := []string{"build", "foo/1.0", "-k", fk}
	cases := []struct {
		name string
		env  []string
		fw   string
		want string
	}{
		{"other mount namespace", nil, "", inChroot},
		{"true signs anyway", []string{"try_sign_modules=true"}, "", noSign},
		{"framework not_in_chroot beats the environment", []string{"try_sign_modules=true"}, "try_sign_modules=not_in_chroot\n", inChroot},
		{"false wins over the chroot message", nil, "try_sign_modules=false\n", policyOff},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			e := fakeEnv(t, "", nil)
			e.write("/proc/self/mountinfo", "22 27 0:21 / /proc rw - proc proc rw\n30 27 0:50 / /tmp rw - tmpfs tmpfs rw\n")
			e.extraEnv = c.env
			if c.fw != "" {
				e.write("/etc/dkms/framework.conf", c.fw)
			}
			runSteps(t, e, []step{{build, 0, created + "\n" + c.want + buildingDone, ""}})
		})
	}
}

// TestDeltaShippedFramework: D2's shipped framework.conf is still only
// comments, with the three new blocks where upstream puts them.
func TestDeltaShippedFramework(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("../../etc/framework.conf")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	at := map[string]int{}
	for i, l := range lines {
		if l != "" && !strings.HasPrefix(l, "#") {
			t.Errorf("line %d is not a comment: %q", i+1, l)
		}
		at[l] = i
	}
	pos := func(l string) int {
		i, ok := at[l]
		if !ok {
			t.Fatalf("missing line %q", l)
		}
		return i
	}
	if !(pos("# sign_file=\"/path/to/sign-file\"") < pos("# try_sign_modules=not_in_chroot")) {
		t.Errorf("try_sign_modules must follow the sign_file block")
	}
	if !(pos("# compress_zstd_opts=\"-q --rm -T0\"") < pos("# build_environment=\"\"") && pos("# build_environment=\"\"") < pos("# post_transaction=\"\"")) {
		t.Errorf("build_environment must sit between the compression and post_transaction blocks")
	}
	if last := lines[len(lines)-1]; last != "# continue_on_error=\"true\"" {
		t.Errorf("last line %q, want the continue_on_error block at the end", last)
	}
}

// TestDeltaEnvironmentResetVariables: symlink_modules is one of the
// variables dkms resets at start-up (C1 item 1), so an environment value
// does not make install link instead of copy.
func TestDeltaEnvironmentResetVariables(t *testing.T) {
	t.Parallel()
	e := fakeEnv(t, "", nil)
	e.extraEnv = []string{"symlink_modules=1"}
	runSteps(t, e, []step{{[]string{"install", "foo/1.0", "-k", fk}, 0,
		created + "\n" + noSign + buildingDone + "Installing <root>/lib/modules/6.1.0-test/updates/dkms/foo.ko\nRunning depmod... done.\n", ""}})
	if st, err := os.Lstat(e.inst + "/" + fk + "/updates/dkms/foo.ko"); err != nil || !st.Mode().IsRegular() {
		t.Errorf("installed module must be a copy: %v %v", st, err)
	}
}

// TestDeltaChrootUnexaminableRoot: where /proc/1/root cannot be examined,
// the build counts as in a chroot, as upstream decides, and prints no
// diagnostic about it.
func TestDeltaChrootUnexaminableRoot(t *testing.T) {
	t.Parallel()
	e := fakeEnv(t, "", nil)
	if err := os.Remove(e.root + "/proc/1/root"); err != nil {
		t.Fatal(err)
	}
	runSteps(t, e, []step{{[]string{"build", "foo/1.0", "-k", fk}, 0, created + "\n" + inChroot + buildingDone, ""}})
}

// TestDeltaEnvironmentCleared: a framework file that assigns the empty
// string clears an environment value, and the built-in default (nproc)
// applies (C1 item 3).
func TestDeltaEnvironmentCleared(t *testing.T) {
	t.Parallel()
	n, err := exec.Command("nproc").Output()
	if err != nil {
		t.Skip("no nproc")
	}
	e := fakeEnv(t, "", nil)
	e.extraEnv = []string{"parallel_jobs=1"}
	e.write("/etc/dkms/framework.conf", "parallel_jobs=\"\"\n")
	runSteps(t, e, []step{{[]string{"build", "foo/1.0", "-k", fk}, 0, created + "\n" + noSign + buildingDone, ""}})
	if got, want := makeLogCommand(t, e), "make -j"+strings.TrimSpace(string(n))+" KERNELRELEASE=6.1.0-test all"; got != want {
		t.Errorf("make ran as %q, want %q", got, want)
	}
}
