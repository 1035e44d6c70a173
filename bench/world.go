package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
)

// world is the scratch machine both implementations run in.
type world struct {
	dir       string // scratch root; everything the runs write is below it
	kernel    string // Debian kernel whose headers are installed
	dkms      string // our bin/dkms
	auto      string // our bin/dkms-autoinstall
	upstream  string // upstream's dkms script with its fixed /etc/dkms rewritten
	upVersion string // Debian version of the upstream package
	sysroot   string // DKMS_SYSROOT for ours: etc/os-release, etc/dkms
	signFile  string
}

// setupWorld fetches upstream (or unpacks deb when given), writes both
// framework.conf files and a MOK key pair so that neither implementation
// generates a key inside a timed run or reads the machine's configuration.
func setupWorld(ctx context.Context, dir, binDir, kernel, deb string) (*world, error) {
	w := &world{dir: dir, kernel: kernel,
		dkms: filepath.Join(binDir, "dkms"), auto: filepath.Join(binDir, "dkms-autoinstall"),
		sysroot: filepath.Join(dir, "sysroot")}
	for _, b := range []string{w.dkms, w.auto} {
		if _, err := os.Stat(b); err != nil {
			return nil, fmt.Errorf("our binary (run make build): %w", err)
		}
	}
	for _, d := range []string{"tmp", "home", "upstream-etc/dkms", "keys", "sysroot/etc/dkms"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			return nil, err
		}
	}
	if deb == "" {
		var err error
		if deb, err = downloadUpstream(ctx, dir); err != nil {
			return nil, err
		}
	}
	if err := w.unpackUpstream(ctx, deb); err != nil {
		return nil, err
	}
	osr, err := os.ReadFile("/etc/os-release")
	if err != nil {
		return nil, fmt.Errorf("both implementations need /etc/os-release: %w", err)
	}
	if err := os.WriteFile(filepath.Join(w.sysroot, "etc/os-release"), osr, 0o644); err != nil {
		return nil, err
	}
	key, cert := filepath.Join(dir, "keys/mok.key"), filepath.Join(dir, "keys/mok.pub")
	gen := exec.CommandContext(ctx, "openssl", "req", "-new", "-x509", "-nodes", "-days", "36500",
		"-subj", "/CN=dkms bench", "-newkey", "rsa:2048", "-keyout", key, "-outform", "DER", "-out", cert)
	if out, err := gen.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("generating the MOK key: %w\n%s", err, out)
	}
	// Debian's dkms signs with the kbuild package's sign-file; naming it
	// for both keeps the two doing the same work per module.
	w.signFile = "/usr/lib/linux-kbuild-" + kernelSeries(kernel) + "/scripts/sign-file"
	fw := fmt.Sprintf("mok_signing_key=%q\nmok_certificate=%q\n", key, cert)
	if _, err := os.Stat(w.signFile); err == nil {
		fw += fmt.Sprintf("sign_file=%q\n", w.signFile)
	}
	for _, d := range []string{filepath.Join(dir, "upstream-etc/dkms"), filepath.Join(w.sysroot, "etc/dkms")} {
		if err := os.WriteFile(filepath.Join(d, "framework.conf"), []byte(fw), 0o644); err != nil {
			return nil, err
		}
	}
	return w, nil
}

// kernelSeries turns 6.1.0-56-amd64 into 6.1, the suffix of Debian's
// linux-kbuild package.
func kernelSeries(k string) string {
	p := strings.SplitN(k, ".", 3)
	if len(p) < 2 {
		return k
	}
	return p[0] + "." + p[1]
}

func downloadUpstream(ctx context.Context, dir string) (string, error) {
	cmd := exec.CommandContext(ctx, "apt-get", "download", "dkms")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("apt-get download dkms: %w\n%s", err, out)
	}
	debs, _ := filepath.Glob(filepath.Join(dir, "dkms_*.deb"))
	if len(debs) != 1 {
		return "", errors.New("apt-get download dkms: no single dkms_*.deb produced")
	}
	return debs[0], nil
}

var etcDKMS = regexp.MustCompile(`/etc/dkms\b`)

// unpackUpstream extracts the package and rewrites the script's fixed
// configuration paths into the scratch directory. Only path strings change;
// upstream's logic runs as shipped.
func (w *world) unpackUpstream(ctx context.Context, deb string) error {
	prefix := filepath.Join(w.dir, "upstream")
	if out, err := exec.CommandContext(ctx, "dpkg-deb", "-x", deb, prefix).CombinedOutput(); err != nil {
		return fmt.Errorf("dpkg-deb -x %s: %w\n%s", deb, err, out)
	}
	out, err := exec.CommandContext(ctx, "dpkg-deb", "-f", deb, "Version").Output()
	if err != nil {
		return fmt.Errorf("dpkg-deb -f %s Version: %w", deb, err)
	}
	w.upVersion = strings.TrimSpace(string(out))
	script, err := os.ReadFile(filepath.Join(prefix, "usr/sbin/dkms"))
	if err != nil {
		return err
	}
	s := etcDKMS.ReplaceAllString(string(script), filepath.Join(w.dir, "upstream-etc/dkms"))
	s = strings.ReplaceAll(s, "/var/lib/dkms/mok", filepath.Join(w.dir, "keys/mok"))
	w.upstream = filepath.Join(prefix, "usr/sbin/dkms.bench")
	return os.WriteFile(w.upstream, []byte(s), 0o755)
}

// env is the environment of every timed command: the same for both except
// DKMS_SYSROOT, which only ours reads.
func (w *world) env() []string {
	return []string{
		"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
		"HOME=" + filepath.Join(w.dir, "home"),
		"TMPDIR=" + filepath.Join(w.dir, "tmp"),
		"LC_ALL=C",
		"DKMS_SYSROOT=" + w.sysroot,
	}
}

func (w *world) cmd(ctx context.Context, prog string, args ...string) *exec.Cmd {
	c := exec.CommandContext(ctx, prog, args...)
	c.Env = w.env()
	c.Dir = w.dir
	return c
}

func (w *world) ours(ctx context.Context, t trees, args ...string) *exec.Cmd {
	return w.cmd(ctx, w.dkms, append(args, t.args()...)...)
}

func (w *world) oursAuto(ctx context.Context, t trees, args ...string) *exec.Cmd {
	return w.cmd(ctx, w.auto, append(args, t.args()...)...)
}

func (w *world) up(ctx context.Context, t trees, args ...string) *exec.Cmd {
	return w.cmd(ctx, w.upstream, append(args, t.args()...)...)
}
