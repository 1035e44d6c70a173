package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

var update = flag.Bool("update", false, "rewrite golden files")

// debianKernel is the kernel whose headers CI installs (linux-headers-amd64).
func debianKernel(t *testing.T) string {
	t.Helper()
	matches, _ := filepath.Glob("/lib/modules/*/build/include")
	for _, m := range matches {
		k := strings.Split(m, "/")[3]
		if strings.HasSuffix(k, "-amd64") {
			return k
		}
	}
	t.Skip("no Debian kernel headers installed (make deps installs linux-headers-amd64)")
	return ""
}

// testEnv is a throw-away system: a root with /etc/os-release and
// /etc/dkms, and the three dkms trees inside it.
type testEnv struct {
	t                     *testing.T
	root, dkms, src, inst string
	extraEnv              []string
}

func newEnv(t *testing.T) *testEnv {
	t.Helper()
	root := t.TempDir()
	e := &testEnv{t: t, root: root, dkms: root + "/var/lib/dkms", src: root + "/usr/src", inst: root + "/lib/modules"}
	for _, d := range []string{e.dkms, e.src, e.inst, root + "/etc/dkms/framework.conf.d", root + "/tmp"} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	e.write("/etc/os-release", "ID=debian\nNAME=\"Debian GNU/Linux\"\n")
	return e
}

func (e *testEnv) write(rel, content string) string {
	e.t.Helper()
	p := e.root + rel
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		e.t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		e.t.Fatal(err)
	}
	return p
}

// fakeKernel makes <inst>/<k> with a build dir holding include/ and a
// .config, so everything but a real compile works.
func (e *testEnv) fakeKernel(k, config string) {
	e.t.Helper()
	if err := os.MkdirAll(e.inst+"/"+k+"/build/include", 0o755); err != nil {
		e.t.Fatal(err)
	}
	if config != "" {
		e.write("/lib/modules/"+k+"/build/.config", config)
	}
}

// realKernel links <inst>/<k>/build to the installed headers.
func (e *testEnv) realKernel(k string) {
	e.t.Helper()
	os.MkdirAll(e.inst+"/"+k, 0o755)
	target, err := filepath.EvalSymlinks("/lib/modules/" + k + "/build")
	if err != nil {
		e.t.Skip("no headers for " + k)
	}
	if err := os.Symlink(target, e.inst+"/"+k+"/build"); err != nil {
		e.t.Fatal(err)
	}
}

// run runs dkms in-process against the env's trees.
func (e *testEnv) run(args ...string) (string, string, int) {
	e.t.Helper()
	full := append([]string{"/usr/sbin/dkms"}, args...)
	full = append(full, "--dkmstree", e.dkms, "--sourcetree", e.src, "--installtree", e.inst)
	env := append(cleanEnv(), "DKMS_SYSROOT="+e.root, "TMPDIR="+e.root+"/tmp")
	env = append(env, e.extraEnv...)
	var out, errb bytes.Buffer
	code := runWithRoot(context.Background(), full, env, &out, &errb, e.root)
	return e.norm(out.String()), e.norm(errb.String()), code
}

func (e *testEnv) norm(s string) string { return strings.ReplaceAll(s, e.root, "<root>") }

// module writes a module source tree under <src>/<m>-<v>.
func (e *testEnv) module(m, v, conf string, files map[string]string) string {
	e.t.Helper()
	dir := "/usr/src/" + m + "-" + v
	e.write(dir+"/dkms.conf", conf)
	for name, content := range files {
		p := e.write(dir+"/"+name, content)
		if strings.HasSuffix(name, ".sh") {
			os.Chmod(p, 0o755)
		}
	}
	return e.root + dir
}

// fakeBuildFiles is a module source whose "build" makes <name>.ko without
// a compiler: the Makefile copies a stand-in file.
func fakeBuildFiles(names ...string) map[string]string {
	var rules strings.Builder
	rules.WriteString("all:\n")
	for _, n := range names {
		rules.WriteString("\tprintf 'fake module " + n + "\\n' > " + n + ".ko\n")
	}
	return map[string]string{"Makefile": rules.String(), "fake.c": "/* stand-in */\n"}
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	p := filepath.Join("testdata", name+".golden")
	if *update {
		os.WriteFile(p, []byte(got), 0o644)
		return
	}
	want, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("missing golden file %s (run go test -update): %v", p, err)
	}
	if string(want) != got {
		t.Errorf("%s differs from golden file:\n--- got\n%s\n--- want\n%s", name, got, want)
	}
}

func requireRoot(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root (CI runs as root)")
	}
}

func requireTool(t *testing.T, names ...string) {
	for _, n := range names {
		if _, err := exec.LookPath(n); err != nil {
			t.Skip(n + " not installed (make deps installs it)")
		}
	}
}

func removeFile(t *testing.T, p string) {
	t.Helper()
	if err := os.Remove(p); err != nil {
		t.Fatal(err)
	}
}

// runAutoinstall runs bin/dkms-autoinstall (built by the test) on the env.
func (e *testEnv) runAutoinstall(args ...string) (string, string, int) {
	e.t.Helper()
	bin := buildAutoinstall(e.t)
	full := append(args, "--dkmstree", e.dkms, "--sourcetree", e.src, "--installtree", e.inst)
	cmd := exec.Command(bin, full...)
	cmd.Env = append(cleanEnv(), "DKMS_SYSROOT="+e.root, "TMPDIR="+e.root+"/tmp")
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		e.t.Fatal(err)
	}
	return e.norm(out.String()), e.norm(errb.String()), code
}

func buildAutoinstall(t *testing.T) string {
	return staticBinary(t, "../dkms-autoinstall", "dkms-autoinstall")
}

type builtBinary struct {
	once sync.Once
	path string
	err  error
}

var staticBinaries sync.Map // package dir -> *builtBinary

// staticBinary builds the command in package dir (relative to this one)
// with CGO_ENABLED=0, once per test binary, and returns its path.
func staticBinary(t *testing.T, dir, name string) string {
	t.Helper()
	v, _ := staticBinaries.LoadOrStore(dir, &builtBinary{})
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

// cleanEnv is the test process's environment without what an outer make
// (make test) passes down, so module builds print the same under make as
// from a shell.
func cleanEnv() []string {
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
