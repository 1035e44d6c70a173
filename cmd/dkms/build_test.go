package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/dkms-go/dkms/internal/testenv"
)

const helloConf = `PACKAGE_NAME="dkms-hello"
PACKAGE_VERSION="1.0"
BUILT_MODULE_NAME[0]="dkms_hello"
DEST_MODULE_LOCATION[0]="/updates"
AUTOINSTALL="yes"
`

var (
	timeLine = regexp.MustCompile(`(?m)^# elapsed time: \d\d:\d\d:\d\d$`)
	dots     = regexp.MustCompile(`\.\.\.\.+( done\.|\(bad exit)`)
)

// undot removes the progress dots printed every 3 seconds of a long step.
func undot(s string) string { return dots.ReplaceAllString(s, "...$1") }

// TestRealModuleLifecycle builds the example module for the installed
// Debian kernel with real make and gcc, signs it with a generated MOK key,
// installs it into a temporary module tree and takes it out again.
func TestRealModuleLifecycle(t *testing.T) {
	testenv.RequireRoot(t)
	testenv.RequireTools(t, "make", "gcc", "openssl", "modinfo")
	k := testenv.DebianKernel(t)
	e := newEnv(t)
	e.realKernel(k)
	e.module("dkms-hello", "1.0", helloConf, testenv.ExampleModule(t))

	out, errOut, code := e.run("add", "dkms-hello/1.0", "-k", k)
	if code != 0 || out != "Creating symlink <root>/var/lib/dkms/dkms-hello/1.0/source -> <root>/usr/src/dkms-hello-1.0\n" {
		t.Fatalf("add: %d\n%s\n%s", code, out, errOut)
	}
	out, errOut, code = e.run("build", "dkms-hello/1.0", "-k", k)
	out = undot(out)
	if code != 0 {
		t.Fatalf("build: %d\n%s\n%s", code, out, errOut)
	}
	wantBuild := "Sign command: /usr/lib/linux-kbuild-" + k[:strings.LastIndex(k[:strings.Index(k, "-")], ".")] + "/scripts/sign-file\n" +
		"Signing key: <root>/var/lib/dkms/mok.key\n" +
		"Public certificate (MOK): <root>/var/lib/dkms/mok.pub\n" +
		"Certificate or key are missing, generating self signed certificate for MOK...\n\n" +
		"Building module(s)... done.\n" +
		"Signing module <root>/var/lib/dkms/dkms-hello/1.0/build/dkms_hello.ko\n"
	if out != wantBuild {
		t.Errorf("build output:\n%s\nwant (after the sign command line):\n%s", out, wantBuild)
	}
	built := e.dkms + "/dkms-hello/1.0/" + k + "/x86_64/module/dkms_hello.ko"
	if _, err := os.Stat(built); err != nil {
		t.Fatalf("built module missing: %v", err)
	}
	if _, err := os.Stat(e.dkms + "/dkms-hello/1.0/build"); !os.IsNotExist(err) {
		t.Errorf("build/ must be deleted after a successful build: %v", err)
	}
	signer, err := exec.Command("modinfo", "-F", "signer", built).Output()
	if err != nil || strings.TrimSpace(string(signer)) != "DKMS module signing key" {
		t.Errorf("signer = %q, %v", signer, err)
	}
	log, _ := os.ReadFile(e.dkms + "/dkms-hello/1.0/" + k + "/x86_64/log/make.log")
	logText := timeLine.ReplaceAllString(e.norm(string(log)), "# elapsed time: HH:MM:SS")
	lines := strings.SplitN(logText, "\n", 3)
	if lines[0] != "DKMS (dkms-3.4.3) make.log for dkms-hello/1.0 for kernel "+k+" (x86_64)" {
		t.Errorf("make.log header: %q", lines[0])
	}
	if !strings.Contains(logText, "\nBuilding module(s)\n# command: make -j") ||
		!strings.Contains(logText, "# exit code: 0\n# elapsed time: HH:MM:SS\n"+strings.Repeat("-", 64)+"\n") {
		t.Errorf("make.log records malformed:\n%s", logText)
	}

	out, errOut, code = e.run("build", "dkms-hello/1.0", "-k", k)
	if code != 0 || out != "Module dkms-hello/1.0 already built for kernel "+k+" (x86_64), skip. You may override by specifying --force.\n" {
		t.Errorf("second build: %d %q %q", code, out, errOut)
	}

	out, errOut, code = e.run("install", "dkms-hello/1.0", "-k", k)
	wantInstall := "Installing <root>/lib/modules/" + k + "/updates/dkms/dkms_hello.ko\nRunning depmod... done.\n"
	if code != 0 || out != wantInstall {
		t.Fatalf("install: %d\n%q\nwant %q\n%s", code, out, wantInstall, errOut)
	}
	target, _ := os.Readlink(e.dkms + "/dkms-hello/kernel-" + k + "-x86_64")
	if target != "1.0/"+k+"/x86_64" {
		t.Errorf("kernel link -> %q", target)
	}
	vers, err := exec.Command("modinfo", "-F", "version", e.inst+"/"+k+"/updates/dkms/dkms_hello.ko").Output()
	if err != nil || strings.TrimSpace(string(vers)) != "1.0" {
		t.Errorf("installed modinfo version %q %v", vers, err)
	}
	out, _, _ = e.run("status")
	if out != "dkms-hello/1.0, "+k+", x86_64: installed\n" {
		t.Errorf("status: %q", out)
	}

	out, errOut, code = e.run("uninstall", "dkms-hello/1.0", "-k", k)
	wantUninstall := "Module dkms-hello/1.0 for kernel " + k + " (x86_64):\n" +
		"Before uninstall, this module version was ACTIVE on this kernel.\n" +
		"Deleting <root>/lib/modules/" + k + "/updates/dkms/dkms_hello.ko\n" +
		"Running depmod... done.\n"
	if code != 0 || out != wantUninstall {
		t.Errorf("uninstall: %d\n%s\nwant\n%s\n%s", code, out, wantUninstall, errOut)
	}
	if _, err := os.Stat(e.inst + "/" + k + "/updates"); !os.IsNotExist(err) {
		t.Errorf("empty updates/dkms must be pruned: %v", err)
	}
	out, _, code = e.run("remove", "dkms-hello/1.0", "--all")
	want := "Module dkms-hello/1.0 is not installed for kernel " + k + " (x86_64). Skipping...\n\n" +
		"Deleting module dkms-hello/1.0 completely from the DKMS tree.\n"
	if code != 0 || out != want {
		t.Errorf("remove --all: %d\n%q\nwant %q", code, out, want)
	}
	if _, err := os.Stat(e.dkms + "/dkms-hello"); !os.IsNotExist(err) {
		t.Errorf("module dir left behind: %v", err)
	}
}

// TestBuildFailureKeepsTree: a compile error gives die 10, keeps build/
// with its make.log for inspection, and leaves the module "added".
func TestBuildFailureKeepsTree(t *testing.T) {
	testenv.RequireRoot(t)
	testenv.RequireTools(t, "make", "gcc")
	k := testenv.DebianKernel(t)
	e := newEnv(t)
	e.realKernel(k)
	files := testenv.ExampleModule(t)
	files["dkms_hello.c"] = "this is not C\n"
	e.module("dkms-hello", "1.0", helloConf, files)
	e.write("/etc/dkms/framework.conf", "sign_file=/nonexistent\n")
	out, errOut, code := e.run("install", "dkms-hello/1.0", "-k", k)
	out = undot(out)
	if code != 10 {
		t.Fatalf("exit %d, want 10\n%s\n%s", code, out, errOut)
	}
	if !strings.Contains(out, "Building module(s)...(bad exit status: 2)\nFailed command:\nmake -j") {
		t.Errorf("stdout:\n%s", out)
	}
	wantErr := "\nError! Bad return status for module build on kernel: " + k + " (x86_64)\n" +
		"Consult <root>/var/lib/dkms/dkms-hello/1.0/build/make.log for more information.\n"
	if errOut != wantErr {
		t.Errorf("stderr %q\nwant %q", errOut, wantErr)
	}
	if _, err := os.Stat(e.dkms + "/dkms-hello/1.0/build/make.log"); err != nil {
		t.Errorf("make.log must stay: %v", err)
	}
	if m, _ := filepath.Glob(e.dkms + "/dkms-hello/1.0/" + k); len(m) != 0 {
		t.Errorf("a failed build must not leave a kernel dir: %v", m)
	}
	st, _, _ := e.run("status")
	if st != "dkms-hello/1.0: added\n" {
		t.Errorf("status after failure %q", st)
	}
}
