package shconf

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"syscall"

	"mvdan.cc/sh/v3/expand"
	"mvdan.cc/sh/v3/interp"
)

// safePath is the PATH every program started from a conf sees: the conf's
// own PATH chose nothing (the program was looked up in safeDirs) and must
// not steer what that program starts in turn.
const safePath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// keptEnv are the exported variables a program run from a conf may see.
// Everything else is dropped: LD_PRELOAD and the other LD_*, GCONV_PATH,
// LOCPATH, NLSPATH, HOSTALIASES, MALLOC_*, BASH_ENV, ENV, GLIBC_TUNABLES,
// PERL5OPT, PYTHON* and whatever else makes a program load code or data
// from a path the conf chose.
var keptEnv = map[string]bool{
	"HOME": true, "LANG": true, "LANGUAGE": true, "TZ": true, "TERM": true, "USER": true,
	"LOGNAME": true, "PWD": true, "OMP_NUM_THREADS": true, "OMP_THREAD_LIMIT": true,
	"kernelver": true, "arch": true, "kernel_source_dir": true, "dkms_tree": true,
	"source_tree": true, "install_tree": true, "module": true, "module_version": true,
}

// scrubEnv returns the environment for a program run from a conf.
func scrubEnv(env expand.Environ) []string {
	out := []string{"PATH=" + safePath}
	for name, v := range env.Each {
		if !v.IsSet() || !v.Exported || v.Kind != expand.String || name == "PATH" {
			continue
		}
		ok := keptEnv[name] || strings.HasPrefix(name, "LC_")
		if name == "LANG" || name == "LANGUAGE" || strings.HasPrefix(name, "LC_") {
			// A locale name with a slash is a path to locale data.
			ok = ok && !strings.Contains(v.Str, "/")
		}
		if ok {
			out = append(out, name+"="+v.Str)
		}
	}
	return out
}

// runProgram runs an allow-listed program in the jail. It is killed with
// its process group when the evaluation is cancelled or times out.
func runProgram(ctx context.Context, hc interp.HandlerContext, path string, args []string) error {
	cmd := exec.Command(path, args[1:]...)
	cmd.Args[0] = args[0]
	cmd.Env = scrubEnv(hc.Env)
	cmd.Dir = hc.Dir
	cmd.Stdin, cmd.Stdout, cmd.Stderr = hc.Stdin, hc.Stdout, hc.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		fmt.Fprintf(hc.Stderr, "%s: %v\n", args[0], err)
		return interp.ExitStatus(127)
	}
	stop := context.AfterFunc(ctx, func() { _ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) })
	err := cmd.Wait()
	stop()
	if ctx.Err() != nil {
		return ctx.Err()
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return interp.ExitStatus(128 + int(ws.Signal()))
		}
		return interp.ExitStatus(ee.ExitCode())
	}
	return err
}

// devNull is /dev/null served by the evaluator itself.
type devNull struct{}

func (devNull) Read([]byte) (int, error)    { return 0, io.EOF }
func (devNull) Write(p []byte) (int, error) { return len(p), nil }
func (devNull) Close() error                { return nil }

// readOnly serves a file's text from memory.
type readOnly struct{ r *strings.Reader }

func (f readOnly) Read(p []byte) (int, error) { return f.r.Read(p) }
func (readOnly) Write(p []byte) (int, error)  { return 0, os.ErrPermission }
func (readOnly) Close() error                 { return nil }
