package hook

import (
	"context"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-systemd/v22/daemon"
	"github.com/sirupsen/logrus"

	"github.com/dkms-go/dkms/internal/engine"
	"github.com/dkms-go/dkms/internal/ui"
)

// DefaultBuildTimeout bounds one module's build and install when
// framework.conf has no build_timeout: long enough for the largest
// out-of-tree drivers on slow machines, short enough that a hung build
// cannot hold boot or a package upgrade forever.
const DefaultBuildTimeout = 30 * time.Minute

// Exit statuses of Run besides 0 (they follow dkms's own table).
const (
	ExitFailed  = 11 // a module failed to build or install (autoinstall)
	ExitRemoval = 14 // a module failed to be removed (kernel_prerm/preinst)
)

// Options is what the command line of dkms-autoinstall asks for.
type Options struct {
	Kernels    []string
	AllKernels bool   // every installed kernel that has headers
	Remove     bool   // the kernel is being removed
	Preinst    bool   // the kernel package is about to be upgraded
	Boot       bool   // run from the boot unit for the running kernel
	Hook       string // name of the calling hook, for messages
	Jobs       int    // 0 = parallel_jobs from framework.conf / CPUs
	Strict     bool   // failures are fatal (also autoinstall_strict)
	Load       *bool  // load matching modules after install (default: on at boot only)
}

// Runner composes the engine with logging and notification.
type Runner struct {
	E   *engine.Engine
	Log *logrus.Logger
	// Notify sends one sd_notify state; nil sends to $NOTIFY_SOCKET.
	Notify func(state string)
	// Report receives the initramfs shadowing report; nil means io.Discard.
	Report io.Writer
	// SysfsRoot is the root whose sys/devices is walked for modaliases
	// ("" means /).
	SysfsRoot string
	// Modprobe is the program that loads modules ("" means modprobe from
	// PATH).
	Modprobe string
	// Doctor runs dkms doctor's checks after installing (doctor.go): for
	// each kernel something had to be built for, or whose headers are
	// missing, whether a hook or the boot unit named it.
	Doctor bool

	touched []string // kernels this run built for, or skipped for lack of headers
}

// Run does the work and returns the process exit status. Kernel hooks
// return 0 when a module fails unless strict mode is on, so the package
// manager and the initramfs and bootloader hooks after ours carry on; the
// boot unit returns the failure so that `systemctl --failed` shows it
// (nothing requires the unit, so boot continues either way).
func (r *Runner) Run(ctx context.Context, o Options) int {
	if r.Notify == nil {
		r.Notify = func(s string) { daemon.SdNotify(false, s) }
	}
	e := r.E
	strict := o.Strict || o.Boot || truthy(e.FW["autoinstall_strict"])
	// Every decision below is taken under the tree lock, after the repair
	// of what a killed run left.
	if err := e.LockTree(ctx); err != nil {
		r.Log.WithField("PHASE", "prepare").Error(err)
		return r.exit(strict, ui.Code(err))
	}
	kernels, err := r.kernels(o)
	if err != nil {
		r.Log.WithField("PHASE", "prepare").Error(err)
		return r.exit(strict, 1)
	}
	code := 0
	if o.Remove || o.Preinst {
		for _, k := range kernels {
			if !r.remove(ctx, o, k) {
				code = ExitRemoval
			}
		}
	} else if !r.install(ctx, o, kernels) {
		code = ExitFailed
	}
	first, problems := "", 0
	if r.Doctor && !o.Remove && !o.Preinst {
		// Only the kernels this run worked on: a run that found every
		// module installed (a second hook for the same kernel, a boot
		// with nothing to do) reported its problems when it built them,
		// and stays as cheap as it was.
		first, problems = r.doctorAfter(ctx, r.touched, o.Boot)
	}
	if o.Boot {
		r.Notify("READY=1\nSTATUS=" + bootStatus(code, first, problems))
	}
	if code != 0 && !strict {
		r.Log.WithField("PHASE", "summary").Warn("exiting 0 so that the kernel hooks after this one still run " +
			"(autoinstall_strict=yes in framework.conf makes module failures fatal)")
	}
	return r.exit(strict, code)
}

func (r *Runner) exit(strict bool, code int) int {
	if strict {
		return code
	}
	return 0
}

// truthy reads a framework.conf switch: upstream's convention is that any
// non-empty value turns a switch on; we also accept the obvious ways of
// writing "off" so that autoinstall_strict=no does what it says.
func truthy(v string) bool {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "", "0", "n", "no", "false", "off":
		return false
	}
	return true
}

// kernels resolves which kernels to work on.
func (r *Runner) kernels(o Options) ([]string, error) {
	e := r.E
	if len(o.Kernels) > 0 {
		return o.Kernels, nil
	}
	if o.AllKernels {
		var ks []string
		ents, err := os.ReadDir(e.L.InstallTree)
		if err != nil {
			return nil, fmt.Errorf("listing installed kernels: %w", err)
		}
		for _, de := range ents {
			if hasHeaders(e.L.InstallTree, de.Name()) {
				ks = append(ks, de.Name())
			}
		}
		sort.Strings(ks)
		return ks, nil
	}
	if e.CurrentKern == "" {
		return nil, fmt.Errorf("cannot tell the running kernel: give -k")
	}
	return []string{e.CurrentKern}, nil
}

func hasHeaders(installTree, k string) bool {
	st, err := os.Stat(installTree + "/" + k + "/build/include")
	return err == nil && st.IsDir()
}

// remove uninstalls the modules of kernel k (all of them when the kernel
// goes, the AUTOINSTALL ones before an in-place upgrade); false when some
// module could not be removed.
func (r *Runner) remove(ctx context.Context, o Options, k string) bool {
	e := r.E
	log := r.Log.WithFields(logrus.Fields{"KERNEL": k, "PHASE": "remove"})
	list, err := e.RemoveKernel(ctx, k, e.Machine, o.Remove)
	if err != nil {
		log.Errorf("removing DKMS modules for kernel %s stopped: status %d", k, ui.Code(err))
		return false
	}
	if o.Remove {
		e.PurgeKernel(k)
	}
	if list != "" {
		log.Errorf("removing DKMS modules for kernel %s failed for module(s)%s", k, list)
		return false
	}
	return true
}

// buildTimeout is framework.conf's build_timeout in seconds, or the default.
func (r *Runner) buildTimeout() time.Duration {
	if s, err := strconv.Atoi(strings.TrimSpace(r.E.FW["build_timeout"])); err == nil && s > 0 {
		return time.Duration(s) * time.Second
	}
	return DefaultBuildTimeout
}

// install builds and installs every AUTOINSTALL module for the kernels,
// all through one scheduler and jobserver; false when some module failed.
func (r *Runner) install(ctx context.Context, o Options, kernels []string) bool {
	e := r.E
	var pairs []engine.Pair
	for _, k := range kernels {
		if !hasHeaders(e.L.InstallTree, k) {
			// Upstream's dkms_autoinstaller check and message: an image
			// without its headers package is normal, not a failure.
			r.Log.WithFields(logrus.Fields{"KERNEL": k, "PHASE": "prepare"}).Info("Automatic installation of modules for kernel " + k +
				" was skipped since the kernel headers for this kernel do not seem to be installed.")
			r.touched = append(r.touched, k)
			continue
		}
		pairs = append(pairs, engine.Pair{K: k, A: e.Machine})
	}
	if len(pairs) == 0 {
		return true
	}
	jobs := o.Jobs
	if jobs == 0 {
		jobs, _ = strconv.Atoi(e.Jobs)
		if jobs < 1 {
			jobs = 1
		}
	}
	timeout := r.buildTimeout()
	var mu sync.Mutex
	started := map[string]time.Time{}
	results, err := e.AutoinstallKernels(ctx, pairs, engine.AutoOptions{
		Parallel:    jobs,
		JobTimeout:  timeout,
		BatchDepmod: jobs > 1,
		Progress: func(ev engine.ProgressEvent) {
			k := ev.Kernel
			l := r.Log.WithFields(logrus.Fields{"KERNEL": k, "MODULE": ev.Module, "VERSION": ev.Version})
			id := ev.Module + "/" + ev.Version
			if !ev.Done {
				mu.Lock()
				started[k+"/"+id] = time.Now()
				mu.Unlock()
				status := fmt.Sprintf("building %s for %s (%d/%d)", id, k, ev.Index, ev.Total)
				if o.Boot {
					r.Notify("STATUS=" + status)
				}
				l.WithField("PHASE", "build").Info(status)
				return
			}
			mu.Lock()
			elapsed := time.Since(started[k+"/"+id])
			mu.Unlock()
			r.logOutcome(l, ev, k, elapsed, timeout)
		},
	})
	if err != nil && ui.Code(err) != ExitFailed {
		r.Log.WithFields(logrus.Fields{"KERNEL": pairs[0].K, "PHASE": "prepare"}).
			Errorf("autoinstall for kernel %s stopped: status %d", pairs[0].K, ui.Code(err))
		return false
	}
	for _, res := range results {
		log := r.Log.WithField("KERNEL", res.Kernel)
		if res.Err != nil {
			log.WithField("PHASE", "prepare").Errorf("autoinstall for kernel %s stopped: status %d", res.Kernel, ui.Code(res.Err))
		}
		if len(res.Blocked) > 0 {
			log.WithField("PHASE", "build").Errorf("not built because a dependency failed or is missing: %s", strings.Join(res.Blocked, " "))
		}
		if len(res.Deferred) > 0 {
			// Not a failure (dkms 3.4): the dependency may come from a
			// package not configured yet; the next trigger retries.
			log.WithField("PHASE", "build").Warnf("deferred until their BUILD_DEPENDS are registered with DKMS: %s", strings.Join(res.Deferred, " "))
		}
		// Queued==0 is the boot fast path: every module was already
		// installed, so nothing else (no dkms.conf evaluation, no
		// subprocess) happens.
		if res.Queued > 0 {
			r.afterInstall(ctx, o, res.Kernel)
		}
		if res.Queued > 0 || res.Err != nil {
			r.touched = append(r.touched, res.Kernel)
		}
	}
	return err == nil
}

// logOutcome logs the end of one module's autoinstall; a failure names the
// make.log to read, and says when the build timeout killed it.
func (r *Runner) logOutcome(l *logrus.Entry, ev engine.ProgressEvent, k string, elapsed, timeout time.Duration) {
	id := ev.Module + "/" + ev.Version
	switch ev.Outcome {
	case "failed":
		why := fmt.Sprintf("status %d", ev.Code)
		if elapsed >= timeout {
			why = "timed out after " + timeout.String()
		}
		l.WithField("PHASE", "build").Errorf("module %s failed for kernel %s (%s); see %s", id, k, why, ev.Log)
	case "skipped":
		l.WithField("PHASE", "build").Infof("module %s is not meant for kernel %s (BUILD_EXCLUSIVE)", id, k)
	default:
		l.WithField("PHASE", "install").Infof("module %s installed for kernel %s", id, k)
	}
}
