package engine

import (
	"context"

	"github.com/dkms-go/dkms/internal/build"
	"github.com/dkms-go/dkms/internal/dkmsconf"
	"github.com/dkms-go/dkms/internal/fsops"
)

// buildWithConf is §6.2 steps 5-21, after the conf was read.
func (e *Engine) buildWithConf(ctx context.Context, pc *pairCtx, c *dkmsconf.Conf) error {
	m, v, k, a := pc.Module, pc.Version, pc.Kernel, pc.Arch
	p := e.P
	if c.Excluded(k, a, e.kernelConfig(k)) {
		return e.excludedWarning(pc.Target)
	}
	// Records that BUILD_EXCLUSIVE excludes are not built (delta D5.2):
	// make runs as usual, but their modules are neither required nor kept.
	excluded := dkmsconf.ExcludedRecords(c.Records, k, a, e.kernelConfig(k))
	src := e.L.SourceLink(m, v)
	if len(fsops.ReadDirNames(src)) < 2 {
		return p.Die(8, "The directory "+src+" does not appear to have module source located within it.",
			"Build halted.")
	}
	if err := e.prepareKernel(ctx, pc); err != nil {
		return err
	}
	e.applyBuildEnvironment(ctx, pc)
	var missing string
	for _, dep := range c.BuildDepends {
		if !e.tree.AnyInstalled(dep, k, a) {
			missing += " " + dep
		}
	}
	if missing != "" {
		if pc.force {
			p.Warning("Trying to build module " + m + "/" + v + " for kernel " + k + " (" + a + ") despite of missing BUILD_DEPENDS:" + missing + ".")
		} else {
			return p.Die(13, "Aborting build of module "+m+"/"+v+" for kernel "+k+" ("+a+") due to missing BUILD_DEPENDS:"+missing+".",
				"You may override by specifying --force.")
		}
	}
	if err := e.lock(); err != nil {
		return err
	}
	j := build.Job{Target: pc.Target, L: e.L, P: p, Conf: c, Excluded: excluded, Release: Release,
		Env: pc.buildEnv, ToolEnv: pc.toolEnv(), CC: pc.cc, Signer: pc.signer, Suffix: pc.suffix,
		Compress: e.Compress, Verbose: e.Verbose,
		MakeCommand: func() string { return e.makeCommand(c, pc) },
		Script:      func(ctx context.Context, typ, value string) int { return e.runLoggedScript(ctx, pc, typ, value) }}
	if pc.js != nil {
		j.Attach = pc.js.Attach
	}
	if err := build.Run(ctx, j); err != nil {
		return err
	}
	if c.BuildDependsRebuild && !e.O.Force {
		for _, dep := range c.BuildDepends {
			if dv := e.tree.LatestVersion(dep); dv != "" {
				e.warn(fsops.WriteFileAtomic(e.L.DepRecord(m, v, k, a, dep), []byte(dv+"\n"), 0o644))
			}
		}
	}
	return nil
}
