package testenv

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/dkms-go/dkms/internal/kver"
)

// Root is a throw-away machine root under t.TempDir(): /etc/os-release of
// a Debian system, /etc/dkms/framework.conf.d, /tmp, and the dkms, source
// and install trees at their usual places inside it.
type Root struct {
	T                    *testing.T
	Dir, DKMS, Src, Inst string
}

// NewRoot makes a Root.
func NewRoot(t *testing.T) *Root {
	t.Helper()
	dir := t.TempDir()
	r := &Root{T: t, Dir: dir, DKMS: dir + "/var/lib/dkms", Src: dir + "/usr/src", Inst: dir + "/lib/modules"}
	if err := LayRoot(dir); err != nil {
		t.Fatal(err)
	}
	return r
}

// LayRoot makes the machine root of NewRoot in dir, for harnesses that
// have no *testing.T (testscript's setup).
func LayRoot(dir string) error {
	for _, d := range []string{dir + "/var/lib/dkms", dir + "/usr/src", dir + "/lib/modules",
		dir + "/etc/dkms/framework.conf.d", dir + "/tmp", dir + "/proc/1", dir + "/proc/self"} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	if err := os.WriteFile(dir+"/etc/os-release", []byte("ID=debian\nNAME=\"Debian GNU/Linux\"\n"), 0o644); err != nil {
		return err
	}
	return notChroot(dir)
}

// notChroot makes <root>/proc answer upstream's chroot test (delta D12.1)
// with "not a chroot": PID 1 in our mount namespace and with our root
// directory. Tests of the chroot branch change these files.
func notChroot(dir string) error {
	const mounts = "22 27 0:21 / /proc rw,relatime - proc proc rw\n"
	for _, f := range []string{dir + "/proc/1/mountinfo", dir + "/proc/self/mountinfo"} {
		os.Remove(f)
		if err := os.WriteFile(f, []byte(mounts), 0o444); err != nil {
			return err
		}
	}
	os.Remove(dir + "/proc/1/root")
	return os.Symlink(dir, dir+"/proc/1/root")
}

// Write writes content to rel (a path inside the root), making parents,
// and returns the full path.
func (r *Root) Write(rel, content string, mode os.FileMode) string {
	r.T.Helper()
	p := r.Dir + rel
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		r.T.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), mode); err != nil {
		r.T.Fatal(err)
	}
	return p
}

// FakeKernel makes <inst>/<k>/build/include: headers as far as dkms looks,
// with no compiler behind them.
func (r *Root) FakeKernel(k string) {
	r.T.Helper()
	if err := os.MkdirAll(r.Inst+"/"+k+"/build/include", 0o755); err != nil {
		r.T.Fatal(err)
	}
}

// RealKernel links <inst>/<k>/build to the machine's installed headers of
// k, or skips the test when there are none.
func (r *Root) RealKernel(k string) {
	r.T.Helper()
	target, err := filepath.EvalSymlinks("/lib/modules/" + k + "/build")
	if err != nil {
		r.T.Skip("no headers for " + k)
	}
	if err := os.MkdirAll(r.Inst+"/"+k, 0o755); err != nil {
		r.T.Fatal(err)
	}
	if err := os.Symlink(target, r.Inst+"/"+k+"/build"); err != nil {
		r.T.Fatal(err)
	}
}

// AddSource makes <dkms>/<m>/<v> with its source symlink to src, as
// `dkms add` leaves a module.
func (r *Root) AddSource(m, v, src string) {
	r.T.Helper()
	if err := os.MkdirAll(r.DKMS+"/"+m+"/"+v, 0o755); err != nil {
		r.T.Fatal(err)
	}
	if err := os.Symlink(src, r.DKMS+"/"+m+"/"+v+"/source"); err != nil {
		r.T.Fatal(err)
	}
}

// Norm replaces the root's path in s by <root>, for comparisons.
func (r *Root) Norm(s string) string { return strings.ReplaceAll(s, r.Dir, "<root>") }

// DebianKernelName is the Debian kernel the project's scripts install
// (linux-headers-amd64 and linux-image-amd64): the newest -amd64 release in
// /lib/modules with headers, else the newest with modules; "" when there is
// none. Tests must not name a release: a new Debian kernel ABI would turn
// them into silent skips.
func DebianKernelName() string {
	for _, probe := range []string{"build/include", "modules.dep"} {
		matches, _ := filepath.Glob("/lib/modules/*-amd64/" + probe)
		best := ""
		for _, p := range matches {
			if k := strings.Split(p, "/")[3]; best == "" || kver.CompareV(k, best) > 0 {
				best = k
			}
		}
		if best != "" {
			return best
		}
	}
	return ""
}

// DebianKernel is DebianKernelName for tests that need it: they skip when
// there is none.
func DebianKernel(t testing.TB) string {
	t.Helper()
	k := DebianKernelName()
	if k == "" {
		t.Skip("no Debian kernel installed (make deps installs linux-headers-amd64 and linux-image-amd64)")
	}
	return k
}

// RequireRoot skips a test that must run as root (CI does).
func RequireRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root (CI runs as root)")
	}
}

// RequireTools skips a test when one of the named programs is not
// installed; empty names are ignored.
func RequireTools(t testing.TB, names ...string) {
	t.Helper()
	for _, n := range names {
		if n == "" {
			continue
		}
		if _, err := exec.LookPath(n); err != nil {
			t.Skipf("%s not installed (make deps installs it): %v", n, err)
		}
	}
}

type builtBinary struct {
	once sync.Once
	path string
	err  error
}

var binaries sync.Map // package dir -> *builtBinary

// Binary builds the command in package dir (relative to the test's
// package) with CGO_ENABLED=0, as make build does, once per test binary,
// and returns the path of the program, named name.
func Binary(t *testing.T, dir, name string) string {
	t.Helper()
	v, _ := binaries.LoadOrStore(dir, &builtBinary{})
	b := v.(*builtBinary)
	b.once.Do(func() {
		tmp, err := os.MkdirTemp("", "dkms-test-bin")
		if err != nil {
			b.err = err
			return
		}
		b.path = tmp + "/" + name
		cmd := exec.Command("go", "build", "-o", b.path, dir)
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			b.err = fmt.Errorf("building %s: %v: %s", dir, err, out)
		}
	})
	if b.err != nil {
		t.Fatal(b.err)
	}
	return b.path
}

// CleanEnv is the test process's environment without what an outer make
// (make test) passes down, so module builds print the same under make as
// from a shell.
func CleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		switch strings.SplitN(kv, "=", 2)[0] {
		case "MAKEFLAGS", "MAKELEVEL", "MFLAGS", "MAKEOVERRIDES", "MAKE_TERMOUT", "MAKE_TERMERR":
			continue
		}
		env = append(env, kv)
	}
	return env
}

// KernelBuildDir is the build directory of DebianKernel's headers, for
// tests that compile a module; they skip without headers, make or gcc.
func KernelBuildDir(t testing.TB) string {
	t.Helper()
	kdir := "/lib/modules/" + DebianKernel(t) + "/build"
	if _, err := os.Stat(kdir + "/Makefile"); err != nil {
		t.Skipf("kernel headers not installed: %v", err)
	}
	RequireTools(t, "make", "gcc")
	return kdir
}

// exampleFiles are the sources of the bundled example module.
var exampleFiles = []string{"Makefile", "dkms_hello.c"}

// ExampleModule returns the sources of the bundled example module
// (examples/dkms-hello) by file name.
func ExampleModule(t testing.TB) map[string]string {
	t.Helper()
	dir := repoRoot(t) + "/examples/dkms-hello/"
	files := map[string]string{}
	for _, n := range exampleFiles {
		b, err := os.ReadFile(dir + n)
		if err != nil {
			t.Fatal(err)
		}
		files[n] = string(b)
	}
	return files
}

// ExampleModuleDir copies the example module's sources into a fresh
// temporary directory and returns it.
func ExampleModuleDir(t testing.TB) string {
	t.Helper()
	dir := t.TempDir()
	for n, content := range ExampleModule(t) {
		if err := os.WriteFile(dir+"/"+n, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// repoRoot is the directory of go.mod above the test's package.
func repoRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(dir + "/go.mod"); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the test's directory")
		}
		dir = parent
	}
}
