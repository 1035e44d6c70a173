// Package modscript locates the PRE_*/POST_* scripts a dkms.conf names
// (§7.1) and expands their arguments as the shell that upstream runs them
// from does.
package modscript

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/dkms-go/dkms/internal/proc"
)

// Find resolves a PRE_*/POST_* directive (§7.1) in dir: the script is
// the value up to the first space; ok is false when it is not executable.
func Find(dir, value string) (string, []string, bool) {
	fields := strings.Fields(value)
	if len(fields) == 0 {
		return "", nil, false
	}
	p := dir + "/" + fields[0]
	st, err := os.Stat(p)
	if err != nil || st.IsDir() || st.Mode()&0o111 == 0 {
		return p, nil, false
	}
	return p, fields[1:], true
}

// Dir is the directory a script is taken from and runs in (delta D9):
// over (/etc/dkms/<module>) when the script that value names is an
// executable there, else dir (the source or build directory).
func Dir(over, value, dir string) string {
	if _, _, ok := Find(over, value); ok {
		return over
	}
	return dir
}

// Glob expands pattern as the shell does in working directory dir: the
// sorted matches, relative patterns giving relative names, hidden files
// only for a component that starts with a dot; no match leaves the word.
func Glob(dir, pattern string) []string {
	if !strings.ContainsAny(pattern, "*?[") {
		return []string{pattern}
	}
	abs := pattern
	if !filepath.IsAbs(pattern) {
		abs = dir + "/" + pattern
	}
	matches, err := filepath.Glob(abs)
	var out []string
	for _, m := range matches {
		rel := m
		if !filepath.IsAbs(pattern) {
			rel = strings.TrimPrefix(m, dir+"/")
		}
		if !hiddenMatch(pattern, rel) {
			out = append(out, rel)
		}
	}
	if err != nil || len(out) == 0 {
		return []string{pattern}
	}
	return out
}

// hiddenMatch reports whether match has a dot file component that the
// pattern's component did not spell with a leading dot.
func hiddenMatch(pattern, match string) bool {
	pc, mc := strings.Split(pattern, "/"), strings.Split(match, "/")
	for i := range min(len(pc), len(mc)) {
		if strings.HasPrefix(mc[i], ".") && !strings.HasPrefix(pc[i], ".") {
			return true
		}
	}
	return false
}

// Run runs script prog with args in dir, as upstream's shell does: the
// arguments expanded in dir (Glob), the logical working directory dir
// (through the source link), and a file without #! line run by bash.
func Run(ctx context.Context, prog string, args []string, dir string, env []string, stdout, stderr io.Writer) error {
	var expanded []string
	for _, a := range args {
		expanded = append(expanded, Glob(dir, a)...)
	}
	run := func(name string, args ...string) error {
		cmd := proc.Command(ctx, true, name, args...)
		cmd.Dir = dir
		// The shell that upstream starts scripts from has cd'ed through
		// the source link: the script's logical working directory is
		// the link.
		cmd.Env = append(env, "PWD="+dir)
		cmd.Stdout = stdout
		cmd.Stderr = stderr
		return proc.Run(cmd)
	}
	err := run(prog, expanded...)
	if errors.Is(err, syscall.ENOEXEC) {
		// bash's exec runs a file without #! line as a bash script.
		err = run("bash", append([]string{prog}, expanded...)...)
	}
	return err
}
