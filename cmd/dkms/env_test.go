package main

import (
	"bytes"
	"context"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dkms-go/dkms/internal/testenv"
)

var update = flag.Bool("update", false, "rewrite golden files")

// testEnv is a throw-away system (testenv.Root) that dkms runs against.
type testEnv struct {
	t                     *testing.T
	r                     *testenv.Root
	root, dkms, src, inst string
	extraEnv              []string
}

func newEnv(t *testing.T) *testEnv {
	t.Helper()
	r := testenv.NewRoot(t)
	return &testEnv{t: t, r: r, root: r.Dir, dkms: r.DKMS, src: r.Src, inst: r.Inst}
}

func (e *testEnv) write(rel, content string) string { return e.r.Write(rel, content, 0o644) }

// fakeKernel makes headers as far as dkms looks and, when config is not
// empty, their .config, so everything but a real compile works.
func (e *testEnv) fakeKernel(k, config string) {
	e.t.Helper()
	e.r.FakeKernel(k)
	if config != "" {
		e.write("/lib/modules/"+k+"/build/.config", config)
	}
}

// realKernel links <inst>/<k>/build to the installed headers.
func (e *testEnv) realKernel(k string) { e.r.RealKernel(k) }

// run runs dkms in-process against the env's trees.
func (e *testEnv) run(args ...string) (string, string, int) {
	e.t.Helper()
	full := append([]string{"/usr/sbin/dkms"}, args...)
	full = append(full, "--dkmstree", e.dkms, "--sourcetree", e.src, "--installtree", e.inst)
	env := append(testenv.CleanEnv(), "DKMS_SYSROOT="+e.root, "TMPDIR="+e.root+"/tmp")
	env = append(env, e.extraEnv...)
	var out, errb bytes.Buffer
	code := runWithRoot(context.Background(), full, env, &out, &errb, e.root)
	return e.norm(out.String()), e.norm(errb.String()), code
}

func (e *testEnv) norm(s string) string { return e.r.Norm(s) }

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
	cmd.Env = append(testenv.CleanEnv(), "DKMS_SYSROOT="+e.root, "TMPDIR="+e.root+"/tmp")
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
	return testenv.Binary(t, "../dkms-autoinstall", "dkms-autoinstall")
}
