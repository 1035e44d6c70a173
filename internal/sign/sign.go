package sign

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"github.com/dkms-go/dkms/internal/proc"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
)

// Config is what signing preparation needs to know about one kernel and
// the signing variables of framework.conf.
type Config struct {
	// Kernel is the target kernel release, KernelConfig its configuration
	// file (§4.1), InstallTree the module tree (--installtree) and Distro
	// the §2.5 distribution identifier, matched by prefix.
	Kernel, KernelConfig, InstallTree, Distro string
	// SignFile, Key and Cert are sign_file, mok_signing_key and
	// mok_certificate from framework.conf; "" means not configured.
	SignFile, Key, Cert string
	// DefaultKey and DefaultCert replace the fixed fallbacks
	// /var/lib/dkms/mok.key and /var/lib/dkms/mok.pub when non-empty.
	DefaultKey, DefaultCert string
	// Try is try_sign_modules: "true" signs always, "false" never, anything
	// else unless InChroot (delta D12.1).
	Try string
	// KernelSourceDir resolves a Gentoo kernel's relative signing key.
	KernelSourceDir string
	// Root is the system root under which /proc and / are examined for
	// the chroot test ("" or "/" on a real system).
	Root string
	// Env is the environment dkms runs with (FAKECHROOT*, LD_PRELOAD,
	// Gentoo's MODULES_SIGN_*); nil means the process's own.
	Env []string

	// Seams for tests; the zero values mean the real system.
	lookPath   func(string) (string, error)
	getenv     func(string) string
	usrLib     string // where Debian's linux-kbuild-* directories live
	usrSrc     string // where Ubuntu and Gentoo keep kernel sources
	shimMOKDir string // Ubuntu's shim-signed MOK directory
	makeConf   string // Gentoo's portage make.conf
	geteuid    func() int
}

func (c *Config) look(name string) (string, error) {
	if c.lookPath != nil {
		return c.lookPath(name)
	}
	return exec.LookPath(name)
}

func (c *Config) env(name string) string {
	v, _ := c.lookupEnv(name)
	return v
}

func orDefault(v, def string) string {
	if v != "" {
		return v
	}
	return def
}

// Signer signs modules with Tool (sign-file or kmodsign), hash algorithm
// Hash, private key (or pkcs11: URI) Key and DER certificate Cert.
type Signer struct {
	Tool, Hash, Key, Cert string
	Env                   []string // the tool's environment; nil = ours
}

// Prepare runs the signing preparation of §7.2, steps 2 to 6, printing its
// lines to out. It returns nil when modules won't be signed; the reason has
// then been printed. Step 1, re-reading the signing variables of
// framework.conf for this kernel, is the caller's: c carries the result.
func Prepare(ctx context.Context, c Config, out io.Writer) *Signer {
	if !policy(c, out) {
		return nil
	}
	if !isRegular(c.KernelConfig) {
		fmt.Fprintf(out, "Kernel config %s not found, modules won't be signed\n", c.KernelConfig)
		return nil
	}
	hash, ok := configValue(c.KernelConfig, "CONFIG_MODULE_SIG_HASH")
	if !ok {
		fmt.Fprintln(out, "The kernel is built without module signing facility, modules won't be signed")
		return nil
	}
	tool := signTool(c)
	fmt.Fprintf(out, "Sign command: %s\n", tool)
	if !isExecutable(tool) {
		fmt.Fprintf(out, "Binary %s not found, modules won't be signed\n", tool)
		return nil
	}
	key, cert, ok := PrepareMOK(ctx, c, out)
	if !ok {
		return nil
	}
	return &Signer{Tool: tool, Hash: hash, Key: key, Cert: cert}
}

// signTool picks the signing tool: the configured one as given, else the
// distribution's, else the one in the kernel's build directory.
func signTool(c Config) string {
	if c.SignFile != "" {
		return c.SignFile
	}
	var tool string
	switch {
	case strings.HasPrefix(c.Distro, "debian"):
		// Debian ships sign-file per upstream series: 6.1.0-13-amd64 -> 6.1.
		series := c.Kernel
		if i := strings.LastIndexByte(series, '.'); i >= 0 {
			series = series[:i]
		}
		tool = filepath.Join(orDefault(c.usrLib, "/usr/lib"), "linux-kbuild-"+series, "scripts", "sign-file")
	case strings.HasPrefix(c.Distro, "ubuntu"):
		tool, _ = c.look("kmodsign")
		if !isExecutable(tool) {
			tool = filepath.Join(orDefault(c.usrSrc, "/usr/src"), "linux-headers-"+c.Kernel, "scripts", "sign-file")
		}
	case strings.HasPrefix(c.Distro, "gentoo"):
		tool = filepath.Join(orDefault(c.usrSrc, "/usr/src"), "linux-"+c.Kernel, "scripts", "sign-file")
	}
	if !isRegular(tool) {
		tool = filepath.Join(c.InstallTree, c.Kernel, "build", "scripts", "sign-file")
	}
	return tool
}

// configValue returns the value of the first "<name>=" line of a kernel
// config or portage make.conf with every double quote removed, as dkms's
// grep|sed does.
func configValue(path, name string) (string, bool) {
	data, err := os.ReadFile(path)
	if err != nil {
		return "", false
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, len(data)+1)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), name+"="); ok {
			return strings.ReplaceAll(v, `"`, ""), true
		}
	}
	return "", false
}

// Sign signs file in place, printing "Signing module <file>" to stdout. A
// failing tool is reported as the §7.2 warning block on stderr and is not an
// error: an unsigned module is still installed.
func (s *Signer) Sign(ctx context.Context, file string, stdout, stderr io.Writer) {
	fmt.Fprintf(stdout, "Signing module %s\n", file)
	cmd := proc.Command(ctx, false, s.Tool, s.Hash, s.Key, s.Cert, file)
	cmd.Env = s.Env
	var output bytes.Buffer
	cmd.Stdout = &output
	cmd.Stderr = &output
	if err := proc.Run(cmd); err != nil {
		// Like the shell's $(...), drop trailing newlines; no output at all
		// still gives the block its empty second line.
		fmt.Fprintf(stderr, "Warning: Failed to sign module '%s'!\n%s\n", file, strings.TrimRight(output.String(), "\n"))
	}
}

// isRegular is the shell's test -f: a regular file, following symlinks.
func isRegular(path string) bool {
	if path == "" {
		return false
	}
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular()
}

// isExecutable is the shell's test -f && test -x: access(2) applies the
// caller's real permissions (root needs just one execute bit).
func isExecutable(path string) bool {
	return isRegular(path) && syscall.Access(path, 0x1 /* X_OK */) == nil
}
