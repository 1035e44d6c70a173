package pkgbuild

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// moduleSource writes a small module source tree and returns its path.
func moduleSource(t testing.TB, name, version string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), name+"-"+version)
	files := map[string]string{
		"dkms.conf":       "PACKAGE_NAME=\"" + name + "\"\nPACKAGE_VERSION=\"" + version + "\"\nBUILT_MODULE_NAME[0]=\"" + name + "\"\nDEST_MODULE_LOCATION[0]=\"/updates\"\nAUTOINSTALL=\"yes\"\n",
		"Makefile":        "obj-m += " + name + ".o\n",
		name + ".c":       "#include <linux/module.h>\nMODULE_LICENSE(\"GPL\");\n",
		"patches/fix.sh":  "#!/bin/sh\nexit 0\n",
		"doc/README.text": "it's a module\n",
	}
	for rel, body := range files {
		p := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		mode := os.FileMode(0o644)
		if filepath.Ext(rel) == ".sh" {
			mode = 0o755
		}
		if err := os.WriteFile(p, []byte(body), mode); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink(name+".c", filepath.Join(dir, "link.c")); err != nil {
		t.Fatal(err)
	}
	return dir
}

// builtDir fakes <dkms_tree>/<m>/<v>/<k>/<a> after a build.
func builtDir(t testing.TB, module, kernel, arch string) Binary {
	t.Helper()
	dir := filepath.Join(t.TempDir(), kernel, arch)
	for rel, body := range map[string]string{
		"module/" + module + ".ko": "\x7fELF prebuilt for " + kernel,
		"log/make.log":             "DKMS make.log for " + module + " for kernel " + kernel + "\n",
	} {
		p := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return Binary{Kernel: kernel, Arch: arch, Dir: dir}
}

// run runs a command and returns its combined output, failing the test on
// error.
func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	start := time.Now()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %v: %v (after %v)\n%s", name, args, err, time.Since(start), out)
	}
	return string(out)
}
