package sign

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
)

// baseConfig describes a Debian kernel in dir with a hash configured and an
// existing key pair, so only the branch under test differs.
func baseConfig(t *testing.T, dir string) Config {
	t.Helper()
	put(t, filepath.Join(dir, "kconfig"), signHashConfig, 0o644)
	put(t, filepath.Join(dir, "keys", "mok.key"), "key", 0o600)
	put(t, filepath.Join(dir, "keys", "mok.pub"), "cert", 0o644)
	return Config{
		Kernel:       "6.1.0-13-amd64",
		KernelConfig: filepath.Join(dir, "kconfig"),
		InstallTree:  filepath.Join(dir, "lib", "modules"),
		Distro:       "debian",
		Try:          "true", // the chroot test has its own tests
		DefaultKey:   filepath.Join(dir, "keys", "mok.key"),
		DefaultCert:  filepath.Join(dir, "keys", "mok.pub"),
		lookPath:     noPath,
		getenv:       func(string) string { return "" },
		usrLib:       filepath.Join(dir, "usr", "lib"),
		usrSrc:       filepath.Join(dir, "usr", "src"),
		shimMOKDir:   filepath.Join(dir, "shim"),
		makeConf:     filepath.Join(dir, "make.conf"),
	}
}

const (
	keyLines  = "Signing key: {d}/keys/mok.key\nPublic certificate (MOK): {d}/keys/mok.pub\n"
	kbuild    = "{d}/usr/lib/linux-kbuild-6.1/scripts/sign-file"
	buildTool = "{d}/lib/modules/6.1.0-13-amd64/build/scripts/sign-file"
)

func TestPrepare(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		setup    func(t *testing.T, d string, c *Config)
		want     string // output with {d} for the test directory
		wantTool string // "" = signing off
	}{
		{
			name:  "kernel config missing",
			setup: func(t *testing.T, d string, c *Config) { c.KernelConfig = d + "/nonexistent/.config" },
			want:  "Kernel config {d}/nonexistent/.config not found, modules won't be signed\n",
		},
		{
			name:  "kernel config is a directory",
			setup: func(t *testing.T, d string, c *Config) { c.KernelConfig = d + "/keys" },
			want:  "Kernel config {d}/keys not found, modules won't be signed\n",
		},
		{
			name: "no CONFIG_MODULE_SIG_HASH",
			setup: func(t *testing.T, d string, c *Config) {
				put(t, c.KernelConfig, "CONFIG_MODULE_SIG=y\n# CONFIG_MODULE_SIG_HASH is not set\n CONFIG_MODULE_SIG_HASH=\"sha1\"\n", 0o644)
			},
			want: "The kernel is built without module signing facility, modules won't be signed\n",
		},
		{
			name: "configured tool used as given without fallback",
			setup: func(t *testing.T, d string, c *Config) {
				c.SignFile = d + "/bin/my-sign"
				put(t, d+"/lib/modules/6.1.0-13-amd64/build/scripts/sign-file", "#!/bin/sh\n", 0o755)
			},
			want: "Sign command: {d}/bin/my-sign\nBinary {d}/bin/my-sign not found, modules won't be signed\n",
		},
		{
			name: "configured tool not executable",
			setup: func(t *testing.T, d string, c *Config) {
				c.SignFile = d + "/bin/my-sign"
				put(t, c.SignFile, "#!/bin/sh\n", 0o644)
			},
			want: "Sign command: {d}/bin/my-sign\nBinary {d}/bin/my-sign not found, modules won't be signed\n",
		},
		{
			name: "configured tool",
			setup: func(t *testing.T, d string, c *Config) {
				c.SignFile = d + "/bin/my-sign"
				put(t, c.SignFile, "#!/bin/sh\n", 0o755)
			},
			want:     "Sign command: {d}/bin/my-sign\n" + keyLines,
			wantTool: "{d}/bin/my-sign",
		},
		{
			name:     "debian kbuild tool",
			setup:    func(t *testing.T, d string, c *Config) { put(t, expand(kbuild, d), "#!/bin/sh\n", 0o755) },
			want:     "Sign command: " + kbuild + "\n" + keyLines,
			wantTool: kbuild,
		},
		{
			name:     "debian falls back to the build directory",
			setup:    func(t *testing.T, d string, c *Config) { put(t, expand(buildTool, d), "#!/bin/sh\n", 0o755) },
			want:     "Sign command: " + buildTool + "\n" + keyLines,
			wantTool: buildTool,
		},
		{
			name:  "debian without any tool",
			setup: func(t *testing.T, d string, c *Config) {},
			want:  "Sign command: " + buildTool + "\nBinary " + buildTool + " not found, modules won't be signed\n",
		},
		{
			name: "debian kernel without dots",
			setup: func(t *testing.T, d string, c *Config) {
				c.Kernel = "custom"
				put(t, d+"/usr/lib/linux-kbuild-custom/scripts/sign-file", "#!/bin/sh\n", 0o755)
			},
			want:     "Sign command: {d}/usr/lib/linux-kbuild-custom/scripts/sign-file\n" + keyLines,
			wantTool: "{d}/usr/lib/linux-kbuild-custom/scripts/sign-file",
		},
		{
			name: "ubuntu kmodsign",
			setup: func(t *testing.T, d string, c *Config) {
				c.Distro, c.Key, c.Cert = "ubuntu", c.DefaultKey, c.DefaultCert
				put(t, d+"/bin/kmodsign", "#!/bin/sh\n", 0o755)
				c.lookPath = pathOf(map[string]string{"kmodsign": d + "/bin/kmodsign"})
			},
			want:     "Sign command: {d}/bin/kmodsign\n" + keyLines,
			wantTool: "{d}/bin/kmodsign",
		},
		{
			name: "linux mint is ubuntu",
			setup: func(t *testing.T, d string, c *Config) {
				c.Distro, c.Key, c.Cert = "ubuntu debian", c.DefaultKey, c.DefaultCert
				put(t, d+"/usr/src/linux-headers-6.1.0-13-amd64/scripts/sign-file", "#!/bin/sh\n", 0o755)
			},
			want:     "Sign command: {d}/usr/src/linux-headers-6.1.0-13-amd64/scripts/sign-file\n" + keyLines,
			wantTool: "{d}/usr/src/linux-headers-6.1.0-13-amd64/scripts/sign-file",
		},
		{
			name: "ubuntu kmodsign not executable",
			setup: func(t *testing.T, d string, c *Config) {
				c.Distro, c.Key, c.Cert = "ubuntu", c.DefaultKey, c.DefaultCert
				put(t, d+"/bin/kmodsign", "", 0o644)
				c.lookPath = pathOf(map[string]string{"kmodsign": d + "/bin/kmodsign"})
				put(t, expand(buildTool, d), "#!/bin/sh\n", 0o755)
			},
			want:     "Sign command: " + buildTool + "\n" + keyLines,
			wantTool: buildTool,
		},
		{
			name: "gentoo",
			setup: func(t *testing.T, d string, c *Config) {
				c.Distro = "gentoo"
				c.getenv = func(k string) string {
					return map[string]string{"MODULES_SIGN_KEY": c.DefaultKey, "MODULES_SIGN_CERT": c.DefaultCert}[k]
				}
				put(t, d+"/usr/src/linux-6.1.0-13-amd64/scripts/sign-file", "#!/bin/sh\n", 0o755)
			},
			want:     "Sign command: {d}/usr/src/linux-6.1.0-13-amd64/scripts/sign-file\n" + keyLines,
			wantTool: "{d}/usr/src/linux-6.1.0-13-amd64/scripts/sign-file",
		},
		{
			name: "other distributions use the build directory",
			setup: func(t *testing.T, d string, c *Config) {
				c.Distro = "arch"
				put(t, expand(kbuild, d), "#!/bin/sh\n", 0o755)
				put(t, expand(buildTool, d), "#!/bin/sh\n", 0o755)
			},
			want:     "Sign command: " + buildTool + "\n" + keyLines,
			wantTool: buildTool,
		},
		{
			name: "key problems turn signing off",
			setup: func(t *testing.T, d string, c *Config) {
				put(t, expand(kbuild, d), "#!/bin/sh\n", 0o755)
				c.Key, c.Cert = "pkcs11:token=x", d+"/missing.der"
			},
			want: "Sign command: " + kbuild + "\nSigning key: pkcs11:token=x\nPublic certificate (MOK): {d}/missing.der\n" +
				"Certificate file {d}/missing.der not found and can't be generated, modules won't be signed\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			d := t.TempDir()
			c := baseConfig(t, d)
			tt.setup(t, d, &c)
			var out strings.Builder
			s := Prepare(context.Background(), c, &out)
			if got, want := out.String(), expand(tt.want, d); got != want {
				t.Errorf("output:\n%s\nwant:\n%s", got, want)
			}
			if tt.wantTool == "" {
				if s != nil {
					t.Errorf("signer = %+v, want nil", s)
				}
				return
			}
			if s == nil {
				t.Fatal("signer = nil, want signing on")
			}
			if want := expand(tt.wantTool, d); s.Tool != want {
				t.Errorf("Tool = %q, want %q", s.Tool, want)
			}
			if s.Hash != "sha512" {
				t.Errorf("Hash = %q, want sha512 (quotes removed)", s.Hash)
			}
			if s.Key == "" || s.Cert == "" {
				t.Errorf("Key/Cert empty: %+v", s)
			}
		})
	}
}
