package main

import (
	"bytes"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/dkms-go/dkms/internal/testenv"
)

// installedFiles maps each Debian path `make install` creates to its source in
// the work tree ("" for the built binaries) and mode.
var installedFiles = []struct {
	path, src string
	mode      fs.FileMode
}{
	{"/usr/sbin/dkms", "", 0o755},
	{"/usr/sbin/dkms-autoinstall", "", 0o755},
	{"/etc/dkms/framework.conf", "etc/framework.conf", 0o644},
	{"/etc/kernel/postinst.d/dkms", "hooks/kernel-postinst.d/dkms", 0o755},
	{"/etc/kernel/header_postinst.d/dkms", "hooks/kernel-postinst.d/dkms", 0o755},
	{"/etc/kernel/preinst.d/dkms", "hooks/kernel-preinst.d/dkms", 0o755},
	{"/etc/kernel/prerm.d/dkms", "hooks/kernel-prerm.d/dkms", 0o755},
	{"/usr/lib/kernel/install.d/40-dkms.install", "hooks/kernel-install/40-dkms.install", 0o755},
	{"/usr/lib/dkms/dkms_autoinstaller", "hooks/dkms_autoinstaller", 0o755},
	{"/usr/lib/dkms/common.postinst", "hooks/common.postinst", 0o755},
	{"/usr/lib/systemd/system/dkms-autoinstall.service", "systemd/dkms-autoinstall.service", 0o644},
	{"/usr/lib/systemd/system-preset/80-dkms.preset", "systemd/80-dkms.preset", 0o644},
	{"/usr/share/man/man8/dkms.8", "man/dkms.8", 0o644},
	{"/usr/share/man/man8/dkms-autoinstall.8", "man/dkms-autoinstall.8", 0o644},
	{"/usr/share/bash-completion/completions/dkms", "completion/dkms.bash", 0o644},
	// A symlink to the dkms completion, which handles both commands.
	{"/usr/share/bash-completion/completions/dkms-autoinstall", "completion/dkms.bash", 0o644},
	{"/usr/share/zsh/vendor-completions/_dkms", "completion/_dkms", 0o644},
}

func runMake(t *testing.T, args ...string) string {
	t.Helper()
	cmd := exec.Command("make", append([]string{"-C", repo}, args...)...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("make %v: %v\n%s", args, err, out)
	}
	return string(out)
}

// regularFiles lists the files below dir.
func regularFiles(t *testing.T, dir string) []string {
	t.Helper()
	var files []string
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			files = append(files, p[len(dir):])
		}
		return nil
	})
	return files
}

// TestMakeInstall: `make install DESTDIR=` puts every file at its Debian
// path with its mode; `make uninstall` removes all of them again, and an
// edited framework.conf survives both a reinstall and the uninstall.
func TestMakeInstall(t *testing.T) {
	testenv.RequireTools(t, "make", "install", "go")
	dest := t.TempDir()
	runMake(t, "install", "DESTDIR="+dest)
	for _, f := range installedFiles {
		st, err := os.Stat(dest + f.path)
		if err != nil {
			t.Errorf("not installed: %v", err)
			continue
		}
		if st.Mode().Perm() != f.mode {
			t.Errorf("%s: mode %v, want %v", f.path, st.Mode().Perm(), f.mode)
		}
		if f.src == "" {
			continue
		}
		want, _ := os.ReadFile(repo + "/" + f.src)
		got, _ := os.ReadFile(dest + f.path)
		if !bytes.Equal(got, want) {
			t.Errorf("%s differs from %s", f.path, f.src)
		}
	}
	if st, err := os.Stat(dest + "/etc/dkms/framework.conf.d"); err != nil || !st.IsDir() {
		t.Errorf("framework.conf.d: %v", err)
	}
	if files := regularFiles(t, dest); len(files) != len(installedFiles) {
		t.Errorf("installed %d files, want %d: %v", len(files), len(installedFiles), files)
	}
	if out, err := exec.Command(dest+"/usr/sbin/dkms-autoinstall", "--help").CombinedOutput(); err != nil {
		t.Errorf("installed binary: %v\n%s", err, out)
	}

	runMake(t, "uninstall", "DESTDIR="+dest)
	if files := regularFiles(t, dest); len(files) != 0 {
		t.Errorf("left after uninstall: %v", files)
	}
	if _, err := os.Stat(dest + "/etc/dkms"); !os.IsNotExist(err) {
		t.Errorf("/etc/dkms left after uninstall: %v", err)
	}

	// The administrator's edits are kept.
	runMake(t, "install", "DESTDIR="+dest)
	conf := dest + "/etc/dkms/framework.conf"
	if err := os.WriteFile(conf, []byte("autoinstall_strict=yes\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	runMake(t, "install", "DESTDIR="+dest)
	runMake(t, "uninstall", "DESTDIR="+dest)
	if got, err := os.ReadFile(conf); err != nil || string(got) != "autoinstall_strict=yes\n" {
		t.Errorf("edited framework.conf: %v %q", err, got)
	}
	if files := regularFiles(t, dest); len(files) != 1 {
		t.Errorf("want only framework.conf left, got %v", files)
	}
}
