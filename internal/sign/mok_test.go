package sign

import (
	"context"
	"crypto/x509"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const generating = "Certificate or key are missing, generating self signed certificate for MOK...\n"

func TestPrepareMOK(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		setup    func(t *testing.T, d string, c *Config)
		want     string
		wantOK   bool
		wantKey  string
		wantCert string
	}{
		{
			name:   "defaults exist",
			setup:  func(t *testing.T, d string, c *Config) {},
			want:   keyLines,
			wantOK: true, wantKey: "{d}/keys/mok.key", wantCert: "{d}/keys/mok.pub",
		},
		{
			name: "configured key and certificate",
			setup: func(t *testing.T, d string, c *Config) {
				put(t, d+"/etc/k.pem", "k", 0o600)
				put(t, d+"/etc/c.der", "c", 0o644)
				c.Key, c.Cert = d+"/etc/k.pem", d+"/etc/c.der"
			},
			want:   "Signing key: {d}/etc/k.pem\nPublic certificate (MOK): {d}/etc/c.der\n",
			wantOK: true, wantKey: "{d}/etc/k.pem", wantCert: "{d}/etc/c.der",
		},
		{
			name: "configured key only, default certificate",
			setup: func(t *testing.T, d string, c *Config) {
				put(t, d+"/etc/k.pem", "k", 0o600)
				c.Key = d + "/etc/k.pem"
			},
			want:   "Signing key: {d}/etc/k.pem\nPublic certificate (MOK): {d}/keys/mok.pub\n",
			wantOK: true, wantKey: "{d}/etc/k.pem", wantCert: "{d}/keys/mok.pub",
		},
		{
			name:   "pkcs11 key is not generated",
			setup:  func(t *testing.T, d string, c *Config) { c.Key = "pkcs11:object=mok;type=private" },
			want:   "Signing key: pkcs11:object=mok;type=private\nPublic certificate (MOK): {d}/keys/mok.pub\n",
			wantOK: true, wantKey: "pkcs11:object=mok;type=private", wantCert: "{d}/keys/mok.pub",
		},
		{
			name: "pkcs11 key without certificate",
			setup: func(t *testing.T, d string, c *Config) {
				c.Key, c.Cert = "pkcs11:object=mok", d+"/none.der"
			},
			want: "Signing key: pkcs11:object=mok\nPublic certificate (MOK): {d}/none.der\n" +
				"Certificate file {d}/none.der not found and can't be generated, modules won't be signed\n",
		},
		{
			name:  "missing and no openssl",
			setup: func(t *testing.T, d string, c *Config) { os.Remove(c.DefaultCert) },
			want:  keyLines + generating + "openssl not found, can't generate key and certificate.\n",
		},
		{
			name: "openssl cannot write the key",
			setup: func(t *testing.T, d string, c *Config) {
				c.lookPath = exec.LookPath
				c.DefaultKey, c.DefaultCert = d+"/keys/nodir/mok.key", d+"/keys/nodir/mok.pub"
			},
			want: "Signing key: {d}/keys/nodir/mok.key\nPublic certificate (MOK): {d}/keys/nodir/mok.pub\n" + generating +
				"Key file {d}/keys/nodir/mok.key not found and can't be generated, modules won't be signed\n",
		},
		{
			name: "generator writes only the key",
			setup: func(t *testing.T, d string, c *Config) {
				os.Remove(c.DefaultKey)
				os.Remove(c.DefaultCert)
				put(t, d+"/bin/openssl", "#!/bin/sh\nwhile [ $# -gt 0 ]; do [ \"$1\" = -keyout ] && echo key > \"$2\"; shift; done\nexit 1\n", 0o755)
				c.lookPath = pathOf(map[string]string{"openssl": d + "/bin/openssl"})
			},
			want: keyLines + generating +
				"Certificate file {d}/keys/mok.pub not found and can't be generated, modules won't be signed\n",
		},
		{
			name: "ubuntu uses shim-signed keys over the configured certificate",
			setup: func(t *testing.T, d string, c *Config) {
				c.Distro, c.Cert = "ubuntu", d+"/keys/mok.pub"
				put(t, d+"/shim/MOK.priv", "k", 0o600)
				put(t, d+"/shim/MOK.der", "c", 0o644)
			},
			want:   "Signing key: {d}/shim/MOK.priv\nPublic certificate (MOK): {d}/shim/MOK.der\n",
			wantOK: true, wantKey: "{d}/shim/MOK.priv", wantCert: "{d}/shim/MOK.der",
		},
		{
			name:  "ubuntu without update-secureboot-policy",
			setup: func(t *testing.T, d string, c *Config) { c.Distro = "ubuntu" },
			want:  "Binary update-secureboot-policy not found, modules won't be signed\n",
		},
		{
			name: "ubuntu generates with update-secureboot-policy",
			setup: func(t *testing.T, d string, c *Config) {
				c.Distro = "ubuntu"
				put(t, d+"/shim/MOK.der", "stale", 0o644)
				// --new-key only works with the trigger disabled and after the
				// stale certificate is gone; its output must not be shown.
				script := "#!/bin/sh\ncase $1 in\n" +
					"--new-key) echo noise; [ \"$SHIM_NOTRIGGER\" = y ] && [ ! -e " + d + "/shim/MOK.der ] && echo k > " + d + "/shim/MOK.priv && echo c > " + d + "/shim/MOK.der;;\n" +
					"--enroll-key) echo enrolled; echo to-stderr >&2;;\nesac\n"
				put(t, d+"/bin/update-secureboot-policy", script, 0o755)
				c.lookPath = pathOf(map[string]string{"update-secureboot-policy": d + "/bin/update-secureboot-policy"})
			},
			want: "Certificate or key are missing, generating them using update-secureboot-policy...\nenrolled\nto-stderr\n" +
				"Signing key: {d}/shim/MOK.priv\nPublic certificate (MOK): {d}/shim/MOK.der\n",
			wantOK: true, wantKey: "{d}/shim/MOK.priv", wantCert: "{d}/shim/MOK.der",
		},
		{
			name: "configured key skips the ubuntu branch",
			setup: func(t *testing.T, d string, c *Config) {
				c.Distro, c.Key = "ubuntu", c.DefaultKey
			},
			want:   keyLines,
			wantOK: true, wantKey: "{d}/keys/mok.key", wantCert: "{d}/keys/mok.pub",
		},
		{
			name: "gentoo environment",
			setup: func(t *testing.T, d string, c *Config) {
				c.Distro = "gentoo"
				put(t, d+"/g/env.pem", "k", 0o600)
				put(t, d+"/g/env.der", "c", 0o644)
				env := map[string]string{"MODULES_SIGN_KEY": d + "/g/env.pem", "MODULES_SIGN_CERT": d + "/g/env.der"}
				c.getenv = func(k string) string { return env[k] }
				put(t, c.makeConf, "MODULES_SIGN_KEY=\""+d+"/g/conf.pem\"\n", 0o644)
			},
			want:   "Signing key: {d}/g/env.pem\nPublic certificate (MOK): {d}/g/env.der\n",
			wantOK: true, wantKey: "{d}/g/env.pem", wantCert: "{d}/g/env.der",
		},
		{
			name: "gentoo make.conf",
			setup: func(t *testing.T, d string, c *Config) {
				c.Distro = "gentoo"
				put(t, d+"/g/conf.pem", "k", 0o600)
				put(t, d+"/g/conf.der", "c", 0o644)
				put(t, c.makeConf, "# MODULES_SIGN_KEY=nope\nMODULES_SIGN_KEY=\""+d+"/g/conf.pem\"\nMODULES_SIGN_CERT="+d+"/g/conf.der\n", 0o644)
			},
			want:   "Signing key: {d}/g/conf.pem\nPublic certificate (MOK): {d}/g/conf.der\n",
			wantOK: true, wantKey: "{d}/g/conf.pem", wantCert: "{d}/g/conf.der",
		},
		{
			name: "gentoo kernel signing key for both",
			setup: func(t *testing.T, d string, c *Config) {
				c.Distro, c.Cert = "gentoo", d+"/ignored.der"
				put(t, d+"/g/signing_key.pem", "k and c", 0o600)
				put(t, c.KernelConfig, "CONFIG_MODULE_SIG_KEY=\""+d+"/g/signing_key.pem\"\n", 0o644)
			},
			want:   "Signing key: {d}/g/signing_key.pem\nPublic certificate (MOK): {d}/g/signing_key.pem\n",
			wantOK: true, wantKey: "{d}/g/signing_key.pem", wantCert: "{d}/g/signing_key.pem",
		},
		// D12.2: a relative key is resolved in the kernel source directory
		// to a canonical path, symlinks included.
		{
			name: "gentoo relative kernel key made canonical",
			setup: func(t *testing.T, d string, c *Config) {
				c.Distro = "gentoo"
				put(t, d+"/real-src/certs/signing_key.pem", "k and c", 0o600)
				if err := os.Symlink(d+"/real-src", d+"/src-link"); err != nil {
					t.Fatal(err)
				}
				c.KernelSourceDir = d + "/src-link"
				put(t, c.KernelConfig, "CONFIG_MODULE_SIG_KEY=\"certs/signing_key.pem\"\n", 0o644)
			},
			want:   "Signing key: {d}/real-src/certs/signing_key.pem\nPublic certificate (MOK): {d}/real-src/certs/signing_key.pem\n",
			wantOK: true, wantKey: "{d}/real-src/certs/signing_key.pem", wantCert: "{d}/real-src/certs/signing_key.pem",
		},
		{
			name: "gentoo kernel key with a missing directory falls back",
			setup: func(t *testing.T, d string, c *Config) {
				c.Distro = "gentoo"
				c.KernelSourceDir = d + "/real-src"
				put(t, c.KernelConfig, "CONFIG_MODULE_SIG_KEY=\"nodir/signing_key.pem\"\n", 0o644)
			},
			want:   keyLines,
			wantOK: true, wantKey: "{d}/keys/mok.key", wantCert: "{d}/keys/mok.pub",
		},
		{
			name: "gentoo pkcs11 kernel key stays a URI",
			setup: func(t *testing.T, d string, c *Config) {
				c.Distro = "gentoo"
				c.KernelSourceDir = d
				put(t, c.KernelConfig, "CONFIG_MODULE_SIG_KEY=\"pkcs11:token=k\"\n", 0o644)
			},
			want: "Signing key: pkcs11:token=k\nPublic certificate (MOK): pkcs11:token=k\n" +
				"Certificate file pkcs11:token=k not found and can't be generated, modules won't be signed\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			d := t.TempDir()
			c := baseConfig(t, d)
			tt.setup(t, d, &c)
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			var out strings.Builder
			key, cert, ok := PrepareMOK(ctx, c, &out)
			if got, want := out.String(), expand(tt.want, d); got != want {
				t.Errorf("output:\n%s\nwant:\n%s", got, want)
			}
			if ok != tt.wantOK {
				t.Fatalf("ok = %v, want %v", ok, tt.wantOK)
			}
			if key != expand(tt.wantKey, d) || cert != expand(tt.wantCert, d) {
				t.Errorf("key, cert = %q, %q; want %q, %q", key, cert, expand(tt.wantKey, d), expand(tt.wantCert, d))
			}
		})
	}
}

func needOpenSSL(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("openssl"); err != nil {
		t.Skip("openssl not installed")
	}
}

// TestGenerateMOK runs the real openssl and checks what upstream dkms
// produces: a 0600 PEM key and a DER code-signing certificate for 100 years.
func TestGenerateMOK(t *testing.T) {
	t.Parallel()
	needOpenSSL(t)
	for _, existing := range []string{"", "key", "cert"} {
		t.Run("existing="+existing, func(t *testing.T) {
			t.Parallel()
			d := t.TempDir()
			key, cert := filepath.Join(d, "mok.key"), filepath.Join(d, "mok.pub")
			switch existing {
			case "key":
				put(t, key, "old key", 0o644)
			case "cert":
				put(t, cert, "old cert", 0o644)
			}
			c := Config{Distro: "debian", DefaultKey: key, DefaultCert: cert}
			var out strings.Builder
			gotKey, gotCert, ok := PrepareMOK(context.Background(), c, &out)
			want := "Signing key: " + key + "\nPublic certificate (MOK): " + cert + "\n" + generating
			if out.String() != want || !ok || gotKey != key || gotCert != cert {
				t.Fatalf("PrepareMOK = %q, %q, %v; output:\n%s", gotKey, gotCert, ok, out.String())
			}
			fi, err := os.Stat(key)
			if err != nil {
				t.Fatal(err)
			}
			if fi.Mode().Perm() != 0o600 {
				t.Errorf("key mode %v, want 0600", fi.Mode().Perm())
			}
			pem, _ := os.ReadFile(key)
			if !strings.HasPrefix(string(pem), "-----BEGIN PRIVATE KEY-----") {
				t.Errorf("key is not an unencrypted PEM private key: %.40q", pem)
			}
			der, err := os.ReadFile(cert)
			if err != nil {
				t.Fatal(err)
			}
			x, err := x509.ParseCertificate(der)
			if err != nil {
				t.Fatalf("certificate is not DER: %v", err)
			}
			if x.Subject.String() != "CN=DKMS module signing key" {
				t.Errorf("subject %q", x.Subject.String())
			}
			if len(x.ExtKeyUsage) != 1 || x.ExtKeyUsage[0] != x509.ExtKeyUsageCodeSigning {
				t.Errorf("extended key usage %v, want code signing", x.ExtKeyUsage)
			}
			if days := x.NotAfter.Sub(x.NotBefore).Hours() / 24; days < 36499 || days > 36501 {
				t.Errorf("validity %v days, want 36500", days)
			}

			// Once both exist nothing is generated again.
			out.Reset()
			if _, _, ok := PrepareMOK(context.Background(), c, &out); !ok || strings.Contains(out.String(), "generating") {
				t.Errorf("second run: ok=%v output:\n%s", ok, out.String())
			}
			if again, _ := os.ReadFile(cert); string(again) != string(der) {
				t.Error("certificate regenerated although both files existed")
			}
		})
	}
}
