// Package buildenv evaluates the framework's build_environment file
// (delta D10): bash sources it in a child that sees dkms's shell
// variables, and what it exports becomes the environment of a build.
package buildenv

import (
	"bytes"
	"context"
	"sort"
	"strings"

	"github.com/dkms-go/dkms/internal/proc"
)

// marker separates what the file printed to the saved descriptor from the
// environment dump.
const marker = "DKMS_BUILD_ENVIRONMENT_DUMP\x00"

// Source runs bash with env, sets vars as shell variables, sources file
// and returns the environment exported afterwards, without bash's own
// bookkeeping variables. The file's output is discarded; ok is false when
// no environment came back (the file exited, or bash could not run).
func Source(ctx context.Context, file string, vars map[string]string, env []string) (out []string, ok bool) {
	names := make([]string, 0, len(vars))
	for n := range vars {
		names = append(names, n)
	}
	sort.Strings(names)
	var script strings.Builder
	// The file's own output goes nowhere; descriptor 3 keeps ours.
	script.WriteString("exec 3>&1 >/dev/null 2>&1 </dev/null\n")
	for _, n := range names {
		script.WriteString(n + "=" + shellQuote(vars[n]) + "\n")
	}
	script.WriteString(". " + shellQuote(file) + "\n")
	script.WriteString("printf 'DKMS_BUILD_ENVIRONMENT_DUMP\\0' >&3\nexec env -0 >&3\n")
	cmd := proc.Command(ctx, true, "bash", "-c", script.String())
	cmd.Env = env
	var b bytes.Buffer
	cmd.Stdout = &b
	proc.Run(cmd)
	_, dump, ok := bytes.Cut(b.Bytes(), []byte(marker))
	if !ok {
		return nil, false
	}
	for _, kv := range strings.Split(string(dump), "\x00") {
		name, _, found := strings.Cut(kv, "=")
		if !found {
			continue
		}
		switch name {
		case "_", "SHLVL", "PWD", "OLDPWD":
			// bash's own bookkeeping, not the file's doing.
			continue
		}
		out = append(out, kv)
	}
	return out, true
}

// shellQuote quotes s for bash as one word.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
