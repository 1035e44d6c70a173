package engine

import (
	"context"
	"errors"
	"path/filepath"
	"strings"

	"github.com/dkms-go/dkms/internal/dkmsconf"
	"github.com/dkms-go/dkms/internal/fsops"
	"github.com/dkms-go/dkms/internal/kernel"
	"github.com/dkms-go/dkms/internal/tree"
)

// kernelSourceDir is --kernelsourcedir or <install_tree>/<k>/build.
func (e *Engine) kernelSourceDir(k string) string {
	if e.O != nil && e.O.KernelSourceDir != "" {
		return e.O.KernelSourceDir
	}
	return e.L.KernelModules(k) + "/build"
}

// kernelConfig is --config, else include/config/auto.conf when present,
// else .config (§4.1).
func (e *Engine) kernelConfig(k string) string {
	if e.O != nil && e.O.KernelConfig != "" {
		return e.O.KernelConfig
	}
	if c, ok := e.kconfigMemo[k]; ok {
		return c
	}
	c := kernel.Config(e.kernelSourceDir(k))
	if e.kconfigMemo == nil {
		e.kconfigMemo = map[string]string{}
	}
	e.kconfigMemo[k] = c
	return c
}

// confRead describes one read of a dkms.conf.
type confRead struct {
	tree.Target
	path   string // explicit path; "" = -c, else the tree's source/dkms.conf
	strict bool
	quiet  bool // status: report nothing beyond the conf's own messages
}

// readConf reads a dkms.conf for one pair, printing dkms's messages and
// returning the die error on failure (§4.1-§4.5).
func (e *Engine) readConf(ctx context.Context, r confRead) (*dkmsconf.Conf, error) {
	explicit := r.path
	file := r.path
	if file == "" && e.O != nil && e.O.ConfPath != "" {
		file = e.O.ConfPath
	}
	if file == "" {
		file = e.L.SourceLink(r.Module, r.Version) + "/dkms.conf"
	}
	shown := explicit
	if shown == "" && e.O != nil {
		shown = e.O.ConfPath
	}
	if !fsops.IsRegular(file) {
		if r.quiet {
			return nil, errQuiet
		}
		return nil, e.P.Die(4, "Could not locate dkms.conf file.", "File: "+file+" does not exist.")
	}
	canon, err := filepath.EvalSymlinks(file)
	if err != nil {
		canon = file
	}
	key := strings.Join([]string{r.Module, r.Version, r.Kernel, r.Arch, canon}, "\x00")
	if e.cached != nil && e.cacheKey == key {
		if r.strict && !e.cached.CheckStrict(e.P.Stderr()) {
			return nil, e.P.Die(8, "Bad conf file.", "File: "+shown+" does not represent a valid dkms.conf file.")
		}
		return e.cached, nil
	}
	vars := e.confVars(r.Target)
	var directives []string
	if e.O != nil {
		directives = e.O.Directives
	}
	c, err := dkmsconf.Read(ctx, dkmsconf.ReadOptions{
		Path: file, EtcDir: e.L.EtcDir(), Module: r.Module, Version: r.Version, Kernel: r.Kernel, Arch: r.Arch,
		Vars: vars, Env: e.Env, Directives: directives, Strict: r.strict,
		FullShell: dkmsconf.FullShellFor(e.FW, r.Module),
		Stdout:    e.P.Stdout(), Stderr: e.P.Stderr(),
	})
	if err != nil {
		e.cached = nil
		if r.quiet {
			return nil, errQuiet
		}
		if errors.Is(err, dkmsconf.ErrNotFound) {
			return nil, e.P.Die(4, "Could not locate dkms.conf file.", "File: "+file+" does not exist.")
		}
		if !errors.Is(err, dkmsconf.ErrInvalid) {
			e.P.Stderr().Write([]byte(err.Error() + "\n"))
		}
		return nil, e.P.Die(8, "Bad conf file.", "File: "+shown+" does not represent a valid dkms.conf file.")
	}
	e.cacheKey, e.cached = key, c
	return c, nil
}

var errQuiet = errors.New("dkms.conf could not be read")

// confVars are the dkms shell variables a dkms.conf sees (§4.1).
func (e *Engine) confVars(t tree.Target) map[string]string {
	m, v, k, a := t.Module, t.Version, t.Kernel, t.Arch
	force := ""
	if e.O != nil && e.O.Force {
		force = "true"
	}
	return map[string]string{
		"kernelver": k, "arch": a, "kernel_source_dir": e.kernelSourceDir(k),
		"kernel_config": e.kernelConfig(k), "dkms_tree": e.L.DKMSTree,
		"source_tree": e.L.SourceTree, "install_tree": e.L.InstallTree,
		"tmp_location": e.TmpLocation, "module": m, "module_version": v,
		"parallel_jobs": e.Jobs, "running_distribution": e.Distro,
		"current_kernel": e.CurrentKern, "current_os": e.OSName,
		"verbose": boolStr(e.Verbose), "force": force,
	}
}

func boolStr(b bool) string {
	if b {
		return "true"
	}
	return ""
}
