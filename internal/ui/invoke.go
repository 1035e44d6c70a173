package ui

import (
	"bytes"
	"context"
	"fmt"
	"github.com/dkms-go/dkms/internal/proc"
	"io"
	"os"
	"os/exec"
	"path"
	"strings"
	"syscall"
	"time"
)

// Step is one external command run through dkms's "invoke" helper (§0.2).
type Step struct {
	Desc    string // progress description, e.g. "Building module(s)"
	Cmd     string // shell command line, also shown on failure and logged
	Dir     string
	Env     []string
	Log     string // append a log record (§0.3) to this file; "" = none
	Verbose bool
	Dots    bool                               // print a dot every 3 seconds while it runs
	Fn      func(stdout, stderr io.Writer) int // run this instead of Cmd (depmod)
	Attach  func(*exec.Cmd)                    // e.g. hand a make jobserver to the command
}

// Separator ends every log record.
const Separator = "----------------------------------------------------------------"

// DotsFor reports whether progress dots are printed for a module: never for
// the upstream test modules named dkms*_test.
func DotsFor(module string) bool {
	ok, _ := path.Match("dkms*_test", module)
	return !ok
}

// Invoke runs the step, printing progress to stdout, and returns the exit status.
func (p *Printer) Invoke(ctx context.Context, s Step) int {
	out := p.Stdout()
	if s.Verbose {
		fmt.Fprintln(out, s.Cmd)
	} else {
		fmt.Fprintf(out, "%s...", s.Desc)
	}
	var logf *os.File
	// Where the command's output goes (§0.2): the log, both streams;
	// else, verbose, the terminal with each stream kept; else nowhere.
	var sink, errSink io.Writer = io.Discard, io.Discard
	if s.Log != "" {
		f, err := os.OpenFile(s.Log, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
		if err == nil {
			logf = f
			sink, errSink = f, f
			fmt.Fprint(f, EchoE("\n"+s.Desc+"\n# command: "+s.Cmd))
		}
	} else if s.Verbose {
		sink, errSink = out, p.Stderr()
	}
	start := time.Now()
	stopDots := make(chan struct{})
	dotsDone := make(chan struct{})
	if s.Dots && !s.Verbose {
		go func() {
			defer close(dotsDone)
			t := time.NewTicker(3 * time.Second)
			defer t.Stop()
			for {
				select {
				case <-stopDots:
					return
				case <-t.C:
					fmt.Fprint(out, ".")
				}
			}
		}()
	} else {
		close(dotsDone)
	}
	var code int
	if s.Fn != nil {
		code = s.Fn(sink, errSink)
	} else {
		code = runShell(ctx, s.Cmd, s.Dir, s.Env, sink, errSink, s.Attach)
	}
	close(stopDots)
	<-dotsDone
	if logf != nil {
		el := time.Since(start) / time.Second
		fmt.Fprintf(logf, "\n# exit code: %d\n# elapsed time: %02d:%02d:%02d\n%s\n",
			code, el/3600, el/60%60, el%60, Separator)
		logf.Close()
	}
	switch {
	case code == 0:
		fmt.Fprintln(out, " done.")
	case s.Verbose:
		fmt.Fprintf(out, "(bad exit status: %d)", code)
	default:
		fmt.Fprintf(out, "(bad exit status: %d)\nFailed command:\n%s\n", code, s.Cmd)
	}
	return code
}

// EchoE returns what bash's `echo -e s` prints: s with its backslash
// escapes interpreted, and a newline, unless \c ends the output early.
func EchoE(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' || i+1 == len(s) {
			b.WriteByte(c)
			continue
		}
		i++
		switch e := s[i]; e {
		case 'a':
			b.WriteByte('\a')
		case 'b':
			b.WriteByte('\b')
		case 'c':
			return b.String()
		case 'e', 'E':
			b.WriteByte(0x1b)
		case 'f':
			b.WriteByte('\f')
		case 'n':
			b.WriteByte('\n')
		case 'r':
			b.WriteByte('\r')
		case 't':
			b.WriteByte('\t')
		case 'v':
			b.WriteByte('\v')
		case '\\':
			b.WriteByte('\\')
		case '0', 'x', 'u', 'U':
			base, max := 8, 3
			switch e {
			case 'x':
				base, max = 16, 2
			case 'u':
				base, max = 16, 4
			case 'U':
				base, max = 16, 8
			}
			n, v := 0, 0
			for n < max && i+1+n < len(s) {
				d := digitVal(s[i+1+n])
				if d < 0 || d >= base {
					break
				}
				v = v*base + d
				n++
			}
			if n == 0 && e != '0' {
				b.WriteByte('\\')
				b.WriteByte(e)
				continue
			}
			i += n
			if e == 'u' || e == 'U' {
				b.WriteRune(rune(v))
			} else {
				b.WriteByte(byte(v))
			}
		default:
			b.WriteByte('\\')
			b.WriteByte(e)
		}
	}
	b.WriteByte('\n')
	return b.String()
}

func digitVal(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'a' && c <= 'f':
		return int(c-'a') + 10
	case c >= 'A' && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}

// RunShell runs a command line through /bin/sh with output to w and returns
// its exit status (126/127 style codes when it cannot start).
func RunShell(ctx context.Context, cmdline, dir string, env []string, w io.Writer, attach func(*exec.Cmd)) int {
	return runShell(ctx, cmdline, dir, env, w, w, attach)
}

// runShell is RunShell with the command's stdout and stderr apart.
func runShell(ctx context.Context, cmdline, dir string, env []string, stdout, stderr io.Writer, attach func(*exec.Cmd)) int {
	cmd := proc.Command(ctx, true, "/bin/sh", "-c", cmdline)
	cmd.Dir = dir
	cmd.Env = env
	cmd.Stdout = stdout
	cmd.Stderr = stderr
	if attach != nil {
		attach(cmd)
	}
	return ExitStatus(proc.Run(cmd))
}

// ExitStatus turns the error of exec.Cmd.Run into a shell-style status.
func ExitStatus(err error) int {
	if err == nil {
		return 0
	}
	if ee, ok := err.(*exec.ExitError); ok {
		if st, ok := ee.Sys().(syscall.WaitStatus); ok && st.Signaled() {
			return 128 + int(st.Signal())
		}
		return ee.ExitCode()
	}
	return 127
}

// Output runs a program and returns its trimmed stdout.
func Output(ctx context.Context, name string, args ...string) (string, error) {
	var b bytes.Buffer
	cmd := proc.Command(ctx, false, name, args...)
	cmd.Stdout = &b
	err := proc.Run(cmd)
	return strings.TrimSpace(b.String()), err
}
