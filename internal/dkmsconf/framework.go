package dkmsconf

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/dkms-go/dkms/internal/shconf"
)

// Framework holds the framework.conf variables that some file set (set to
// "" counts, unset does not).
type Framework map[string]string

// ReadFramework evaluates <etcDir>/framework.conf and then
// <etcDir>/framework.conf.d/*.conf in glob order (§3.1), each isolated and
// sandboxed, later files overriding earlier ones. Only names are copied
// back, so functions a file defines change nothing. A file that fails to
// evaluate is reported to stderr and skipped, as upstream carries on; the
// returned error joins those failures and the Framework is usable anyway.
func ReadFramework(ctx context.Context, etcDir string, names []string, kernelver string, env []string, stderr io.Writer) (Framework, error) {
	return ReadFrameworkOver(ctx, etcDir, names, kernelver, env, nil, stderr)
}

// ReadFrameworkOver is ReadFramework starting from the values that dkms
// holds before the first file runs (delta C1: framework variables dkms does
// not reset keep their value from the process environment). Each evaluated
// file copies those back as it copies its own assignments, so they go
// through the same re-expansion; with no file they come back verbatim.
func ReadFrameworkOver(ctx context.Context, etcDir string, names []string, kernelver string, env []string, initial Framework, stderr io.Writer) (Framework, error) {
	if stderr == nil {
		stderr = io.Discard
	}
	files := []string{filepath.Join(etcDir, "framework.conf")}
	more, _ := filepath.Glob(filepath.Join(etcDir, "framework.conf.d", "*.conf"))
	files = append(files, more...)
	var present []string
	for _, f := range files {
		if _, err := os.Stat(f); err == nil {
			present = append(present, f)
		}
	}
	vals := map[string]shconf.Var{}
	for n, v := range initial {
		vals[n] = shconf.Var{Set: true, Scalar: v}
	}
	var errs []error
	steps := shconf.EvalChains(ctx, []shconf.Chain{{Files: present, Names: names, KeepGoing: true,
		Opts: shconf.Options{Preset: vals, Vars: map[string]string{"kernelver": kernelver}, Env: env, Stderr: stderr}}})[0]
	for _, st := range steps {
		if st.Err != nil {
			fmt.Fprintln(stderr, st.Err)
			errs = append(errs, fmt.Errorf("reading framework.conf: %w", st.Err))
			continue
		}
		vals = st.Vals
	}
	fw := Framework{}
	for _, n := range names {
		if v := vals[n]; v.Set {
			fw[n] = v.Index(0)
		}
	}
	return fw, errors.Join(errs...)
}

// FullShellFor reports whether the framework variable full_shell_modules
// (blank-separated module names, or "*") opts module out of the sandbox.
func FullShellFor(f Framework, module string) bool {
	for _, m := range strings.Fields(f["full_shell_modules"]) {
		if m == "*" || m == module {
			return true
		}
	}
	return false
}
