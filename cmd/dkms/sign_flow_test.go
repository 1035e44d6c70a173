package main

import (
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dkms-go/dkms/internal/testenv"
)

// TestSigningFlow is §7.2's verified example: no kbuild tool for the
// kernel, so the headers' scripts/sign-file is used; the MOK is generated;
// the tool gets <hash> <key> <cert> <file>; its failure is a warning with
// its output and the build still succeeds.
func TestSigningFlow(t *testing.T) {
	t.Parallel()
	testenv.RequireTools(t, "openssl")
	const k = "6.2.0-test"
	e := newEnv(t)
	e.fakeKernel(k, "CONFIG_MODULE_SIG=y\nCONFIG_MODULE_SIG_HASH=\"sha512\"\n")
	e.module("foo", "2.0", "PACKAGE_NAME=foo\nPACKAGE_VERSION=2.0\nBUILT_MODULE_NAME[0]=foo\nDEST_MODULE_LOCATION[0]=/updates\nMAKE[0]=\"make all\"\n", fakeBuildFiles("foo"))
	args := e.root + "/sign-args"
	e.r.Write("/lib/modules/"+k+"/build/scripts/sign-file", "#!/bin/sh\necho \"$*\" > "+args+"\necho 'cannot sign'\nexit 1\n", 0o755)
	const built = "<root>/var/lib/dkms/foo/2.0/build/foo.ko"
	runSteps(t, e, []step{{[]string{"build", "foo/2.0", "-k", k}, 0,
		"Creating symlink <root>/var/lib/dkms/foo/2.0/source -> <root>/usr/src/foo-2.0\n\n" +
			"Sign command: <root>/lib/modules/" + k + "/build/scripts/sign-file\n" +
			"Signing key: <root>/var/lib/dkms/mok.key\nPublic certificate (MOK): <root>/var/lib/dkms/mok.pub\n" +
			"Certificate or key are missing, generating self signed certificate for MOK...\n\n" +
			"Building module(s)... done.\nSigning module " + built + "\n",
		"Warning: Failed to sign module '" + built + "'!\ncannot sign\n"}})
	b, _ := os.ReadFile(args)
	if want := "sha512 <root>/var/lib/dkms/mok.key <root>/var/lib/dkms/mok.pub " + built + "\n"; e.norm(string(b)) != want {
		t.Errorf("sign-file arguments %q, want %q", e.norm(string(b)), want)
	}
	if _, err := os.Stat(e.dkms + "/foo/2.0/" + k + "/x86_64/module/foo.ko"); err != nil {
		t.Errorf("module not stored after a failed signature: %v", err)
	}
	// The generated certificate is valid for 100 years (36500 days).
	end, err := exec.Command("openssl", "x509", "-inform", "DER", "-in", e.dkms+"/mok.pub", "-noout", "-enddate").Output()
	if err != nil {
		t.Fatal(err)
	}
	fields := strings.Fields(strings.TrimSpace(string(end)))
	year, _ := strconv.Atoi(fields[len(fields)-2])
	if want := time.Now().AddDate(0, 0, 36500).Year(); year != want {
		t.Errorf("certificate ends %s, want the year %d", end, want)
	}
}
