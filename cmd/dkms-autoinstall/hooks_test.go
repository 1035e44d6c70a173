package main

import (
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/dkms-go/dkms/internal/testenv"
)

// hookRun is one way a kernel package or kernel-install calls us.
type hookRun struct {
	name   string
	script string // below hooks/
	args   []string
}

var installHooks = []hookRun{
	{"postinst.d", "kernel-postinst.d/dkms", []string{fk, "/boot/vmlinuz-" + fk}},
	{"kernel-install add", "kernel-install/40-dkms.install", []string{"add", fk, "/boot/efi/x/" + fk, "/boot/vmlinuz-" + fk}},
}

// TestHookFailingModule: a module that does not build never fails the
// kernel package or kernel-install; stderr names the module and its
// make.log, stdout stays clean for debconf; strict mode makes it fatal.
func TestHookFailingModule(t *testing.T) {
	t.Parallel()
	testenv.RequireRoot(t)
	testenv.RequireTools(t, "make")
	for _, h := range installHooks {
		for _, strict := range []string{"", "autoinstall_strict=yes\n"} {
			t.Run(h.name+"/"+strings.TrimSpace(strict), func(t *testing.T) {
				t.Parallel()
				m := newMachine(t, strict)
				m.fakeKernel(fk)
				m.fakeModule("good")
				m.brokenModule("bad")
				out, errOut, code := m.exec(nil, repo+"/hooks/"+h.script, h.args...)
				want := 0
				if strict != "" {
					want = 11
				}
				if code != want {
					t.Errorf("exit %d, want %d\n%s", code, want, errOut)
				}
				if out != "" {
					t.Errorf("stdout must stay empty under debconf, got:\n%s", out)
				}
				line := "dkms-autoinstall: error: module bad/1.0 failed for kernel " + fk +
					" (status 10); see <root>/var/lib/dkms/bad/1.0/build/make.log\n"
				if !strings.Contains(errOut, line) {
					t.Errorf("stderr lacks %q:\n%s", line, errOut)
				}
				if !strings.Contains(errOut, "Autoinstall on "+fk+" failed for module(s) bad(10).") {
					t.Errorf("stderr lacks the autoinstall summary:\n%s", errOut)
				}
				if !m.installed(fk, "good") {
					t.Error("the module that builds was not installed")
				}
				log, err := os.ReadFile(m.dkms + "/bad/1.0/build/make.log")
				if err != nil || !strings.Contains(string(log), "error: does not build") {
					t.Errorf("make.log: %v\n%s", err, log)
				}
			})
		}
	}
}

// TestHookRemoval: prerm.d and kernel-install remove take the modules
// away, preinst.d the AUTOINSTALL ones; all exit 0.
func TestHookRemoval(t *testing.T) {
	t.Parallel()
	testenv.RequireRoot(t)
	testenv.RequireTools(t, "make")
	for _, h := range []hookRun{
		{"prerm.d", "kernel-prerm.d/dkms", []string{fk, "/boot/vmlinuz-" + fk}},
		{"preinst.d", "kernel-preinst.d/dkms", []string{fk, "/boot/vmlinuz-" + fk}},
		{"kernel-install remove", "kernel-install/40-dkms.install", []string{"remove", fk, "/boot/efi/x/" + fk}},
	} {
		t.Run(h.name, func(t *testing.T) {
			t.Parallel()
			m := newMachine(t, "")
			m.fakeKernel(fk)
			m.fakeModule("good")
			if _, errOut, code := m.exec(nil, repo+"/hooks/kernel-postinst.d/dkms", fk); code != 0 || !m.installed(fk, "good") {
				t.Fatalf("install: %d\n%s", code, errOut)
			}
			out, errOut, code := m.exec(nil, repo+"/hooks/"+h.script, h.args...)
			if code != 0 || out != "" {
				t.Errorf("exit %d, stdout %q\n%s", code, out, errOut)
			}
			if m.installed(fk, "good") {
				t.Errorf("module still installed\n%s", errOut)
			}
			if !strings.Contains(errOut, "dkms: removing module good/1.0 for kernel "+fk) {
				t.Errorf("stderr:\n%s", errOut)
			}
		})
	}
}

// TestHookEdges: no binary installed (package removed, hooks left as
// conffiles), an image without headers, a kernel-install verb we do not
// handle: all exit 0 quietly or with upstream's message.
func TestHookEdges(t *testing.T) {
	t.Parallel()
	m := newMachine(t, "autoinstall_strict=yes\n")
	cases := []struct {
		name   string
		extra  []string
		script string
		args   []string
		stderr string
	}{
		{"postinst.d without binary", []string{"DKMS_AUTOINSTALL=/nonexistent"}, "kernel-postinst.d/dkms", []string{fk}, ""},
		{"prerm.d without binary", []string{"DKMS_AUTOINSTALL=/nonexistent"}, "kernel-prerm.d/dkms", []string{fk}, ""},
		{"preinst.d without binary", []string{"DKMS_AUTOINSTALL=/nonexistent"}, "kernel-preinst.d/dkms", []string{fk}, ""},
		{"kernel-install without binary", []string{"DKMS_AUTOINSTALL=/nonexistent"}, "kernel-install/40-dkms.install", []string{"add", fk}, ""},
		{"kernel-install other verb", nil, "kernel-install/40-dkms.install", []string{"inspect", fk}, ""},
		{"postinst.d without headers", nil, "kernel-postinst.d/dkms", []string{"6.1.0-noheaders", "/boot/vmlinuz"},
			"dkms-autoinstall: Automatic installation of modules for kernel 6.1.0-noheaders was skipped since the kernel headers for this kernel do not seem to be installed.\n"},
	}
	for _, c := range cases {
		out, errOut, code := m.exec(c.extra, repo+"/hooks/"+c.script, c.args...)
		if code != 0 || out != "" || errOut != c.stderr {
			t.Errorf("%s: exit %d\nstdout:\n%s\nstderr:\n%s\nwant stderr:\n%s", c.name, code, out, errOut, c.stderr)
		}
	}
}

// TestHookScriptsShellcheck: the scripts are POSIX sh and lint clean.
func TestHookScriptsShellcheck(t *testing.T) {
	t.Parallel()
	testenv.RequireTools(t, "shellcheck")
	scripts := []string{"kernel-postinst.d/dkms", "kernel-preinst.d/dkms", "kernel-prerm.d/dkms",
		"kernel-install/40-dkms.install", "dkms_autoinstaller"}
	for _, s := range scripts {
		out, err := exec.Command("shellcheck", "--shell=sh", repo+"/hooks/"+s).CombinedOutput()
		if err != nil {
			t.Errorf("shellcheck %s: %v\n%s", s, err, out)
		}
		if st, err := os.Stat(repo + "/hooks/" + s); err != nil || st.Mode()&0o111 == 0 {
			t.Errorf("%s is not executable: %v", s, err)
		}
	}
}

// TestAutoinstallerCompat: upstream's SysV-style script (§8.1). It looks
// for /usr/sbin/dkms itself, so what can be checked depends on whether
// dkms is installed on the machine running the tests.
func TestAutoinstallerCompat(t *testing.T) {
	t.Parallel()
	script := repo + "/hooks/dkms_autoinstaller"
	run := func(args ...string) (string, int) {
		out, err := exec.Command(script, args...).CombinedOutput()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return string(out), code
	}
	if st, err := os.Stat("/usr/sbin/dkms"); err != nil || !st.Mode().IsRegular() {
		for _, args := range [][]string{{"start"}, {}, {"bogus"}} {
			if out, code := run(args...); code != 0 || out != "" {
				t.Errorf("%v without /usr/sbin/dkms: exit %d, output %q", args, code, out)
			}
		}
		return
	}
	for _, verb := range []string{"stop", "restart", "force-reload", "status", "reload"} {
		if out, code := run(verb); code != 0 || out != "" {
			t.Errorf("%s: exit %d, output %q", verb, code, out)
		}
	}
	if out, code := run("bogus"); code != 2 || out != "Usage: "+script+" {start}\n" {
		t.Errorf("bogus: exit %d, output %q", code, out)
	}
	out, code := run("start", "0.0.0-no-such-kernel")
	want := "Automatic installation of modules for kernel 0.0.0-no-such-kernel was skipped since the kernel headers for this kernel do not seem to be installed.\n"
	if code != 0 || out != want {
		t.Errorf("start without headers: exit %d, output %q", code, out)
	}
}
