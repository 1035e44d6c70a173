package shconf

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"

	"golang.org/x/sys/unix"
	"mvdan.cc/sh/v3/expand"
	"mvdan.cc/sh/v3/interp"
	"mvdan.cc/sh/v3/syntax"
)

// goCommands are allow-listed commands implemented in Go, so that the
// common `$(uname -r)` or `$(nproc)` needs no process at all.
var goCommands = map[string]func(hc interp.HandlerContext, args []string) error{
	"uname":    cmdUname,
	"nproc":    cmdNproc,
	"cat":      cmdCat,
	"basename": cmdBasename,
	"dirname":  cmdDirname,
	"head":     cmdHead,
	"tail":     cmdTail,
	"true":     func(interp.HandlerContext, []string) error { return nil },
	"false":    func(interp.HandlerContext, []string) error { return interp.ExitStatus(1) },
}

// realCommands run as the real program, only in a child whose writes
// the kernel blocks (see jail): read-only tools that real dkms.conf files
// use, vendor version probes included. Their options need no filtering
// there. Programs that only make sense to change the system (rm, cp, make,
// a shell) stay refused with a message naming the line.
var realCommands = map[string]bool{
	"grep": true, "egrep": true, "fgrep": true, "sed": true, "cut": true, "tr": true,
	"sort": true, "wc": true, "expr": true, "ls": true, "readlink": true,
	"realpath": true, "seq": true, "stat": true, "getconf": true,
	"awk": true, "gawk": true, "mawk": true, "find": true, "which": true, "printenv": true,
	"id": true, "date": true, "hostname": true, "uniq": true, "tac": true, "paste": true,
	"md5sum": true, "sha256sum": true, "dpkg": true, "dpkg-query": true, "dpkg-architecture": true,
	"rpm": true, "lsb_release": true, "pkg-config": true, "modinfo": true, "gcc": true, "cc": true,
	"ofed_info": true,
}

// Limits on runaway files, far above what any real dkms.conf needs.
const (
	maxCalls       = 1_000_000
	maxStackFrames = 8000
	fdCheckEvery   = 32
	// stackCheckEvery: how often the stack's depth is measured.
	stackCheckEvery = 16
)

// descriptorsExhausted reports whether the process uses more than a
// quarter of its open-file limit.
func descriptorsExhausted() bool {
	var lim unix.Rlimit
	if unix.Getrlimit(unix.RLIMIT_NOFILE, &lim) != nil || lim.Cur == unix.RLIM_INFINITY {
		return false
	}
	f, err := os.Open("/proc/self/fd")
	if err != nil {
		return true // no descriptor left even for this
	}
	defer f.Close()
	names, _ := f.Readdirnames(-1)
	return uint64(len(names)) > lim.Cur/4
}

// safeDirs is where real allow-listed binaries are looked up; the file's
// PATH is ignored so that it cannot substitute its own "grep".
var safeDirs = []string{"/usr/bin", "/bin", "/usr/sbin", "/sbin", "/usr/local/bin"}

func (ev *evaluation) newRunner(ctx context.Context, cancel context.CancelFunc, env expand.Environ, stdout io.Writer) (*interp.Runner, error) {
	dir := ev.opts.Dir
	if dir == "" {
		dir = filepath.Dir(ev.path)
	}
	if abs, err := filepath.Abs(dir); err == nil {
		dir = abs
	}
	opts := []interp.RunnerOption{
		interp.Env(env),
		interp.Dir(dir),
		interp.StdIO(nil, stdout, ev.stderr),
	}
	opts = append(opts, interp.CallHandler(ev.callHandler(cancel)),
		interp.ExecHandlers(func(next interp.ExecHandlerFunc) interp.ExecHandlerFunc {
			return func(ctx context.Context, args []string) error {
				if args[0] == patsubCmd {
					return ev.cmdAnchoredReplace(interp.HandlerCtx(ctx), cancel, args)
				}
				return next(ctx, args)
			}
		}))
	if !ev.opts.FullShell {
		opts = append(opts,
			interp.ExecHandlers(func(next interp.ExecHandlerFunc) interp.ExecHandlerFunc {
				return ev.sandboxExec(cancel, next)
			}))
	}
	opts = append(opts, interp.OpenHandler(ev.sandboxOpen(cancel)))
	r, err := interp.New(opts...)
	if err != nil {
		return nil, fmt.Errorf("evaluating %s: %w", ev.path, err)
	}
	return r, nil
}

// refuse records the first violation and stops the evaluation.
func (ev *evaluation) refuse(cancel context.CancelFunc, line int, format string, args ...any) error {
	if ev.violation == nil {
		ev.violation = &Error{File: ev.path, Line: line, Msg: fmt.Sprintf(format, args...) +
			fmt.Sprintf(" in %s (sandboxed evaluation)", filepath.Base(ev.path))}
		ev.refusedMsg.Store(ev.violation.Error())
	}
	cancel()
	return ev.violation
}

func (ev *evaluation) sandboxExec(cancel context.CancelFunc, next interp.ExecHandlerFunc) interp.ExecHandlerFunc {
	return func(ctx context.Context, args []string) error {
		hc := interp.HandlerCtx(ctx)
		line := int(hc.Pos.Line())
		name := args[0]
		if strings.Contains(name, "/") {
			base := filepath.Base(name)
			if !slices.Contains(safeDirs, filepath.Dir(name)) || (goCommands[base] == nil && !realCommands[base]) {
				return ev.refuse(cancel, line, "command %q is not allowed", name)
			}
			name = base
		}
		if fn := goCommands[name]; fn != nil {
			return fn(hc, args)
		}
		if !realCommands[name] {
			return ev.refuse(cancel, line, "command %q is not allowed", name)
		}
		if !ev.pol.external {
			return ev.refuse(cancel, line, "command %q is not allowed (no kernel sandbox on this system: only built-in commands run)", name)
		}
		for _, d := range safeDirs {
			p := filepath.Join(d, name)
			if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() {
				return runProgram(ctx, hc, p, args)
			}
		}
		fmt.Fprintf(hc.Stderr, "%s: command not found\n", name)
		return interp.ExitStatus(127)
	}
}

func (ev *evaluation) sandboxOpen(cancel context.CancelFunc) interp.OpenHandlerFunc {
	def := interp.DefaultOpenHandler()
	return func(ctx context.Context, path string, flag int, perm os.FileMode) (io.ReadWriteCloser, error) {
		if ev.rewritten != nil && flag == os.O_RDONLY && path == ev.abs {
			return readOnly{strings.NewReader(string(ev.rewritten))}, nil
		}
		if ev.opts.FullShell {
			return def(ctx, path, flag, perm)
		}
		if path == "/dev/null" {
			return devNull{}, nil // whatever /dev holds in the jail
		}
		if flag&(os.O_WRONLY|os.O_RDWR|os.O_APPEND|os.O_CREATE|os.O_TRUNC) != 0 {
			line := redirectLine(ev.file, path)
			if line == 0 {
				line = int(ev.lastLine.Load()) // inside eval or a sourced file
			}
			return nil, ev.refuse(cancel, line, "redirection to %q is not allowed", path)
		}
		return def(ctx, path, flag, perm)
	}
}

func (ev *evaluation) callHandler(cancel context.CancelFunc) interp.CallHandlerFunc {
	sandbox := ev.sandboxCall(cancel)
	return func(ctx context.Context, args []string) ([]string, error) {
		// mvdan.cc/sh has no FUNCNEST: unbounded recursion would grow the
		// Go stack until the process dies, and a pipeline fork bomb would
		// spawn goroutines without end. Bound both.
		n := ev.calls.Add(1)
		ev.lastLine.Store(int64(interp.HandlerCtx(ctx).Pos.Line()))
		if n > maxCalls {
			return nil, ev.refuse(cancel, int(interp.HandlerCtx(ctx).Pos.Line()), "more than %d commands", maxCalls)
		}
		// Every pipe and command substitution holds descriptors until it
		// ends: recursion through them would exhaust the process's open
		// files (and break whatever else dkms is doing) long before the
		// limits above. Check now and then, cheaply.
		if n%fdCheckEvery == 0 && descriptorsExhausted() {
			return nil, ev.refuse(cancel, int(interp.HandlerCtx(ctx).Pos.Line()),
				"too many open files (runaway recursion through pipes or command substitutions)")
		}
		// Measuring the stack walks all of it, a quarter of the whole
		// evaluation of a conf with two dozen command substitutions when
		// done on every call: every stackCheckEvery calls suffices, a
		// recursion adding some tens of frames per call.
		var pc [1]uintptr
		if n%stackCheckEvery == 0 && runtime.Callers(maxStackFrames, pc[:]) > 0 {
			return nil, ev.refuse(cancel, int(interp.HandlerCtx(ctx).Pos.Line()), "function nesting this deep")
		}
		if args[0] == "unset" {
			args = fixUnset(interp.HandlerCtx(ctx).Env, args)
		}
		return sandbox(ctx, args)
	}
}

// fixUnset works around mvdan.cc/sh leaving an array created by `X[i]=v`
// marked as not set, which makes `unset X` a no-op: such an array is
// unset element by element instead.
func fixUnset(env expand.Environ, args []string) []string {
	out := []string{args[0]}
	for _, a := range args[1:] {
		v := env.Get(a)
		if strings.HasPrefix(a, "-") || strings.Contains(a, "[") || v.Kind != expand.Indexed || v.IsSet() || len(v.List) == 0 {
			out = append(out, a)
			continue
		}
		for i := range v.List {
			idx := i
			if v.Indexes != nil {
				idx = v.Indexes[i]
			}
			out = append(out, fmt.Sprintf("%s[%d]", a, idx))
		}
	}
	return out
}

// sandboxCall inspects code that the static check of the file cannot see:
// strings given to eval, trap and alias, and sourced files.
func (ev *evaluation) sandboxCall(cancel context.CancelFunc) interp.CallHandlerFunc {
	return func(ctx context.Context, args []string) ([]string, error) {
		hc := interp.HandlerCtx(ctx)
		line := int(hc.Pos.Line())
		rest := args
		for len(rest) > 0 && (rest[0] == "builtin" || rest[0] == "command") {
			rest = rest[1:]
			for len(rest) > 0 && strings.HasPrefix(rest[0], "-") {
				rest = rest[1:]
			}
		}
		if len(rest) == 0 {
			return args, nil
		}
		var src string
		switch rest[0] {
		case "eval", "trap", "alias":
			src = strings.Join(rest[1:], " ")
		case "source", ".":
			if len(rest) < 2 {
				return args, nil
			}
			p := rest[1]
			if !filepath.IsAbs(p) {
				p = filepath.Join(hc.Dir, p)
			}
			if p == ev.abs {
				return args, nil // the file itself, checked and rewritten already
			}
			data, err := os.ReadFile(p)
			if err != nil {
				return args, nil // the builtin reports it like bash
			}
			src = string(data)
		default:
			return args, nil
		}
		f, err := syntax.NewParser().Parse(strings.NewReader(src), "")
		if err != nil {
			return args, nil // the builtin reports the syntax error
		}
		if what := forbiddenNode(f); what != "" && !ev.opts.FullShell {
			return nil, ev.refuse(cancel, line, "%s is not allowed", what)
		}
		if hasAnchored(f) {
			return nil, ev.refuse(cancel, line, "an anchored ${name/#pattern/string} or `&` replacement inside eval, trap, alias or a sourced file is not supported")
		}
		return args, nil
	}
}

// checkStatic refuses constructs that bypass the handlers: process
// substitution creates FIFOs in $TMPDIR directly, coprocesses run detached.
func checkStatic(path string, f *syntax.File) *Error {
	var bad *Error
	syntax.Walk(f, func(n syntax.Node) bool {
		if bad != nil {
			return false
		}
		if what := nodeKind(n); what != "" {
			bad = &Error{File: path, Line: int(n.Pos().Line()),
				Msg: what + " is not allowed in " + filepath.Base(path) + " (sandboxed evaluation)"}
			return false
		}
		return true
	})
	return bad
}

func forbiddenNode(f *syntax.File) string {
	what := ""
	syntax.Walk(f, func(n syntax.Node) bool {
		if what == "" {
			what = nodeKind(n)
		}
		return what == ""
	})
	return what
}

func nodeKind(n syntax.Node) string {
	switch n.(type) {
	case *syntax.ProcSubst:
		return "process substitution"
	case *syntax.CoprocClause:
		return "coproc"
	}
	return ""
}

// redirectLine guesses the line of the redirection that opened path for
// writing: the open handler is not told the position.
func redirectLine(f *syntax.File, path string) int {
	first := 0
	syntax.Walk(f, func(n syntax.Node) bool {
		rd, ok := n.(*syntax.Redirect)
		if !ok || rd.Word == nil {
			return true
		}
		switch rd.Op {
		case syntax.RdrOut, syntax.AppOut, syntax.RdrAll, syntax.AppAll, syntax.RdrClob, syntax.RdrInOut:
		default:
			return true
		}
		lit := rd.Word.Lit()
		if lit == "/dev/null" {
			return true
		}
		line := int(rd.Pos().Line())
		if lit == path || filepath.Base(lit) == filepath.Base(path) {
			first = line
			return false
		}
		if first == 0 {
			first = line
		}
		return true
	})
	return first
}
