package engine

import (
	"context"
	"fmt"
	"os"
	"strconv"

	"github.com/dkms-go/dkms/internal/compress"
	"github.com/dkms-go/dkms/internal/distro"
	"github.com/dkms-go/dkms/internal/dkmsconf"
	"github.com/dkms-go/dkms/internal/fsops"
	"github.com/dkms-go/dkms/internal/kernel"
	"github.com/dkms-go/dkms/internal/modinst"
	"github.com/dkms-go/dkms/internal/options"
	"github.com/dkms-go/dkms/internal/paths"
	"github.com/dkms-go/dkms/internal/proc"
	"github.com/dkms-go/dkms/internal/shconf"
	"github.com/dkms-go/dkms/internal/statuscache"
	"github.com/dkms-go/dkms/internal/tree"
	"github.com/dkms-go/dkms/internal/ui"
)

// Release is the version string dkms prints.
const Release = "dkms-3.4.3"

// readFramework reads names from the framework files for kernel k, over
// the environment's values of them.
func (e *Engine) readFramework(ctx context.Context, names []string, k string) dkmsconf.Framework {
	// Failures have been printed; the files that evaluated still count.
	fw, _ := dkmsconf.ReadFrameworkOver(ctx, e.L.EtcDir(), names, k, e.Env, dkmsconf.Inherited(e.Env, names), e.P.Stderr())
	return fw
}

// Engine is one dkms run.
type Engine struct {
	P *ui.Printer
	O *options.Options
	L paths.Layout

	Env         []string // environment for children: ours without CC & co
	Distro      string
	CurrentKern string
	Machine     string
	OSName      string
	TmpLocation string
	Verbose     bool
	Symlinks    bool
	Jobs        string // "" means bare -j
	Compress    compress.Opts
	FW          dkmsconf.Framework
	PostTrans   string
	Kernels     []string
	Arches      []string
	AddonDir    string

	euid     int
	repaired bool // LockTree has repaired what killed runs left
	// stagedVersion is the staged version directory (under the temporary
	// prefix) holding the binaries ldtarball loaded, which add completes
	// and renames into place.
	stagedVersion string
	// kconfigMemo: kernel -> config file path, looked up once per run
	kconfigMemo map[string]string
	// compression suffix of the main context (§7.3 quirk)
	mainSuffix string
	lastMain   *pairCtx
	// keys builds the status cache's keys of this run.
	keys *statuscache.Keys
	// tree is the on-disk model of e.L's trees, with the lock and the
	// status cache's listings of a read-only run.
	tree *tree.Tree
	// cache of the last successful conf read (§4.1 caching)
	cacheKey string
	cached   *dkmsconf.Conf
}

// Setup is what a run starts from.
type Setup struct {
	Printer *ui.Printer
	Root    string   // the system root, "" or "/" for the real one
	Env     []string // the process environment
	// TempProbe, when set, is the temp-space probe of §1 step 6, run on
	// the default tmp_location between the defaults and framework.conf;
	// false ends the run with status 1 (it has printed why).
	TempProbe func(tmp string) bool
}

// New performs the start-up sequence of §1: the defaults (steps 1-5),
// the temp-space probe when s has one (step 6), then framework.conf
// (steps 7 and 8). The caller then applies the run's options
// (ApplyOptions). Both commands start their engine here.
func New(ctx context.Context, s Setup) (*Engine, error) {
	e, err := begin(s.Printer, s.Root, s.Env)
	if err != nil {
		return nil, err
	}
	if s.TempProbe != nil && !s.TempProbe(e.TmpLocation) {
		return nil, ui.Exit(1)
	}
	e.readStartup(ctx)
	return e, nil
}

// begin performs the start-up sequence of §1 up to the defaults (steps
// 1-5).
func begin(p *ui.Printer, root string, env []string) (*Engine, error) {
	e := &Engine{P: p, euid: os.Geteuid()}
	e.tree = tree.New(&e.L)
	e.L.Root = root
	e.keys = &statuscache.Keys{EtcDir: e.L.EtcDir(), Memo: func() bool { return !e.tree.Locked() }}
	e.Env = proc.WithoutCompilerVariables(env)
	u := kernel.Uname()
	e.CurrentKern, e.Machine, e.OSName = u.Release, u.Machine, u.OS
	d, ok := distro.Detect(e.L)
	if !ok {
		return nil, p.Die(4, "System is missing os-release file.")
	}
	e.Distro = d
	e.L.DKMSTree, e.L.SourceTree, e.L.InstallTree = "/var/lib/dkms", "/usr/src", "/lib/modules"
	e.TmpLocation = proc.Getenv(env, "TMPDIR")
	if e.TmpLocation == "" {
		e.TmpLocation = "/tmp"
	}
	e.Compress = compress.DefaultOpts()
	e.AddonDir = proc.Getenv(env, "ADDON_MODULES_DIR")
	return e, nil
}

// readStartup sources /etc/sysconfig/module-init-tools when the
// environment has no ADDON_MODULES_DIR (§1 step 7), then reads the
// start-up variables of framework.conf (step 8, §3.2) over the defaults.
func (e *Engine) readStartup(ctx context.Context) {
	if mit := e.L.Sys("/etc/sysconfig/module-init-tools"); e.AddonDir == "" && fsops.Exists(mit) {
		vals, err := shconf.EvalFile(ctx, mit, []string{"ADDON_MODULES_DIR"}, shconf.Options{Env: e.Env, Stderr: e.P.Stderr()})
		if err != nil {
			fmt.Fprintln(e.P.Stderr(), err)
		}
		e.AddonDir = vals["ADDON_MODULES_DIR"].Index(0)
	}
	fw := e.readFramework(ctx, dkmsconf.StartupNames, "")
	e.FW = fw
	if v, ok := fw["source_tree"]; ok {
		e.L.SourceTree = v
	}
	if v, ok := fw["dkms_tree"]; ok {
		e.L.DKMSTree = v
	}
	if v, ok := fw["install_tree"]; ok {
		e.L.InstallTree = v
	}
	if v, ok := fw["tmp_location"]; ok {
		e.TmpLocation = v
	}
	e.Verbose = fw["verbose"] != ""
	e.Symlinks = fw["symlink_modules"] != ""
	if v, ok := fw["compress_gzip_opts"]; ok {
		e.Compress.Gzip = v
	}
	if v, ok := fw["compress_xz_opts"]; ok {
		e.Compress.Xz = v
	}
	if v, ok := fw["compress_zstd_opts"]; ok {
		e.Compress.Zstd = v
	}
	e.PostTrans = fw["post_transaction"]
}

// ApplyOptions merges the command line into the engine (§3.3 precedence)
// and performs the validation of options.Check and the kernel resolution
// of §2.4. It returns a non-nil error when dkms must exit.
func (e *Engine) ApplyOptions(o *options.Options) error {
	e.O = o
	if o.DKMSTree != nil {
		e.L.DKMSTree = *o.DKMSTree
	}
	if o.SourceTree != nil {
		e.L.SourceTree = *o.SourceTree
	}
	if o.InstallTree != nil {
		e.L.InstallTree = *o.InstallTree
	}
	if o.Verbose {
		e.Verbose = true
	}
	if o.SymlinkModules {
		e.Symlinks = true
	}
	if bad := o.Check(); bad != nil {
		return e.P.Die(bad.Code, bad.Lines...)
	}
	jobs, set := e.FW["parallel_jobs"]
	if o.Jobs != nil {
		jobs, set = *o.Jobs, true
	}
	if !set || jobs == "" {
		if st, err := os.Stat("/usr/bin/nproc"); err == nil && st.Mode()&0o111 != 0 {
			jobs = strconv.Itoa(shconf.Nproc(func(name string) string { return proc.Getenv(e.Env, name) }, false))
		} else {
			jobs = "1"
		}
	}
	if jobs == "0" {
		jobs = ""
	}
	e.Jobs = jobs
	if o.Action == "status" || o.Action == "doctor" {
		// No -k means every kernel, not the running one.
		e.Kernels = append([]string(nil), o.Kernels...)
		e.Arches = append([]string(nil), o.Arches...)
		if len(e.Arches) == 1 && len(e.Kernels) > 1 {
			for len(e.Arches) < len(e.Kernels) {
				e.Arches = append(e.Arches, e.Arches[0])
			}
		}
		return nil
	}
	return e.resolveKernels()
}

// resolveKernels implements §2.4 for every action but status.
func (e *Engine) resolveKernels() error {
	o := e.O
	kernels := append([]string(nil), o.Kernels...)
	arches := append([]string(nil), o.Arches...)
	if o.All {
		kernels, arches = e.tree.AllBuilt(o.Module, o.Version)
	} else if len(kernels) == 0 {
		kernels = []string{e.CurrentKern}
	}
	if len(arches) == 0 && len(kernels) > 0 {
		a := e.defaultArch(kernels[0])
		if a == "" {
			return e.P.Die(12, "Could not determine architecture.")
		}
		arches = []string{a}
	}
	if len(arches) == 1 {
		for len(arches) < len(kernels) {
			arches = append(arches, arches[0])
		}
	}
	for i, k := range kernels {
		if k == "" {
			return e.P.Die(16, "Empty kernelver["+strconv.Itoa(i)+"]")
		}
	}
	for i, a := range arches {
		if a == "" {
			return e.P.Die(16, "Empty arch["+strconv.Itoa(i)+"]")
		}
	}
	e.Kernels, e.Arches = kernels, arches
	return nil
}

// defaultArch is `uname -m` on the distributions we target; the RPM query
// of other distributions is replaced by the same answer (COMPATIBILITY.md).
func (e *Engine) defaultArch(kernel string) string {
	return e.Machine
}

// IsRoot reports whether we run with effective uid 0.
func (e *Engine) IsRoot() bool { return e.euid == 0 }

// mods is the module tree as this run installs into it.
func (e *Engine) mods() modinst.Installer {
	return modinst.Installer{L: e.L, Tree: e.tree, P: e.P, Distro: e.Distro, AddonDir: e.AddonDir}
}

// warn reports a failed change of the tree that does not stop the action.
func (e *Engine) warn(err error) {
	if err != nil {
		e.P.Warning(err.Error())
	}
}
