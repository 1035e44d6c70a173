package shconf

import (
	"bytes"
	"context"
	"errors"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// attackEnv is a module source directory with what the hostile confs of
// testdata/hostile use: a sentinel file they try to change, a FIFO nobody
// writes, a .so whose constructor writes a file, and a "grep" that does.
type attackEnv struct {
	dir, src, sentinel, fifo, marker string
}

const sentinelBody = "orig\n"

func newAttackEnv(t *testing.T) *attackEnv {
	t.Helper()
	dir := t.TempDir()
	a := &attackEnv{dir: dir, src: filepath.Join(dir, "src"), sentinel: filepath.Join(dir, "sentinel"),
		fifo: filepath.Join(dir, "fifo"), marker: filepath.Join(dir, "marker")}
	if err := os.MkdirAll(a.src, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(a.sentinel, []byte(sentinelBody), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mkfifo(a.fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	grep := "#!/bin/sh\necho pwned >" + a.marker + "\n"
	if err := os.WriteFile(filepath.Join(a.src, "grep"), []byte(grep), 0o755); err != nil {
		t.Fatal(err)
	}
	return a
}

// check asserts that nothing the conf could reach was created, changed
// or deleted.
func (a *attackEnv) check(t *testing.T) {
	t.Helper()
	if b, err := os.ReadFile(a.sentinel); err != nil || string(b) != sentinelBody {
		t.Errorf("sentinel changed: %q, %v", b, err)
	}
	if _, err := os.Stat(a.marker); err == nil {
		t.Errorf("the attack created %s", a.marker)
	}
	names, _ := os.ReadDir(a.dir)
	if len(names) != 3 {
		t.Errorf("files in the module directory: %v", names)
	}
}

func (a *attackEnv) vars() map[string]string {
	return map[string]string{"SENTINEL": a.sentinel, "SRCDIR": a.src, "FIFO": a.fifo}
}

// install copies testdata/hostile/name into a's module as its dkms.conf
// and returns the conf's path.
func (a *attackEnv) install(t *testing.T, name string) string {
	t.Helper()
	body, err := os.ReadFile(filepath.Join("testdata/hostile", name))
	if err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(a.src, "dkms.conf")
	if err := os.WriteFile(conf, body, 0o644); err != nil {
		t.Fatal(err)
	}
	return conf
}

// writeAttackHeld evaluates the hostile conf name (with extra variables
// beside a's) with a 3 s deadline and fails unless it ended within its
// bound, the child was confined, nothing was written and the only error
// is the evaluation's.
// It returns the values the conf set.
func writeAttackHeld(t *testing.T, a *attackEnv, name string, extra map[string]string) map[string]Var {
	t.Helper()
	conf := a.install(t, name)
	vars := a.vars()
	maps.Copy(vars, extra)
	const deadline = 3 * time.Second
	start := time.Now()
	res, err := EvalFile(context.Background(), conf, []string{"PACKAGE_NAME", "X"},
		Options{Vars: vars, Timeout: deadline})
	if took, bound := time.Since(start), deadline+5*time.Second; took > bound {
		t.Errorf("%s: took %v, bound %v", name, took, bound)
	}
	var se *Error
	if err != nil && !errors.As(err, &se) {
		t.Errorf("%s: err = %v", name, err)
	}
	if st := JailState(); st != "confined" {
		t.Errorf("%s: jail %q", name, st)
	}
	a.check(t)
	return res
}

// buildEvilSO compiles a shared object whose constructor writes marker,
// and proves that it does so outside the sandbox.
func buildEvilSO(t *testing.T, a *attackEnv) {
	t.Helper()
	gcc, err := exec.LookPath("gcc")
	if err != nil {
		t.Skip("gcc not installed")
	}
	csrc := filepath.Join(t.TempDir(), "evil.c")
	code := `#include <stdio.h>
__attribute__((constructor)) static void evil(void) {
	FILE *f = fopen(MARKER, "w");
	if (f) { fputs("pwned\n", f); fclose(f); }
}
`
	if err := os.WriteFile(csrc, []byte(code), 0o644); err != nil {
		t.Fatal(err)
	}
	so := filepath.Join(a.src, "evil.so")
	probe := filepath.Join(t.TempDir(), "probe")
	for _, target := range []string{probe, a.marker} {
		out, err := exec.Command(gcc, "-shared", "-fPIC", `-DMARKER="`+target+`"`, "-o", so, csrc).CombinedOutput()
		if err != nil {
			t.Fatalf("gcc: %v\n%s", err, out)
		}
		if target == probe {
			cmd := exec.Command("/bin/true")
			cmd.Env = []string{"LD_PRELOAD=" + so}
			if err := cmd.Run(); err != nil {
				t.Fatal(err)
			}
			if _, err := os.Stat(probe); err != nil {
				t.Fatalf("the preloaded object does not work outside the sandbox: %v", err)
			}
		}
	}
}

// outOfMemory is the cause of the end of a memory bomb.
const outOfMemory = "evaluation ran out of memory"

// TestHostileConfs: every attack of testdata/hostile ends with nothing
// written, within its bound, as a refusal or an evaluation error, never a
// crash of the caller.
func TestHostileConfs(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("the kernel sandbox needs root (namespaces)")
	}
	const timeout = 3 * time.Second
	tests := []struct {
		file string
		want string // "" = may succeed; "refused" = a refusal naming the line; else a substring of the error
	}{
		{"sort-compress-prog.conf", ""},
		{"ld-preload.conf", ""},
		{"sed-in-pl.conf", ""},
		{"sed-i-abbrev.conf", ""},
		{"sort-outp.conf", ""},
		{"sort-o-abbrev.conf", ""},
		{"framework-rewrite.conf", ""},
		{"awk-system.conf", ""},
		{"find-delete.conf", ""},
		{"read-dev-zero.conf", "evaluation"},
		{"cat-fifo.conf", "timed out"},
		{"cat-dev-zero.conf", outOfMemory},
		{"doubling.conf", outOfMemory},
		{"redirect.conf", "refused"},
		{"cmdsubst-touch.conf", "refused"},
		{"eval.conf", "refused"},
		{"exec.conf", "refused"},
		{"command.conf", "refused"},
		{"builtin.conf", "refused"},
		{"dev-tcp.conf", "refused"},
		{"path-trick.conf", ""},
		{"function-shadow.conf", "refused"},
		{"brace-bomb.conf", ""},
		{"glob-bomb.conf", ""},
		{"fork-bomb.conf", ""},
		{"doubling-lines.conf", outOfMemory},
		{"copyback-escape.conf", ""},
		{"directive-escape.conf", ""},
		{"userns-remount.conf", ""},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			a := newAttackEnv(t)
			if tt.file == "ld-preload.conf" {
				buildEvilSO(t, a)
			}
			conf := a.install(t, tt.file)
			var stderr bytes.Buffer
			// A memory bomb gets the real deadline and must end by the
			// memory bound in half of it.
			deadline, bound := timeout, timeout+5*time.Second
			if tt.want == outOfMemory {
				deadline, bound = defaultTimeout, defaultTimeout/2
			}
			start := time.Now()
			_, err := EvalFile(context.Background(), conf, []string{"PACKAGE_NAME", "X"},
				Options{Vars: a.vars(), Env: []string{"PATH=/usr/bin:/bin"}, Timeout: deadline, Stderr: &stderr})
			took := time.Since(start)
			if took > bound {
				t.Errorf("took %v, bound %v", took, bound)
			}
			a.check(t)
			if st := JailState(); st != "confined" {
				t.Errorf("jail: %s", st)
			}
			var se *Error
			switch {
			case tt.want == "":
				if err != nil && !errors.As(err, &se) {
					t.Errorf("err = %v, want nil or *Error", err)
				}
			case tt.want == "refused":
				if !errors.As(err, &se) || se.Line == 0 || !strings.Contains(se.Msg, "not allowed") {
					t.Errorf("err = %v, want a refusal naming the line", err)
				}
			default:
				if !errors.As(err, &se) || se.File != conf || !strings.Contains(se.Msg, tt.want) {
					t.Errorf("err = %v, want an *Error for %s containing %q", err, conf, tt.want)
				}
			}
			if strings.Contains(stderr.String(), "context canceled") {
				t.Errorf("stray line on stderr: %q", stderr.String())
			}
		})
	}
}

// TestHugeConf: a 32 MB conf ends within the deadline in the child, and
// the caller's memory does not grow with it.
func TestHugeConf(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "dkms.conf")
	line := "A=" + strings.Repeat("a", 1000) + "\n"
	if err := os.WriteFile(p, []byte(strings.Repeat(line, 32<<20/len(line))), 0o644); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err := EvalFile(context.Background(), p, []string{"A"}, Options{Timeout: 2 * time.Second})
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("took %v", d)
	}
	var se *Error
	if err != nil && !errors.As(err, &se) {
		t.Errorf("err = %v", err)
	}
}

// TestFallbackRunsNoProgram: confined by nothing (forced here), only the
// built-in commands run, and runaway files are still bounded by the child.
func TestFallbackRunsNoProgram(t *testing.T) {
	forceFallback.Store(true)
	defer forceFallback.Store(false)
	res, err := evalString(t, "X=$(uname -r)-$(basename /a/b)\n", []string{"X"}, Options{})
	if err != nil || !strings.HasSuffix(res["X"].Index(0), "-b") {
		t.Fatalf("built-ins: %v %v", res, err)
	}
	if !strings.HasPrefix(JailState(), "unconfined") {
		t.Errorf("jail state %q", JailState())
	}
	_, err = evalString(t, "X=1\nY=$(grep -c . /dev/null)\n", []string{"X"}, Options{})
	var se *Error
	if !errors.As(err, &se) || se.Line != 2 || !strings.Contains(se.Msg, `command "grep" is not allowed (no kernel sandbox`) {
		t.Errorf("grep in the fallback: %v", err)
	}
	a := newAttackEnv(t)
	for _, f := range []string{"doubling.conf", "sed-in-pl.conf", "awk-system.conf", "cat-fifo.conf"} {
		start := time.Now()
		_, err := EvalFile(context.Background(), filepath.Join("testdata/hostile", f), []string{"X"},
			Options{Vars: a.vars(), Timeout: 2 * time.Second})
		if !errors.As(err, &se) {
			t.Errorf("%s: err = %v, want *Error", f, err)
		}
		if d := time.Since(start); d > 10*time.Second {
			t.Errorf("%s took %v", f, d)
		}
		a.check(t)
	}
}

// The cost of one evaluation: in this process (what every read cost
// before the sandbox, and what full_shell_modules still costs), in the
// running child, and with a child started and confined for it (the first
// conf a dkms command reads).
func benchConf(b *testing.B) string {
	p, err := filepath.Abs("testdata/corpus/05-zfs-modules-loop.conf")
	if err != nil {
		b.Fatal(err)
	}
	return p
}

var benchVars = map[string]string{"kernelver": "6.1.0-13-amd64", "arch": "x86_64"}

func BenchmarkEvalInProcess(b *testing.B) {
	p := benchConf(b)
	for b.Loop() {
		if _, err := evalInProcess(context.Background(), p, []string{"PACKAGE_NAME", "BUILT_MODULE_NAME"}, Options{Vars: benchVars}, policy{}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEvalChildWarm(b *testing.B) {
	p := benchConf(b)
	for b.Loop() {
		if _, err := EvalFile(context.Background(), p, []string{"PACKAGE_NAME", "BUILT_MODULE_NAME"}, Options{Vars: benchVars}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkEvalChildCold also reports the CPU time of dkms and of the
// child, its whole life included (start, confinement, evaluation, exit),
// per evaluation: unlike the wall time, that hardly depends on what else
// the machine runs.
func BenchmarkEvalChildCold(b *testing.B) {
	p := benchConf(b)
	stopServer()
	cpu0 := cpuTime(b)
	for b.Loop() {
		b.StopTimer()
		stopServer()
		b.StartTimer()
		if _, err := EvalFile(context.Background(), p, []string{"PACKAGE_NAME", "BUILT_MODULE_NAME"}, Options{Vars: benchVars}); err != nil {
			b.Fatal(err)
		}
	}
	stopServer() // the last child's CPU counts once it is reaped
	b.ReportMetric(float64(cpuTime(b)-cpu0)/float64(time.Millisecond)/float64(b.N), "cpu-ms/op")
}

// cpuTime is the CPU time of this process and of its reaped children. The
// kernel keeps each total exact; only its split into user and system
// time is sampled.
func cpuTime(b *testing.B) time.Duration {
	var self, children unix.Rusage
	if unix.Getrusage(unix.RUSAGE_SELF, &self) != nil || unix.Getrusage(unix.RUSAGE_CHILDREN, &children) != nil {
		b.Fatal("getrusage")
	}
	var d time.Duration
	for _, tv := range []unix.Timeval{self.Utime, self.Stime, children.Utime, children.Stime} {
		d += time.Duration(tv.Nano())
	}
	return d
}

// TestPureFastPath: files of plain assignments are evaluated in this
// process (no child is needed), the others are not.
func TestPureFastPath(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	vars := map[string]string{"kernelver": "6.1.0-13-amd64", "odd": "$(cat /dev/zero)"}
	for _, tt := range []struct {
		body string
		pure bool
	}{
		{"PACKAGE_NAME=x\nMAKE[0]='make -C $kernelver'\nA=(a b \"c d\")\nB=${kernelver:-none}\n", true},
		{"sign_file=\"/usr/lib/linux-kbuild-6.1/scripts/sign-file\"\n# comment\n", true},
		{"X=$(uname -r)\n", false},
		{"X=`uname -r`\n", false},
		{"X='$(cat /dev/zero)'\n", false},
		{"X=\"$odd\"\n", false},
		{"X=(/*/*)\n", false},
		{"X=({1..9})\n", false},
		{"X=${kernelver/6/7}\n", false},
		{"if true; then X=1; fi\n", false},
		{"X=1 >/dev/null\n", false},
		{"X=$'a'\n", false},
		{"X=\"a\\\"b\"\n", false},
		{"X=xxxxxxxxxxxxxxxx\n" + strings.Repeat("X=$X$X\n", 5), true},
		{"DKMS_DIRECTIVE_A='a;cat</dev/zero;b=1'\n", false},
		{"X=xxxxxxxxxxxxxxxx\n" + strings.Repeat("X=$X$X\n", 40), false},
		// Many copies of one value, each under the bound of a value: a
		// thousand are over the bound of all values together (which dkms's
		// own process would hold), a hundred are not.
		{"X=xxxxxxxxxxxxxxxx\n" + strings.Repeat("X=$X$X\n", 6) + strings.Repeat("Y=$X\n", 1000), false},
		{"X=xxxxxxxxxxxxxxxx\n" + strings.Repeat("X=$X$X\n", 6) + strings.Repeat("Y=$X\n", 100), true},
	} {
		p := write("c.conf", tt.body)
		if got := boundedPure(p, valueLens(Options{Vars: vars})); got != tt.pure {
			t.Errorf("boundedPure(%q) = %v, want %v", tt.body, got, tt.pure)
		}
	}

	// A pure file is not held to the wall-clock deadline: with one that
	// has passed before it starts, it still evaluates, while the same
	// evaluation with the deadline fails.
	p := write("pure.conf", "PACKAGE_NAME=x\nMAKE[0]='make -C $kernelver'\n")
	opts := Options{Vars: vars, Timeout: time.Nanosecond}
	got, err := EvalFile(context.Background(), p, []string{"PACKAGE_NAME", "MAKE"}, opts)
	if err != nil || got["PACKAGE_NAME"].Index(0) != "x" || got["MAKE"].Index(0) != "make -C 6.1.0-13-amd64" {
		t.Errorf("pure file under a passed deadline: %v, %v; want PACKAGE_NAME=x and MAKE[0] expanded", got, err)
	}
	if _, err := evalInProcess(context.Background(), p, []string{"PACKAGE_NAME"}, opts, policy{}); err == nil || !strings.Contains(err.Error(), "timed out") {
		t.Errorf("timed evaluation under a passed deadline: %v, want a timeout", err)
	}
}

// TestLandlockOnly: without namespaces (a user other than root, a
// container that refuses them), Landlock, seccomp and the dropped
// capabilities confine the child; the write attacks still write nothing.
func TestLandlockOnly(t *testing.T) {
	if v, err := landlockABI(); err != nil || v < 1 {
		t.Skip("no Landlock in this kernel")
	}
	forceNoNS.Store(true)
	defer forceNoNS.Store(false)
	for _, f := range []string{"sed-in-pl.conf", "sort-outp.conf", "awk-system.conf", "find-delete.conf",
		"framework-rewrite.conf", "sort-compress-prog.conf", "path-trick.conf"} {
		writeAttackHeld(t, newAttackEnv(t), f, nil)
	}
	// The child really had no mount namespace of its own: its mounts are
	// the machine's, writable, and Landlock alone held the writes.
	res, err := evalString(t, "W=$(awk '$6 ~ /^rw/' /proc/self/mountinfo | wc -l)\n", []string{"W"}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if w := res["W"].Index(0); w == "" || w == "0" {
		t.Errorf("writable mounts seen by the child: %q (want the machine's)", w)
	}
}
