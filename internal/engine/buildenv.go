package engine

import (
	"context"
	"os"

	"github.com/dkms-go/dkms/internal/buildenv"
	"github.com/dkms-go/dkms/internal/fsops"
	"github.com/dkms-go/dkms/internal/proc"
)

// applyBuildEnvironment is build step 8a (delta D10): what the framework
// file build_environment exports becomes the environment of the rest of
// this pair's build. A missing file, an empty value or a file that exits
// change nothing.
func (e *Engine) applyBuildEnvironment(ctx context.Context, pc *pairCtx) {
	file := e.FW["build_environment"]
	if file == "" || !fsops.IsRegular(file) {
		return
	}
	env, ok := buildenv.Source(ctx, file, e.confVars(pc.Target), pc.buildEnv)
	if !ok {
		return
	}
	pc.buildEnv = env
	pc.cc, _ = proc.LookupEnv(env, "CC")
	pc.envApplied = true
}

// toolEnv is the environment of strip, the sign tool and the compressors:
// the build environment when build_environment changed it, else ours.
func (pc *pairCtx) toolEnv() []string {
	if pc.envApplied {
		return pc.buildEnv
	}
	return os.Environ()
}
