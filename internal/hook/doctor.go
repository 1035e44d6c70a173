package hook

import (
	"context"
	"fmt"

	"github.com/sirupsen/logrus"
)

// doctorAfter runs dkms doctor's checks for the kernels this run worked on
// and logs one line per problem, with the fields MODULE, VERSION, KERNEL
// and PROBLEM (the verdict) for the journal. It returns the first line
// and the number of problems, for the boot unit's status.
//
// The initramfs is left out: from a kernel hook it is regenerated after
// us, and after a boot run afterInstall has just checked it. From a kernel
// hook (not boot) a kernel without modules.dep is one whose package has
// not run depmod yet: the header hook runs before the image is configured,
// and the image's postinst runs depmod before its own hooks.
func (r *Runner) doctorAfter(ctx context.Context, kernels []string, boot bool) (string, int) {
	if len(kernels) == 0 {
		return "", 0
	}
	rep, err := r.E.DoctorReport(ctx, kernels, true, !boot)
	if err != nil {
		r.Log.WithField("PHASE", "doctor").Warnf("checking the next boot: %v", err)
		return "", 0
	}
	first := ""
	fs := rep.Findings()
	for _, f := range fs {
		fields := logrus.Fields{"KERNEL": f.Kernel, "PROBLEM": string(f.Verdict), "PHASE": "doctor"}
		if f.Module != "" {
			fields["MODULE"], fields["VERSION"] = f.Module, f.Version
		}
		r.Log.WithFields(fields).Warn(f.Line())
		if first == "" {
			first = f.Short()
		}
	}
	return first, len(fs)
}

// bootStatus is the unit's status line: the first problem the checks
// found, else the outcome of the run.
func bootStatus(code int, first string, n int) string {
	switch {
	case n == 1:
		return first
	case n > 1:
		return fmt.Sprintf("%s (and %d more; see journalctl -u dkms-autoinstall)", first, n-1)
	case code != 0:
		return "some DKMS modules failed; see the journal"
	}
	return "DKMS modules are up to date"
}
