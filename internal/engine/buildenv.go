package engine

import (
	"bytes"
	"context"
	"os"
	"sort"
	"strings"

	"github.com/dkms-go/dkms/internal/fsops"
	"github.com/dkms-go/dkms/internal/proc"
)

// buildEnvMarker separates what the build_environment file printed to the
// saved descriptor from the environment dump.
const buildEnvMarker = "DKMS_BUILD_ENVIRONMENT_DUMP\x00"

// applyBuildEnvironment is build step 8a (delta D10): the framework file
// build_environment is sourced by bash in a child that sees dkms's shell
// variables, and the variables exported there afterwards become the
// environment of the rest of this pair's build. Its output is discarded;
// a missing file, an empty value or a file that exits change nothing.
func (e *Engine) applyBuildEnvironment(ctx context.Context, pc *pairCtx) {
	file := e.FW["build_environment"]
	if file == "" || !fsops.IsRegular(file) {
		return
	}
	vars := e.confVars(pc.m, pc.v, pc.k, pc.a)
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
	cmd.Env = pc.buildEnv
	var out bytes.Buffer
	cmd.Stdout = &out
	proc.Run(cmd)
	_, dump, ok := bytes.Cut(out.Bytes(), []byte(buildEnvMarker))
	if !ok {
		return
	}
	var env []string
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
		env = append(env, kv)
	}
	pc.buildEnv = env
	pc.cc, _ = lookupEnv(env, "CC")
	pc.envApplied = true
}

// shellQuote quotes s for bash as one word.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// toolEnv is the environment of strip, the sign tool and the compressors:
// the build environment when build_environment changed it, else ours.
func (pc *pairCtx) toolEnv() []string {
	if pc.envApplied {
		return pc.buildEnv
	}
	return os.Environ()
}
