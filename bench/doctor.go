package main

import (
	"bufio"
	"context"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// runDoctor is scenario 7: dkms doctor on a machine with 4 kernels and 20
// DKMS modules installed for each. The modules are one real module
// (examples/dkms-hello) compiled against the kernel's headers and signed
// with the bench MOK; each kernel has a copy of the Debian kernel's real
// initramfs, its config, and module.sig_enforce=1 on the command line, so
// every check runs: identity, vermagic, modules.dep, initramfs shadowing
// and signature trust. There is nothing upstream to compare with.
func (b *bench) runDoctor(ctx context.Context) error {
	nk, nm := 4, 20
	if b.small {
		nk, nm = 2, 2
	}
	k := b.w.kernel
	image := "/boot/initrd.img-" + k
	if _, err := os.Stat(image); err != nil {
		b.res.Notes = append(b.res.Notes, "doctor scenario skipped: "+err.Error())
		return nil
	}
	b.logf("dkms doctor, %d kernels x %d modules", nk, nm)
	dir := filepath.Join(b.w.dir, "doctor")
	t, err := newTrees(dir)
	if err != nil {
		return err
	}
	sys := filepath.Join(dir, "sysroot")
	ko, err := b.realSignedModule(ctx, filepath.Join(dir, "hello"))
	if err != nil {
		return err
	}
	cert, err := os.ReadFile(filepath.Join(b.w.dir, "keys/mok.pub"))
	if err != nil {
		return err
	}
	c, err := x509.ParseCertificate(cert)
	if err != nil {
		return err
	}
	files := map[string]string{
		"etc/os-release":          "ID=debian\nNAME=\"Debian GNU/Linux\"\n",
		"etc/dkms/framework.conf": fmt.Sprintf("mok_certificate=%q\n", filepath.Join(b.w.dir, "keys/mok.pub")),
		"proc/cmdline":            "BOOT_IMAGE=/boot/vmlinuz root=/dev/vda1 ro module.sig_enforce=1\n",
		"proc/keys": "2c4f1a0e I------     1 perm 1f030000     0     0 asymmetri dkms bench: " +
			hex.EncodeToString(c.SubjectKeyId) + ": X509.rsa 5e1f2a3b []\n",
	}
	intree, err := firstInTree(k)
	if err != nil {
		return err
	}
	var kernels []string
	for i := 0; i < nk; i++ {
		kk := k
		if i > 0 {
			kk = fmt.Sprintf("%s-bench%d", k, i)
		}
		kernels = append(kernels, kk)
		files["boot/vmlinuz-"+kk] = "kernel image stand-in\n"
		var dep strings.Builder
		dep.WriteString(intree + ":\n")
		for m := 0; m < nm; m++ {
			fmt.Fprintf(&dep, "updates/dkms/doc%02d.ko:\n", m)
		}
		if err := os.MkdirAll(filepath.Join(t.Inst, kk), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(t.Inst, kk, "modules.dep"), []byte(dep.String()), 0o644); err != nil {
			return err
		}
		if err := os.Symlink("/lib/modules/"+k+"/build", filepath.Join(t.Inst, kk, "build")); err != nil {
			return err
		}
		for src, dst := range map[string]string{image: filepath.Join(sys, "boot/initrd.img-"+kk),
			"/boot/config-" + k:                filepath.Join(sys, "boot/config-"+kk),
			"/lib/modules/" + k + "/" + intree: filepath.Join(t.Inst, kk, intree)} {
			if err := copyPlain(src, dst); err != nil {
				return err
			}
		}
	}
	for rel, content := range files {
		p := filepath.Join(sys, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			return err
		}
	}
	for m := 0; m < nm; m++ {
		name := fmt.Sprintf("doc%02d", m)
		if err := t.add(modSpec{Name: name, Version: "1.0", Built: kernels, Installed: kernels}); err != nil {
			return err
		}
		for _, kk := range kernels {
			for _, p := range []string{filepath.Join(t.DKMS, name, "1.0", kk, arch, "module", name+".ko"),
				filepath.Join(t.Inst, kk, "updates", "dkms", name+".ko")} {
				if err := os.WriteFile(p, ko, 0o644); err != nil {
					return err
				}
			}
		}
	}
	check := func(out []byte, code int) error {
		if code != 0 {
			return fmt.Errorf("exit status %d:\n%s", code, tail(out, 20))
		}
		var rep struct {
			Status  string
			Kernels []struct {
				Modules []struct{ Verdict string }
			}
		}
		if err := json.Unmarshal(out, &rep); err != nil {
			return fmt.Errorf("doctor --json: %w", err)
		}
		ok := 0
		for _, kr := range rep.Kernels {
			for _, m := range kr.Modules {
				if m.Verdict == "ok" {
					ok++
				}
			}
		}
		if rep.Status != "healthy" || len(rep.Kernels) != nk || ok != nk*nm {
			return fmt.Errorf("status %q, %d kernels, %d modules ok; want healthy, %d, %d", rep.Status, len(rep.Kernels), ok, nk, nk*nm)
		}
		return nil
	}
	st, err := compare(ctx, b.reps, job{label: "ours dkms doctor", check: check, quick: true, warm: true,
		prepare: func(ctx context.Context, _ int) (*exec.Cmd, error) {
			cmd := b.w.ours(ctx, t, "doctor", "--json")
			cmd.Env = append(cmd.Env, "DKMS_SYSROOT="+sys)
			return cmd, nil
		}})
	if err != nil {
		return err
	}
	st0, ierr := os.Stat(image)
	size := int64(0)
	if ierr == nil {
		size = st0.Size() >> 20
	}
	b.res.Rows = append(b.res.Rows, row{ID: "7",
		Name:    fmt.Sprintf("`dkms doctor`, %d kernels x %d installed signed modules, a %d MB initramfs each, module.sig_enforce=1", nk, nm, size),
		OursCmd: "dkms doctor --json", UpCmd: "(none)", Ours: st[0],
		Note: fmt.Sprintf("timed with the initramfs indexes warm (<dkms_tree>/.initramfs-index, written by the first run); "+
			"that first run, which decompresses every image once, took %s", fmtDur(st[0].First))})
	return nil
}

// realSignedModule compiles examples/dkms-hello against the bench kernel's
// headers in dir and signs it with the bench MOK.
func (b *bench) realSignedModule(ctx context.Context, dir string) ([]byte, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	top, err := repoTop()
	if err != nil {
		return nil, err
	}
	for _, n := range []string{"Makefile", "dkms_hello.c"} {
		if err := copyPlain(filepath.Join(top, "examples/dkms-hello", n), filepath.Join(dir, n)); err != nil {
			return nil, err
		}
	}
	mk := exec.CommandContext(ctx, "make", "-C", "/lib/modules/"+b.w.kernel+"/build", "M="+dir, "modules")
	mk.Env = append(os.Environ(), "MAKEFLAGS=")
	if out, err := mk.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("building the example module: %w\n%s", err, tail(out, 20))
	}
	ko := filepath.Join(dir, "dkms_hello.ko")
	sign := exec.CommandContext(ctx, b.w.signFile, "sha256", filepath.Join(b.w.dir, "keys/mok.key"), filepath.Join(b.w.dir, "keys/mok.pub"), ko)
	if out, err := sign.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("signing the example module: %w\n%s", err, out)
	}
	return os.ReadFile(ko)
}

// firstInTree is the first kernel/ module of the kernel's modules.dep, whose
// vermagic doctor compares the DKMS modules' with.
func firstInTree(k string) (string, error) {
	f, err := os.Open("/lib/modules/" + k + "/modules.dep")
	if err != nil {
		return "", err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if p, _, ok := strings.Cut(sc.Text(), ":"); ok && strings.HasPrefix(p, "kernel/") {
			return p, nil
		}
	}
	return "", fmt.Errorf("no in-tree module in /lib/modules/%s/modules.dep", k)
}

// repoTop is the directory of go.mod at or above the working directory
// (the repository when run by make bench or go test ./bench).
func repoTop() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no go.mod above the working directory")
		}
		dir = parent
	}
}

func copyPlain(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	out, err := os.Create(dst)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
