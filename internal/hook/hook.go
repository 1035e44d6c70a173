package hook

import (
	"context"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/coreos/go-systemd/v22/daemon"
	"github.com/sirupsen/logrus"

	"github.com/dkms-project/dkms/internal/engine"
	"github.com/dkms-project/dkms/internal/ui"
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
	E      *engine.Engine
	Log    *logrus.Logger
	Notify func(state string) // sd_notify; nil -> daemon.SdNotify
	Now    func() time.Time
}

// Run does the work and returns the process exit status.
func (r *Runner) Run(ctx context.Context, o Options) int {
	if r.Notify == nil {
		r.Notify = func(s string) { daemon.SdNotify(false, s) }
	}
	e := r.E
	strict := o.Strict || e.FW["autoinstall_strict"] != ""
	kernels, err := r.kernels(o)
	if err != nil {
		r.Log.Error(err)
		return r.exit(strict, 1)
	}
	failed := 0
	for _, k := range kernels {
		switch {
		case o.Remove || o.Preinst:
			list, err := e.RemoveKernel(ctx, k, e.Machine, o.Remove)
			if err != nil || list != "" {
				r.Log.WithFields(logrus.Fields{"KERNEL": k, "PHASE": "remove"}).
					Errorf("removing DKMS modules for kernel %s failed for module(s)%s", k, list)
				failed++
			}
			if o.Remove {
				e.PurgeKernel(k, e.Machine)
			}
		default:
			if !r.install(ctx, o, k) {
				failed++
			}
		}
	}
	if o.Boot {
		r.Notify("READY=1\nSTATUS=DKMS modules are up to date")
	}
	if failed > 0 {
		return r.exit(strict, 11)
	}
	return 0
}

func (r *Runner) exit(strict bool, code int) int {
	if strict {
		return code
	}
	return 0
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
			if st, err := os.Stat(e.L.InstallTree + "/" + de.Name() + "/build/include"); err == nil && st.IsDir() {
				ks = append(ks, de.Name())
			}
		}
		sort.Strings(ks)
		return ks, nil
	}
	return []string{e.CurrentKern}, nil
}

// install builds and installs every AUTOINSTALL module for k; false when
// some module failed.
func (r *Runner) install(ctx context.Context, o Options, k string) bool {
	e := r.E
	jobs := o.Jobs
	if jobs == 0 {
		jobs, _ = strconv.Atoi(e.Jobs)
		if jobs == 0 {
			jobs = 1
		}
	}
	timeout := 30 * time.Minute
	if s, err := strconv.Atoi(e.FW["build_timeout"]); err == nil && s > 0 {
		timeout = time.Duration(s) * time.Second
	}
	log := r.Log.WithField("KERNEL", k)
	res, err := e.AutoinstallKernel(ctx, k, e.Machine, engine.AutoOptions{
		Parallel:   jobs,
		JobTimeout: timeout,
		Progress: func(ev engine.ProgressEvent) {
			l := log.WithFields(logrus.Fields{"MODULE": ev.Module, "VERSION": ev.Version})
			if !ev.Done {
				status := fmt.Sprintf("building %s/%s for %s (%d/%d)", ev.Module, ev.Version, k, ev.Index, ev.Total)
				if o.Boot {
					r.Notify("STATUS=" + status)
				}
				l.WithField("PHASE", "build").Info(status)
				return
			}
			switch ev.Outcome {
			case "failed":
				l.WithField("PHASE", "build").Errorf("module %s/%s failed for kernel %s (status %d); see %s",
					ev.Module, ev.Version, k, ev.Code, ev.Log)
			case "skipped":
				l.WithField("PHASE", "build").Infof("module %s/%s is not meant for kernel %s (BUILD_EXCLUSIVE)", ev.Module, ev.Version, k)
			default:
				l.WithField("PHASE", "install").Infof("module %s/%s installed for kernel %s", ev.Module, ev.Version, k)
			}
		},
	})
	if err != nil && ui.Code(err) != 11 {
		log.WithField("PHASE", "prepare").Errorf("autoinstall for kernel %s stopped: status %d", k, ui.Code(err))
		return false
	}
	ok := err == nil
	if res != nil && len(res.Blocked) > 0 {
		log.WithField("PHASE", "build").Errorf("not built because a dependency failed or is missing: %s", strings.Join(res.Blocked, " "))
	}
	if res != nil && res.Queued > 0 {
		r.afterInstall(ctx, o, k, res)
	}
	return ok
}
