package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// repo is the top of the work tree (hooks/, systemd/, Makefile).
const repo = "../.."

// fk is a fake kernel whose modules build with their own Makefiles.
const fk = "6.1.0-hooktest"

var (
	binOnce sync.Once
	binPath string
	binErr  error
)

// binary builds dkms-autoinstall once for the tests that exec it the way
// the hooks and the unit do.
func binary(t *testing.T) string {
	t.Helper()
	binOnce.Do(func() {
		dir, err := os.MkdirTemp("", "dkms-autoinstall-test")
		if err != nil {
			binErr = err
			return
		}
		binPath = dir + "/dkms-autoinstall"
		cmd := exec.Command("go", "build", "-o", binPath, ".")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			binErr = fmt.Errorf("go build: %v: %s", err, out)
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

// machine is a throw-away system root. Its framework.conf points the dkms
// trees into the root, so the hook scripts run unchanged (no --dkmstree)
// with DKMS_SYSROOT=<root>.
type machine struct {
	t                     *testing.T
	root, dkms, src, inst string
	env                   []string
}

func newMachine(t *testing.T, framework string) *machine {
	t.Helper()
	root := t.TempDir()
	m := &machine{t: t, root: root, dkms: root + "/var/lib/dkms", src: root + "/usr/src", inst: root + "/lib/modules"}
	for _, d := range []string{m.dkms, m.src, m.inst, root + "/etc/dkms/framework.conf.d", root + "/tmp"} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	m.write("/etc/os-release", "ID=debian\nNAME=\"Debian GNU/Linux\"\n")
	m.write("/etc/dkms/framework.conf", fmt.Sprintf("sign_file=/nonexistent\ndkms_tree=%s\nsource_tree=%s\ninstall_tree=%s\n%s",
		m.dkms, m.src, m.inst, framework))
	m.env = append(os.Environ(), "DKMS_SYSROOT="+root, "TMPDIR="+root+"/tmp", "DKMS_AUTOINSTALL="+binary(t))
	return m
}

func (m *machine) write(rel, content string) string {
	m.t.Helper()
	p := m.root + rel
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		m.t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o755); err != nil {
		m.t.Fatal(err)
	}
	return p
}

// fakeKernel makes <inst>/<k>/build/include: headers as far as dkms looks.
func (m *machine) fakeKernel(k string) {
	m.t.Helper()
	if err := os.MkdirAll(m.inst+"/"+k+"/build/include", 0o755); err != nil {
		m.t.Fatal(err)
	}
}

// realKernel links <inst>/<k>/build to the installed Debian headers.
func (m *machine) realKernel(k string) {
	m.t.Helper()
	target, err := filepath.EvalSymlinks("/lib/modules/" + k + "/build")
	if err != nil {
		m.t.Skip("no headers for " + k)
	}
	if err := os.MkdirAll(m.inst+"/"+k, 0o755); err != nil {
		m.t.Fatal(err)
	}
	if err := os.Symlink(target, m.inst+"/"+k+"/build"); err != nil {
		m.t.Fatal(err)
	}
}

// module writes <src>/<name>-1.0 and adds it to the dkms tree as `dkms add`
// leaves it (the source symlink). conf is appended to the basic dkms.conf.
func (m *machine) module(name, conf string, files map[string]string) {
	m.t.Helper()
	base := "PACKAGE_NAME=" + name + "\nPACKAGE_VERSION=1.0\nAUTOINSTALL=yes\n" +
		"BUILT_MODULE_NAME[0]=" + name + "\nDEST_MODULE_LOCATION[0]=/updates\n"
	dir := "/usr/src/" + name + "-1.0"
	m.write(dir+"/dkms.conf", base+conf)
	for f, content := range files {
		m.write(dir+"/"+f, content)
	}
	if err := os.MkdirAll(m.dkms+"/"+name+"/1.0", 0o755); err != nil {
		m.t.Fatal(err)
	}
	if err := os.Symlink(m.root+dir, m.dkms+"/"+name+"/1.0/source"); err != nil {
		m.t.Fatal(err)
	}
}

// fakeModule builds a stand-in <name>.ko without a compiler.
func (m *machine) fakeModule(name string) {
	m.module(name, "MAKE[0]=\"make all\"\n", map[string]string{"Makefile": "all:\n\tprintf 'fake\\n' > " + name + ".ko\n"})
}

// brokenModule fails to build.
func (m *machine) brokenModule(name string) {
	m.module(name, "MAKE[0]=\"make all\"\n", map[string]string{"Makefile": "all:\n\techo 'error: does not build' >&2\n\texit 1\n"})
}

// realModule is a kernel module compiled against the real headers; cbody
// "" is a module that compiles.
func (m *machine) realModule(name, cbody string) {
	if cbody == "" {
		cbody = "#include <linux/module.h>\nstatic int __init i(void) { return 0; }\nstatic void __exit x(void) {}\n" +
			"module_init(i);\nmodule_exit(x);\nMODULE_LICENSE(\"GPL\");\n"
	}
	m.module(name, "", map[string]string{"Makefile": "obj-m := " + name + ".o\n", name + ".c": cbody})
}

// exec runs a program with the machine's environment plus extra settings.
func (m *machine) exec(extra []string, prog string, args ...string) (stdout, stderr string, code int) {
	m.t.Helper()
	cmd := exec.Command(prog, args...)
	cmd.Env = append(append([]string{}, m.env...), extra...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		m.t.Fatal(err)
	}
	return m.norm(out.String()), m.norm(errb.String()), code
}

func (m *machine) norm(s string) string { return strings.ReplaceAll(s, m.root, "<root>") }

func (m *machine) installed(k, name string) bool {
	_, err := os.Stat(m.inst + "/" + k + "/updates/dkms/" + name + ".ko")
	return err == nil
}

// debianKernel is the kernel whose headers CI installs (linux-headers-amd64).
func debianKernel(t *testing.T) string {
	t.Helper()
	matches, _ := filepath.Glob("/lib/modules/*/build/include")
	for _, p := range matches {
		if k := strings.Split(p, "/")[3]; strings.HasSuffix(k, "-amd64") {
			return k
		}
	}
	t.Skip("no Debian kernel headers installed (make deps installs linux-headers-amd64)")
	return ""
}

func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to install modules (CI runs as root)")
	}
}

func requireTool(t *testing.T, names ...string) {
	t.Helper()
	for _, n := range names {
		if _, err := exec.LookPath(n); err != nil {
			t.Skip(n + " not installed (make deps installs it)")
		}
	}
}
