package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

const arch = "x86_64"

// trees are one scenario's throw-away dkms, source and install trees.
type trees struct{ DKMS, Src, Inst string }

func newTrees(dir string) (trees, error) {
	t := trees{DKMS: filepath.Join(dir, "dkms"), Src: filepath.Join(dir, "src"), Inst: filepath.Join(dir, "modules")}
	if err := os.RemoveAll(dir); err != nil {
		return t, err
	}
	for _, d := range []string{t.DKMS, t.Src, t.Inst} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return t, err
		}
	}
	return t, nil
}

// args are the tree options both implementations accept.
func (t trees) args() []string {
	return []string{"--dkmstree", t.DKMS, "--sourcetree", t.Src, "--installtree", t.Inst}
}

// modSpec describes one module version to lay down as if dkms add, build
// and install had run (the layout of spec §5.1), without compiling: status,
// nothing-to-do autoinstall and removal only look at the files.
type modSpec struct {
	Name, Version string
	Conf          string            // dkms.conf; "" -> simpleConf
	Files         map[string]string // extra source files; *.sh are made executable
	Built         []string          // kernels it is built for
	Installed     []string          // kernels it is installed for (subset of Built)
}

func simpleConf(name, version string) string {
	return fmt.Sprintf(`PACKAGE_NAME=%q
PACKAGE_VERSION=%q
BUILT_MODULE_NAME[0]=%q
DEST_MODULE_LOCATION[0]="/updates"
AUTOINSTALL="yes"
`, name, version, strings.ReplaceAll(name, "-", "_"))
}

// fakeKO is the content of a generated "built module": distinct per
// module, version and kernel so that a comparison that mixed them up would
// show, and a few KiB like a small real module.
func fakeKO(name, version, kernel string) []byte {
	head := fmt.Sprintf("\x7fELF fake module %s %s %s\n", name, version, kernel)
	return append([]byte(head), bytes.Repeat([]byte{0xa5}, 8192-len(head))...)
}

func (t trees) add(m modSpec) error {
	src := filepath.Join(t.Src, m.Name+"-"+m.Version)
	if err := os.MkdirAll(src, 0o755); err != nil {
		return err
	}
	conf := m.Conf
	if conf == "" {
		conf = simpleConf(m.Name, m.Version)
	}
	if err := os.WriteFile(filepath.Join(src, "dkms.conf"), []byte(conf), 0o644); err != nil {
		return err
	}
	for name, content := range m.Files {
		mode := os.FileMode(0o644)
		if strings.HasSuffix(name, ".sh") {
			mode = 0o755
		}
		p := filepath.Join(src, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, []byte(content), mode); err != nil {
			return err
		}
	}
	vdir := filepath.Join(t.DKMS, m.Name, m.Version)
	if err := os.MkdirAll(filepath.Join(vdir, "build"), 0o755); err != nil {
		return err
	}
	if err := os.Symlink(src, filepath.Join(vdir, "source")); err != nil {
		return err
	}
	ko := strings.ReplaceAll(m.Name, "-", "_") + ".ko"
	for _, k := range m.Built {
		mdir := filepath.Join(vdir, k, arch, "module")
		if err := os.MkdirAll(mdir, 0o755); err != nil {
			return err
		}
		if err := os.MkdirAll(filepath.Join(vdir, k, arch, "log"), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(vdir, k, arch, "log", "make.log"), []byte("DKMS make.log\n"), 0o644); err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(mdir, ko), fakeKO(m.Name, m.Version, k), 0o644); err != nil {
			return err
		}
	}
	for _, k := range m.Installed {
		link := filepath.Join(t.DKMS, m.Name, "kernel-"+k+"-"+arch)
		if err := os.Symlink(m.Version+"/"+k+"/"+arch, link); err != nil {
			return err
		}
		// Debian's effective location for "/updates" is /updates/dkms (§4.6).
		idir := filepath.Join(t.Inst, k, "updates", "dkms")
		if err := os.MkdirAll(idir, 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(idir, ko), fakeKO(m.Name, m.Version, k), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// statusTree lays down n module versions: modules with two versions each,
// both built for every kernel, the newer one installed for every kernel —
// the shape of a fleet machine that keeps the previous version around.
func statusTree(dir string, n int, kernels []string) (trees, error) {
	t, err := newTrees(dir)
	if err != nil {
		return t, err
	}
	for i := 0; i < n; i++ {
		m := modSpec{
			Name:    fmt.Sprintf("mod%04d", i/2),
			Version: fmt.Sprintf("1.%d", i%2),
			Built:   kernels,
		}
		if i%2 == 1 || i == n-1 {
			m.Installed = kernels
		}
		if err := t.add(m); err != nil {
			return t, err
		}
	}
	return t, nil
}

// installedTree lays down n modules of one version, each built and
// installed for kernel k (the nothing-to-do and removal scenarios).
func installedTree(dir string, n int, k string) (trees, error) {
	t, err := newTrees(dir)
	if err != nil {
		return t, err
	}
	for i := 0; i < n; i++ {
		m := modSpec{Name: fmt.Sprintf("inst%04d", i), Version: "1.0", Built: []string{k}, Installed: []string{k}}
		if err := t.add(m); err != nil {
			return t, err
		}
	}
	return t, nil
}

// countFiles counts regular files below dir (0 when dir is missing).
func countFiles(dir string) int {
	n := 0
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			n++
		}
		return nil
	})
	return n
}
