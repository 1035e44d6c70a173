package engine

import (
	"context"
	"strings"

	"github.com/dkms-go/dkms/internal/compress"
	"github.com/dkms-go/dkms/internal/dkmsconf"
	"github.com/dkms-go/dkms/internal/fsops"
	"github.com/dkms-go/dkms/internal/jobserver"
	"github.com/dkms-go/dkms/internal/kernel"
	"github.com/dkms-go/dkms/internal/sign"
	"github.com/dkms-go/dkms/internal/tree"
)

// pairCtx is the isolated context in which one pair is built or installed
// (§6.0 per-pair isolation): nothing set here leaks to the next pair.
type pairCtx struct {
	tree.Target
	force           bool
	versionOverride bool
	suffix          string
	suffixDone      bool
	prepared        bool
	signer          *sign.Signer
	buildEnv        []string
	cc              string
	envApplied      bool              // build_environment replaced buildEnv (D10)
	js              *jobserver.Server // shared jobserver of a parallel autoinstall
	batchDepmod     bool              // leave depmod to the caller (once per kernel)
	depmodDue       bool              // set when an install left depmod to the caller
	// linkOnly: "installed" is the built directory and the kernel link,
	// whatever the source link, as kernel_prerm tests it (§6.8): a broken
	// module then fails in its conf read instead of being skipped.
	linkOnly bool
}

func (e *Engine) newPair(k, a string) *pairCtx {
	return &pairCtx{Target: tree.Target{Module: e.O.Module, Version: e.O.Version, Kernel: k, Arch: a}, force: e.O.Force,
		versionOverride: e.O.ForceVersion}
}

// mainPair is a pair processed in the main context (uninstall, unbuild,
// remove loops): as upstream's, the compression suffix found for one pair
// stays set for the following ones (§7.3 quirk), unless the next pair's
// kernel has compressed modules of its own.
func (e *Engine) mainPair(k, a string) *pairCtx {
	pc := e.newPair(k, a)
	pc.suffix = e.mainSuffix
	e.lastMain = pc
	return pc
}

// compressionSuffix implements §7.3 once per pair context (the suffix is
// never cleared once set, as upstream's is not).
func (e *Engine) compressionSuffix(pc *pairCtx) string {
	if !pc.suffixDone {
		k := pc.Kernel
		if k == "" {
			k = e.CurrentKern
		}
		s, _ := compress.Detect(e.L.InstallTree, k)
		if s != "" {
			pc.suffix = s
			pc.suffixDone = true
			if pc == e.lastMain {
				e.mainSuffix = s
			}
		}
	}
	return pc.suffix
}

// Build runs `dkms build` (§6.2) over every pair; the status is the last pair's.
func (e *Engine) Build(ctx context.Context) error {
	if err := e.gateAll(); err != nil {
		return err
	}
	if err := e.gateBroken(); err != nil {
		return err
	}
	if err := e.gateWritable(); err != nil {
		return err
	}
	var last error
	for i, k := range e.Kernels {
		pc := e.newPair(k, e.Arches[i])
		last = e.buildPair(ctx, pc, true)
	}
	return last
}

// buildPair is §6.2 for one pair. checkBuilt is false when called from
// install (no "already built" skip).
func (e *Engine) buildPair(ctx context.Context, pc *pairCtx, checkBuilt bool) error {
	if checkBuilt && pc.Module != "" && pc.Version != "" && fsops.IsDir(e.L.BuiltModules(pc.Module, pc.Version, pc.Kernel, pc.Arch)) {
		if !pc.force {
			e.P.Line("Module " + pc.Module + "/" + pc.Version + " already built for kernel " + pc.Kernel + " (" + pc.Arch +
				"), skip. You may override by specifying --force.")
			return nil
		}
		if err := e.lock(); err != nil {
			return err
		}
		if err := fsops.RemoveTreeAtomic(e.L.BuiltDir(pc.Module, pc.Version, pc.Kernel, pc.Arch)); err != nil {
			return e.P.Die(6, "Could not delete the built module: "+err.Error())
		}
		if !fsops.HasSubdir(e.L.KernelDir(pc.Module, pc.Version, pc.Kernel)) {
			e.warn(fsops.RemoveTree(e.L.KernelDir(pc.Module, pc.Version, pc.Kernel)))
		}
	}
	if pc.Module == "" || pc.Version == "" || e.tree.State(pc.Module, pc.Version) != tree.Added {
		if err := e.add(ctx, true); err != nil {
			return err
		}
		pc.Module, pc.Version = e.O.Module, e.O.Version
		e.P.Line("")
	}
	m, v, k, a := pc.Module, pc.Version, pc.Kernel, pc.Arch
	if fsops.Exists(e.L.BuiltDir(m, v, k, a)) {
		return e.P.Die(3, "This module/version has already been built on: "+k,
			"Directory "+e.L.BuiltDir(m, v, k, a)+" already exists. Use the dkms remove function before trying to build again.")
	}
	e.compressionSuffix(pc)
	c, err := e.readConf(ctx, confRead{Target: tree.Target{Module: m, Version: v, Kernel: k, Arch: a}, strict: true})
	if err != nil {
		return err
	}
	return e.buildWithConf(ctx, pc, c)
}

func (e *Engine) excludedWarning(t tree.Target) error {
	m, v, k, a := t.Module, t.Version, t.Kernel, t.Arch
	return e.P.DieWarn(77, "The "+e.L.BuiltDir(m, v, k, a)+"/dkms.conf",
		"for module "+m+"/"+v+" includes BUILD_EXCLUSIVE directives",
		"which do not match this kernel/arch/config for any modules.",
		"This indicates that it should not be built.")
}

// missingHeaders is die 21 (D11: no distribution-specific package name).
func (e *Engine) missingHeaders(k string) error {
	kd := e.L.KernelModules(k)
	return e.P.Die(21, "Your kernel headers for kernel "+k+" cannot be found at "+kd+"/build or "+kd+"/source.",
		"Please install your distribution's kernel headers package matching "+k+", or use the --kernelsourcedir option to tell DKMS where it's located.")
}

// prepareKernel is §6.2 step 7 and 8: headers check, signing preparation,
// compiler environment. Done once per pair context.
func (e *Engine) prepareKernel(ctx context.Context, pc *pairCtx) error {
	if pc.prepared {
		return nil
	}
	ks := e.kernelSourceDir(pc.Kernel)
	if !fsops.IsDir(ks + "/include") {
		return e.missingHeaders(pc.Kernel)
	}
	pc.signer = e.prepareSigning(ctx, pc.Kernel)
	e.P.Line("")
	pc.prepared = true
	pc.buildEnv, pc.cc = e.compilerEnv(ctx, pc.Kernel)
	return nil
}

func (e *Engine) prepareSigning(ctx context.Context, k string) *sign.Signer {
	fw := e.readFramework(ctx, dkmsconf.SigningNames, k)
	return sign.Prepare(ctx, sign.Config{
		Kernel: k, KernelConfig: e.kernelConfig(k), InstallTree: e.L.InstallTree, Distro: e.Distro,
		SignFile: fw["sign_file"], Key: fw["mok_signing_key"], Cert: fw["mok_certificate"],
		DefaultKey: e.L.MOKKey(), DefaultCert: e.L.MOKCert(),
		Try: fw["try_sign_modules"], KernelSourceDir: e.kernelSourceDir(k), Root: e.L.Root, Env: e.Env,
	}, e.P.Stdout())
}

// compilerEnv is §6.2 step 8.
func (e *Engine) compilerEnv(ctx context.Context, k string) ([]string, string) {
	env := e.scriptEnv()
	cc, ld := kernel.Toolchain(ctx, e.kernelSourceDir(k), e.kernelConfig(k))
	if cc != "" {
		env = append(env, "CC="+cc, "KERNEL_CC="+cc)
	}
	if ld != "" {
		env = append(env, "LD="+ld, "KERNEL_LD="+ld)
	}
	return env, cc
}

// makeCommand is §4.7.
func (e *Engine) makeCommand(c *dkmsconf.Conf, pc *pairCtx) string {
	ks := e.kernelSourceDir(pc.Kernel)
	cmd := c.MakeCommand(pc.Kernel)
	if cmd == "" {
		cmd = "make -C " + ks + " M=" + e.L.BuildDir(pc.Module, pc.Version)
	}
	if kernel.Clang(ks, e.kernelConfig(pc.Kernel)) {
		cmd += " LLVM=1"
	}
	if strings.HasPrefix(cmd, "make") {
		prefix := "make -j" + e.Jobs + " KERNELRELEASE=" + pc.Kernel
		if pc.js != nil {
			// The shared jobserver sets the job count; a -j on the command
			// line would make make start a jobserver of its own.
			prefix = "make KERNELRELEASE=" + pc.Kernel
		}
		cmd = prefix + cmd[len("make"):]
	}
	return cmd
}
