package shconf

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func evalString(t *testing.T, body string, names []string, opts Options) (map[string]Var, error) {
	t.Helper()
	p := filepath.Join(t.TempDir(), "dkms.conf")
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return EvalFile(context.Background(), p, names, opts)
}

func TestSandboxRefusals(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, body, msg string
		line            int
	}{
		{"rm", "X=1\nrm -rf /nonexistent-dkms-test\n", `command "rm" is not allowed`, 2},
		{"python", "X=$(echo a | python3 -c 1)\n", `command "python3" is not allowed`, 1},
		{"sh", "sh -c 'touch /tmp/x'\n", `command "sh" is not allowed`, 1},
		{"absolute path", "/bin/touch /tmp/x\n", `command "/bin/touch" is not allowed`, 1},
		{"odd dir", "/tmp/grep x\n", `command "/tmp/grep" is not allowed`, 1},
		{"redirect", "X=1\n\necho hi > out.txt\n", `redirection to`, 3},
		{"append", "echo hi >> /tmp/dkms-sandbox-test\n", `redirection to "/tmp/dkms-sandbox-test"`, 1},
		{"eval", "eval 'rm x'\n", `command "rm" is not allowed`, 1},
		{"procsubst", "cat <(echo x)\n", `process substitution is not allowed`, 1},
		{"eval procsubst", "eval 'cat <(echo x)'\n", `process substitution is not allowed`, 1},
		{"function", "f() { python3 -c 1; }\nf\n", `command "python3" is not allowed`, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := evalString(t, tt.body, []string{"X"}, Options{})
			var se *Error
			if !errors.As(err, &se) {
				t.Fatalf("err = %v, want *Error", err)
			}
			if !strings.Contains(se.Msg, tt.msg) || !strings.HasSuffix(se.Msg, "in dkms.conf (sandboxed evaluation)") {
				t.Errorf("msg = %q, want it to contain %q", se.Msg, tt.msg)
			}
			if se.Line != tt.line {
				t.Errorf("line = %d, want %d (%v)", se.Line, tt.line, se)
			}
		})
	}
}

func TestSedSandboxBlocksWrite(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("sed"); err != nil {
		t.Skip("sed not installed")
	}
	dir := t.TempDir()
	target := filepath.Join(dir, "written")
	var errb bytes.Buffer
	res, err := evalString(t, "X=$(echo a | sed 'w "+target+"')\nY=$(echo abc | sed 's/b/B/')\n", []string{"X", "Y"}, Options{Stderr: &errb})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(target); err == nil {
		t.Fatal("sed w command wrote a file")
	}
	if res["Y"].Index(0) != "aBc" || res["X"].Index(0) != "" {
		t.Errorf("X=%q Y=%q", res["X"].Index(0), res["Y"].Index(0))
	}
}

func TestAllowedCommands(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	if err := os.WriteFile(data, []byte("l1\nl2\nl3\nl4\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	body := `A=$(head -n 2 data | tail -n 1)
B=$(tail -n +3 data | head -1)
C=$(basename /x/y/z.ko .ko)-$(basename /a/b/)-$(dirname /a/b/c)-$(dirname c)-$(dirname /)
D=$(cat data | wc -l)
E=$(grep -c l data)$(echo x,y | cut -d, -f2)$(echo abc | tr a-c A-C)
F=$(printf 'b\na\n' | sort | head -n 1)
G=$(expr 6 \* 7)
H=$(true && echo t; false || echo f)
echo noise > /dev/null
`
	p := filepath.Join(dir, "dkms.conf")
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	res, err := EvalFile(context.Background(), p, strings.Fields("A B C D E F G H"), Options{Env: []string{"PATH=/usr/bin:/bin"}})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"A": "l2", "B": "l3", "C": "z-b-/a/b-.-/", "D": "4", "E": "4yABC", "F": "a", "G": "42", "H": "t f"}
	for k, v := range want {
		if got := res[k].Index(0); got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
}

func TestUnameMatchesCoreutils(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("uname"); err != nil {
		t.Skip("uname not installed")
	}
	for _, flags := range []string{"-r", "-m", "-s", "-n", "-v", "-a", "-p", "-rm", "-sr", "--kernel-release", ""} {
		res, err := evalString(t, "X=$(uname "+flags+")\n", []string{"X"}, Options{})
		if err != nil {
			t.Fatal(err)
		}
		args := strings.Fields(flags)
		out, err := exec.Command("uname", args...).Output()
		if err != nil {
			t.Fatal(err)
		}
		if got, want := res["X"].Index(0), strings.TrimSpace(string(out)); got != want {
			t.Errorf("uname %s = %q, coreutils says %q", flags, got, want)
		}
	}
}

// TestNprocMatchesCoreutils: the sandbox's nproc, which also gives dkms its
// default parallel_jobs, honours the OpenMP variables as coreutils does.
func TestNprocMatchesCoreutils(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("nproc"); err != nil {
		t.Skip("nproc not installed")
	}
	envs := [][]string{nil, {"OMP_NUM_THREADS=1"}, {"OMP_NUM_THREADS=7,2"}, {"OMP_NUM_THREADS= 5 "}, {"OMP_NUM_THREADS=0"},
		{"OMP_NUM_THREADS=x"}, {"OMP_NUM_THREADS=+3"}, {"OMP_THREAD_LIMIT=1"}, {"OMP_NUM_THREADS=9", "OMP_THREAD_LIMIT=4"},
		{"OMP_THREAD_LIMIT=0"}}
	for _, env := range envs {
		for _, flags := range []string{"", "--all"} {
			res, err := evalString(t, "X=$(nproc "+flags+")\n", []string{"X"}, Options{Env: env})
			if err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command("nproc", strings.Fields(flags)...)
			cmd.Env = env
			out, err := cmd.Output()
			if err != nil {
				t.Fatal(err)
			}
			if got, want := res["X"].Index(0), strings.TrimSpace(string(out)); got != want {
				t.Errorf("nproc %s with %q = %q, coreutils says %q", flags, env, got, want)
			}
		}
	}
}

func TestPresetVarsEnvAndExit(t *testing.T) {
	t.Parallel()
	names := []string{"MAKE", "PACKAGE_NAME", "K", "E"}
	preset := map[string]Var{
		"MAKE":         {Set: true, Array: true, Elems: map[int]string{0: "make a", 3: "make d"}},
		"PACKAGE_NAME": {Set: true, Scalar: "pre"},
	}
	body := `MAKE[1]="${MAKE[0]} b"
K="$kernelver:$(env kernelver 2>/dev/null)"
E="$(grep -c . /dev/null)$FROM_ENV"
`
	_, err := evalString(t, body, names, Options{Preset: preset,
		Vars: map[string]string{"kernelver": "6.1"}, Env: []string{"FROM_ENV=env", "PACKAGE_NAME=ignored", "PATH=/usr/bin:/bin"}})
	var se *Error
	if !errors.As(err, &se) || !strings.Contains(se.Msg, `"env"`) {
		t.Fatalf("env should be refused, got %v", err)
	}
	res, err := evalString(t, strings.Replace(body, ":$(env kernelver 2>/dev/null)", "", 1), names,
		Options{Preset: preset, Vars: map[string]string{"kernelver": "6.1"}, Env: []string{"FROM_ENV=env", "PACKAGE_NAME=ignored"}})
	if err != nil {
		t.Fatal(err)
	}
	m := res["MAKE"]
	if m.Len() != 4 || m.Index(0) != "make a" || m.Index(1) != "make a b" || m.Index(2) != "" || m.Index(3) != "make d" {
		t.Errorf("MAKE = %#v", m)
	}
	if res["PACKAGE_NAME"].Index(0) != "pre" || res["K"].Index(0) != "6.1" || res["E"].Index(0) != "0env" {
		t.Errorf("PACKAGE_NAME=%q K=%q E=%q", res["PACKAGE_NAME"].Index(0), res["K"].Index(0), res["E"].Index(0))
	}

	// exit leaves nothing copied back, so only the preset survives.
	res, err = evalString(t, "PACKAGE_NAME=new\nK=1\nexit 3\n", names, Options{Preset: preset})
	if err != nil {
		t.Fatal(err)
	}
	if res["PACKAGE_NAME"].Index(0) != "pre" || res["K"].Set {
		t.Errorf("after exit: %#v", res)
	}
}

func TestTimeout(t *testing.T) {
	t.Parallel()
	start := time.Now()
	_, err := evalString(t, "while :; do :; done\n", []string{"X"}, Options{Timeout: 200 * time.Millisecond})
	var se *Error
	if !errors.As(err, &se) || !strings.Contains(se.Msg, "timed out") {
		t.Fatalf("err = %v, want timeout *Error", err)
	}
	if time.Since(start) > 5*time.Second {
		t.Errorf("timeout took %v", time.Since(start))
	}
}

func TestFullShell(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	target := filepath.Join(dir, "made")
	var errb bytes.Buffer
	res, err := evalString(t, "touch "+target+"\necho out\necho err >&2\nX=$(awk 'BEGIN{print 7}')\n", []string{"X"},
		Options{FullShell: true, Env: []string{"PATH=/usr/bin:/bin"}, Stderr: &errb})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(target); err != nil {
		t.Errorf("full shell did not run touch: %v", err)
	}
	if errb.String() != "err\n" {
		t.Errorf("stderr = %q", errb.String())
	}
	if _, err := exec.LookPath("awk"); err == nil && res["X"].Index(0) != "7" {
		t.Errorf("X = %q", res["X"].Index(0))
	}
}

func TestSyntaxErrorNamesLine(t *testing.T) {
	t.Parallel()
	_, err := evalString(t, "A=1\nif true; then\n", []string{"A"}, Options{})
	var se *Error
	if !errors.As(err, &se) || se.Line == 0 || !strings.HasSuffix(se.File, "dkms.conf") {
		t.Fatalf("err = %#v", err)
	}
	_, err = evalString(t, "A=1\r\nif true; then\r\n  B=2\r\nfi\r\n", []string{"A"}, Options{})
	if !errors.As(err, &se) {
		t.Fatalf("CRLF keywords must fail like bash, got %v", err)
	}
}

// FuzzEvalFile fuzzes the evaluator in this process (not the sandboxed
// child, whose start-up would dominate): no input may crash it, hang it
// past its deadline or write a file. Only built-in commands run here.
func FuzzEvalFile(f *testing.F) {
	// Not testdata/hostile: its memory bombs are meant for the child's
	// limits, and in this process they would only exhaust the fuzzer.
	for _, glob := range []string{"testdata/corpus/*.conf"} {
		seeds, _ := filepath.Glob(glob)
		for _, s := range seeds {
			if data, err := os.ReadFile(s); err == nil {
				f.Add(data)
			}
		}
	}
	f.Add([]byte("rm -rf x; touch y; echo > z; X=(a [9]=b); eval 'cp a b'"))
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		p := filepath.Join(dir, "dkms.conf")
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		res, err := evalInProcess(context.Background(), p, []string{"PACKAGE_NAME", "MAKE", "X"},
			Options{Timeout: 50 * time.Millisecond, Vars: map[string]string{"kernelver": "6.1"}, Env: []string{"PATH=/nonexistent"}},
			policy{})
		if d := time.Since(start); d > 5*time.Second {
			t.Fatalf("evaluation took %v", d)
		}
		if after, _ := os.ReadDir(dir); len(after) != 1 {
			t.Fatalf("sandboxed evaluation created files: %v", after)
		}
		if err == nil {
			for _, v := range res {
				_ = v.Len()
				_ = v.Index(0)
			}
		}
	})
}

func TestRunawayFiles(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, body, msg string }{
		{"recursion", "f() { f; }\nf\n", ""}, // nesting limit or deadline, whichever first
		{"subst recursion", "f() { x=$(f); }\nf\n", ""},
		{"fork bomb", "f() { f | f; }\nf\n", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			start := time.Now()
			_, err := evalString(t, tt.body, []string{"X"}, Options{Timeout: 3 * time.Second})
			var se *Error
			if !errors.As(err, &se) || !strings.Contains(se.Msg, tt.msg) {
				t.Fatalf("err = %v", err)
			}
			if d := time.Since(start); d > 20*time.Second {
				t.Errorf("took %v", d)
			}
		})
	}
}

// TestNestingLimit: recursion ends at the nesting bound, not at the
// deadline, though the stack's depth is measured only every
// stackCheckEvery calls.
func TestNestingLimit(t *testing.T) {
	t.Parallel()
	for _, body := range []string{"f() { f; }\nf\n", "f() { g; }\ng() { f; }\nf\n", "f() { x=$(f); }\nf\n"} {
		start := time.Now()
		_, err := evalString(t, body, []string{"X"}, Options{Timeout: 60 * time.Second})
		var se *Error
		if !errors.As(err, &se) || !strings.Contains(se.Msg, "function nesting this deep") {
			t.Errorf("%q: err = %v, want the nesting bound", body, err)
		}
		if d := time.Since(start); d > 30*time.Second {
			t.Errorf("%q: took %v", body, d)
		}
	}
}
