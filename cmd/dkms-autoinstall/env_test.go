package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"testing"

	"github.com/dkms-go/dkms/internal/testenv"
)

// repo is the top of the work tree (hooks/, systemd/, Makefile).
const repo = "../.."

// fk is a fake kernel whose modules build with their own Makefiles.
const fk = "6.1.0-hooktest"

// machine is a throw-away system root. Its framework.conf points the dkms
// trees into the root, so the hook scripts run unchanged (no --dkmstree)
// with DKMS_SYSROOT=<root>.
type machine struct {
	t                     *testing.T
	r                     *testenv.Root
	root, dkms, src, inst string
	env                   []string
}

func newMachine(t *testing.T, framework string) *machine {
	t.Helper()
	r := testenv.NewRoot(t)
	m := &machine{t: t, r: r, root: r.Dir, dkms: r.DKMS, src: r.Src, inst: r.Inst}
	m.write("/etc/dkms/framework.conf", fmt.Sprintf("sign_file=/nonexistent\ndkms_tree=%s\nsource_tree=%s\ninstall_tree=%s\n%s",
		m.dkms, m.src, m.inst, framework))
	m.env = append(os.Environ(), "DKMS_SYSROOT="+m.root, "TMPDIR="+m.root+"/tmp", "DKMS_AUTOINSTALL="+testenv.Binary(t, ".", "dkms-autoinstall"))
	return m
}

// write writes an executable file: hooks and scripts are among them.
func (m *machine) write(rel, content string) string { return m.r.Write(rel, content, 0o755) }

// fakeKernel makes <inst>/<k>/build/include: headers as far as dkms looks.
func (m *machine) fakeKernel(k string) { m.r.FakeKernel(k) }

// realKernel links <inst>/<k>/build to the installed Debian headers.
func (m *machine) realKernel(k string) { m.r.RealKernel(k) }

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
	m.r.AddSource(name, "1.0", m.root+dir)
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

func (m *machine) norm(s string) string { return m.r.Norm(s) }

func (m *machine) installed(k, name string) bool {
	_, err := os.Stat(m.inst + "/" + k + "/updates/dkms/" + name + ".ko")
	return err == nil
}
