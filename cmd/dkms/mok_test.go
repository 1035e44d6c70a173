package main

import (
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/dkms-go/dkms/internal/testenv"
)

func TestGenerateMOK(t *testing.T) {
	t.Parallel()
	testenv.RequireTools(t, "openssl")
	tests := []struct {
		name      string
		framework string // framework.conf; <root> is replaced
		args      []string
		code      int
		stdout    string
		key, cert string // files that must exist afterwards ("" = none)
	}{
		{"defaults under the root", "", nil, 0,
			"Signing key: <root>/var/lib/dkms/mok.key\nPublic certificate (MOK): <root>/var/lib/dkms/mok.pub\n" +
				"Certificate or key are missing, generating self signed certificate for MOK...\n",
			"/var/lib/dkms/mok.key", "/var/lib/dkms/mok.pub"},
		{"configured paths, module and kernel ignored", "mok_signing_key=<root>/keys/my.key\nmok_certificate=<root>/keys/my.der\n",
			[]string{"-m", "foo", "-v", "1.0", "-k", "6.1.0-test"}, 0,
			"Signing key: <root>/keys/my.key\nPublic certificate (MOK): <root>/keys/my.der\n" +
				"Certificate or key are missing, generating self signed certificate for MOK...\n",
			"/keys/my.key", "/keys/my.der"},
		{"kernelver in framework.conf", "mok_signing_key=<root>/keys/$kernelver.key\nmok_certificate=<root>/keys/$kernelver.der\n",
			[]string{"-k", "6.1.0-test"}, 0,
			"Signing key: <root>/keys/6.1.0-test.key\nPublic certificate (MOK): <root>/keys/6.1.0-test.der\n" +
				"Certificate or key are missing, generating self signed certificate for MOK...\n",
			"/keys/6.1.0-test.key", "/keys/6.1.0-test.der"},
		{"cannot generate", "mok_signing_key=<root>/etc/os-release/k.key\nmok_certificate=<root>/etc/os-release/c.der\n", nil, 1,
			"Signing key: <root>/etc/os-release/k.key\nPublic certificate (MOK): <root>/etc/os-release/c.der\n" +
				"Certificate or key are missing, generating self signed certificate for MOK...\n" +
				"Key file <root>/etc/os-release/k.key not found and can't be generated, modules won't be signed\n",
			"", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			os.MkdirAll(e.root+"/keys", 0o755)
			if tc.framework != "" {
				e.write("/etc/dkms/framework.conf", strings.ReplaceAll(tc.framework, "<root>", e.root))
			}
			out, errOut, code := e.run(append([]string{"generate_mok"}, tc.args...)...)
			if code != tc.code || out != tc.stdout || errOut != "" {
				t.Fatalf("exit %d (want %d)\nstdout:\n%s\nwant:\n%s\nstderr:\n%s", code, tc.code, out, tc.stdout, errOut)
			}
			if tc.key == "" {
				return
			}
			if st, err := os.Stat(e.root + tc.key); err != nil || st.Mode().Perm() != 0o600 {
				t.Errorf("key %s: %v (must be mode 0600)", tc.key, err)
			}
			der, err := exec.Command("openssl", "x509", "-inform", "DER", "-in", e.root+tc.cert, "-noout", "-subject", "-ext", "extendedKeyUsage").CombinedOutput()
			if err != nil || !strings.Contains(string(der), "DKMS module signing key") || !strings.Contains(string(der), "Code Signing") {
				t.Errorf("certificate: %v\n%s", err, der)
			}
			// A second run finds both and generates nothing.
			again, _, code := e.run(append([]string{"generate_mok"}, tc.args...)...)
			if want := strings.SplitAfterN(tc.stdout, "\n", 3); code != 0 || again != want[0]+want[1] {
				t.Errorf("second run: %d %q", code, again)
			}
		})
	}
}
