// Package proc starts dkms's children (make, the build scripts, depmod,
// modinfo, compressors, signing) so that none outlives dkms: each runs in
// its own process group, which is killed when its context ends (SIGTERM or
// SIGINT to dkms, build_timeout); the kernel sends it SIGKILL when dkms
// itself dies, even by SIGKILL (PR_SET_PDEATHSIG); and a child that starts
// programs of its own (a shell running make) is, as root, the first
// process of a PID namespace of its own, so that its death takes every
// process below it along, orphans included.
package proc

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"runtime"
	"sync"
	"syscall"

	"github.com/dkms-go/dkms/internal/fault"
)

// Command is exec.CommandContext for a guarded child: when ctx ends, the
// child's whole process group is killed.
func Command(ctx context.Context, tree bool, name string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, name, args...)
	Guard(cmd, tree)
	cmd.Cancel = func() error {
		// The group: the child and whatever it started.
		return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
	return cmd
}

// Guard prepares cmd (not yet started). tree is true for a child that may
// start programs of its own.
func Guard(cmd *exec.Cmd, tree bool) {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	a := cmd.SysProcAttr
	a.Setpgid = true
	a.Pdeathsig = syscall.SIGKILL
	if tree && pidNamespaces() {
		a.Cloneflags |= syscall.CLONE_NEWPID
	}
}

// Start starts a guarded cmd. PR_SET_PDEATHSIG fires when the thread that
// forked the child ends, not the process: the goroutine stays on one
// thread for the fork, and Go's runtime only ends threads whose goroutine
// exits while locked to them, which ours never does.
func Start(cmd *exec.Cmd) error {
	fault.Point("exec", cmd.Path)
	runtime.LockOSThread()
	err := cmd.Start()
	runtime.UnlockOSThread()
	if err == nil {
		fault.Point("started", cmd.Path)
	}
	return err
}

// Run is Start and Wait. After the child ended, what is left of its group
// (a background job it left behind) is killed too.
func Run(cmd *exec.Cmd) error {
	if err := Start(cmd); err != nil {
		return err
	}
	err := cmd.Wait()
	if cmd.SysProcAttr != nil && cmd.SysProcAttr.Setpgid {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
	return err
}

var (
	pidnsOnce sync.Once
	pidnsOK   bool
)

// pidNamespaces reports (once) whether this process may give a child a
// PID namespace of its own: root, and not refused (some containers do).
func pidNamespaces() bool {
	pidnsOnce.Do(func() {
		if os.Geteuid() != 0 {
			return
		}
		cmd := exec.Command("/bin/true")
		cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWPID, Pdeathsig: syscall.SIGKILL}
		err := cmd.Run()
		var ee *exec.ExitError
		pidnsOK = err == nil || errors.As(err, &ee)
	})
	return pidnsOK
}
