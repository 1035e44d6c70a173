package sign

import (
	"context"
	"fmt"
	"github.com/dkms-go/dkms/internal/proc"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// Fixed fallbacks of upstream dkms, deliberately independent of --dkmstree.
const (
	defaultKey  = "/var/lib/dkms/mok.key"
	defaultCert = "/var/lib/dkms/mok.pub"
)

// PrepareMOK finds or generates the signing key and certificate (§7.2 step
// 6, and the whole of generate_mok, §6.12), printing its lines to out. ok
// reports whether both are usable; otherwise the reason has been printed.
func PrepareMOK(ctx context.Context, c Config, out io.Writer) (key, cert string, ok bool) {
	key, cert = c.Key, c.Cert
	if key == "" {
		switch {
		case strings.HasPrefix(c.Distro, "ubuntu"):
			var ok bool
			key, cert, ok = ubuntuMOK(ctx, c, out)
			if !ok {
				return "", "", false
			}
		case strings.HasPrefix(c.Distro, "gentoo"):
			key, cert = gentooMOK(c)
		}
	}
	if key == "" {
		key = orDefault(c.DefaultKey, defaultKey)
	}
	fmt.Fprintf(out, "Signing key: %s\n", key)
	if cert == "" {
		cert = orDefault(c.DefaultCert, defaultCert)
	}
	fmt.Fprintf(out, "Public certificate (MOK): %s\n", cert)

	// A pkcs11: key lives in a token; only a file key can be generated.
	if !strings.HasPrefix(key, "pkcs11:") && (!isRegular(key) || !isRegular(cert)) {
		fmt.Fprintln(out, "Certificate or key are missing, generating self signed certificate for MOK...")
		openssl, err := c.look("openssl")
		if err != nil {
			fmt.Fprintln(out, "openssl not found, can't generate key and certificate.")
			return "", "", false
		}
		generate(ctx, openssl, key, cert)
		if !isRegular(key) {
			fmt.Fprintf(out, "Key file %s not found and can't be generated, modules won't be signed\n", key)
			return "", "", false
		}
	}
	if !isRegular(cert) {
		fmt.Fprintf(out, "Certificate file %s not found and can't be generated, modules won't be signed\n", cert)
		return "", "", false
	}
	return key, cert, true
}

// generate makes a self-signed code-signing certificate valid for 100
// years. Its output is discarded and failure shows up as missing files,
// which the caller reports.
func generate(ctx context.Context, openssl, key, cert string) {
	cmd := proc.Command(ctx, false, openssl, "req", "-new", "-x509", "-nodes", "-days", "36500",
		"-subj", "/CN=DKMS module signing key", "-newkey", "rsa:2048", "-keyout", key,
		"-addext", "extendedKeyUsage=codeSigning", "-outform", "DER", "-out", cert)
	if proc.Run(cmd) == nil {
		// The key guards module loading under Secure Boot: only root reads it,
		// whatever the umask or the openssl version did.
		os.Chmod(key, 0o600)
	}
}

// ubuntuMOK uses the key pair of shim-signed, creating it with
// update-secureboot-policy when missing. The configured certificate is
// ignored because it has to belong to that key.
func ubuntuMOK(ctx context.Context, c Config, out io.Writer) (key, cert string, ok bool) {
	dir := orDefault(c.shimMOKDir, "/var/lib/shim-signed/mok")
	key, cert = filepath.Join(dir, "MOK.priv"), filepath.Join(dir, "MOK.der")
	if isRegular(key) && isRegular(cert) {
		return key, cert, true
	}
	policy, err := c.look("update-secureboot-policy")
	if err != nil {
		fmt.Fprintln(out, "Binary update-secureboot-policy not found, modules won't be signed")
		return "", "", false
	}
	os.Remove(cert)
	fmt.Fprintln(out, "Certificate or key are missing, generating them using update-secureboot-policy...")
	newKey := proc.Command(ctx, true, policy, "--new-key")
	newKey.Env = append(os.Environ(), "SHIM_NOTRIGGER=y")
	proc.Run(newKey)
	enroll := proc.Command(ctx, true, policy, "--enroll-key")
	enroll.Stdout, enroll.Stderr = out, out
	proc.Run(enroll)
	return key, cert, true
}

// gentooMOK takes the key pair Gentoo's portage uses for kernel modules:
// from the environment, then make.conf, then the kernel's own signing key.
func gentooMOK(c Config) (key, cert string) {
	key, cert = c.env("MODULES_SIGN_KEY"), c.env("MODULES_SIGN_CERT")
	conf := orDefault(c.makeConf, "/etc/portage/make.conf")
	if key == "" {
		key, _ = configValue(conf, "MODULES_SIGN_KEY")
	}
	if cert == "" {
		cert, _ = configValue(conf, "MODULES_SIGN_CERT")
	}
	if key == "" {
		key, _ = configValue(c.KernelConfig, "CONFIG_MODULE_SIG_KEY")
		if !strings.HasPrefix(key, "pkcs11:") {
			key = canonicalIn(c.KernelSourceDir, key)
		}
		cert = key
	}
	return key, cert
}

// canonicalIn resolves p relative to dir as `cd dir && readlink -f p`
// does (delta D12.2): every symlink resolved, every component but the last
// existing; "" when it cannot be resolved. (Upstream also turns a pkcs11:
// URI into a path below dir; the caller keeps the URI, COMPATIBILITY.md.)
func canonicalIn(dir, p string) string {
	if p == "" {
		return ""
	}
	if !filepath.IsAbs(p) {
		p = filepath.Join(dir, p)
	}
	parent, err := filepath.EvalSymlinks(filepath.Dir(p))
	if err != nil {
		return ""
	}
	full := filepath.Join(parent, filepath.Base(p))
	if r, err := filepath.EvalSymlinks(full); err == nil {
		return r
	}
	return full
}
