package shconf

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Chain is a sequence of files evaluated one after the other, each seeing
// the whitelisted values the previous ones produced (dkms.conf and its
// /etc/dkms overrides, or framework.conf and framework.conf.d).
type Chain struct {
	Files     []string
	Names     []string
	Opts      Options // Preset is the input of the first file
	KeepGoing bool    // a failing file is skipped (its error reported) instead of ending the chain
}

// Step is the outcome of one file of a chain.
type Step struct {
	File string
	Vals map[string]Var
	Err  error
}

// maxReply bounds what the parent reads back from a child: values and
// stderr of confs are small, and a hostile one must not grow the parent.
const maxReply = 64 << 20

// grace is how long past a file's deadline the parent waits before it
// kills the child (which stops a runaway evaluation itself when it can).
const grace = 500 * time.Millisecond

var (
	noNamespaces  atomic.Bool  // starting in new namespaces failed once: don't try again
	forceFallback atomic.Bool  // test knob: a child confined by nothing (only built-in commands)
	forceNoNS     atomic.Bool  // test knob: no namespaces, as for a user other than root (Landlock confines)
	forceRemount  atomic.Bool  // test knob: remount mount by mount, not with one mount_setattr
	forceNoLL     atomic.Bool  // test knob: no Landlock, so that the mounts alone hold the writes
	forceProgram  atomic.Value // test knob: string, a program started as the child instead of this one
	lastJail      atomic.Value // string: how the last child was confined, for the tests
)

// EvalChains evaluates all chains in one sandboxed child process (a chain
// with Opts.FullShell runs in this process, unconfined, as it opted out).
// Result i has one Step per file of chain i that was evaluated.
func EvalChains(ctx context.Context, chains []Chain) [][]Step {
	out := make([][]Step, len(chains))
	var pending []chainReq
	for i, c := range chains {
		if len(c.Files) == 0 {
			continue
		}
		if c.Opts.FullShell {
			out[i] = evalChainInProcess(ctx, c)
			continue
		}
		// Leading files that boundedPure admits run here; the child
		// takes the rest of the chain from the first other one.
		start, preset := 0, c.Opts.Preset
		for ; start < len(c.Files) && !forceFallback.Load(); start++ {
			opts := c.Opts
			opts.Preset = preset
			if !boundedPure(c.Files[start], valueLens(opts)) {
				break
			}
			vals, err := evalInProcess(ctx, c.Files[start], c.Names, opts, policy{untimed: true})
			out[i] = append(out[i], Step{File: c.Files[start], Vals: vals, Err: err})
			if err == nil {
				preset = vals
			} else if !c.KeepGoing {
				start = len(c.Files)
				break
			}
		}
		if start >= len(c.Files) {
			continue
		}
		// The child works in "/": it gets absolute paths.
		files := make([]string, len(c.Files))
		for j, f := range c.Files {
			files[j] = absPath(f)
		}
		dir := c.Opts.Dir
		if dir != "" {
			dir = absPath(dir)
		}
		pending = append(pending, chainReq{Index: i, Start: start, Files: files, Names: c.Names, Preset: preset,
			Vars: c.Opts.Vars, Env: c.Opts.Env, Timeout: c.Opts.Timeout, Dir: dir, KeepGoing: c.KeepGoing})
	}
	for len(pending) > 0 {
		pending = runChild(ctx, chains, pending, out)
	}
	return out
}

func absPath(p string) string {
	if a, err := filepath.Abs(p); err == nil {
		return a
	}
	return p
}

func evalChainInProcess(ctx context.Context, c Chain) []Step {
	var steps []Step
	opts := c.Opts
	for _, f := range c.Files {
		vals, err := evalInProcess(ctx, f, c.Names, opts, policy{external: true})
		steps = append(steps, Step{File: f, Vals: vals, Err: err})
		if err != nil && !c.KeepGoing {
			break
		}
		if err == nil {
			opts.Preset = vals
		}
	}
	return steps
}

func timeoutOf(c chainReq) time.Duration {
	if c.Timeout > 0 {
		return c.Timeout
	}
	return defaultTimeout
}

// limitedBuffer keeps the first bytes of the child's own stderr (the Go
// runtime's last words), for the error message.
type limitedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *limitedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if room := 64<<10 - b.buf.Len(); room > 0 {
		b.buf.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}

func (b *limitedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// server is the evaluation child of this process, kept for the next
// request: starting and confining it costs more than most evaluations.
type server struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	dec    *json.Decoder
	errBuf *limitedBuffer
	mode   jailMode
	jailed bool // it has answered a request, so it is confined already
}

var (
	// serverLock is held for the whole of a request, one at a time. It
	// is a channel so that a caller waiting for it can stop at its own
	// deadline (waitServer).
	serverLock = make(chan struct{}, 1)
	current    *server
	// starting is the child Prestart is starting while it holds
	// serverLock, for a caller that cannot wait for it any longer.
	starting atomic.Pointer[server]
)

func lockServer()   { serverLock <- struct{}{} }
func unlockServer() { <-serverLock }

// waitServer takes serverLock for a request whose files have the given
// deadline. Behind another request it waits as long as that takes (each
// request is bounded by its own deadlines) or until ctx ends; behind a
// start by Prestart, at most until ctx ends or the deadline passes: then it
// kills that child, which has not become ready in all that time, and
// says so.
func waitServer(ctx context.Context, timeout time.Duration) error {
	select {
	case serverLock <- struct{}{}:
		return nil
	default:
	}
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		select {
		case serverLock <- struct{}{}:
			return nil
		case <-ctx.Done():
			if s := starting.Load(); s != nil {
				s.kill()
			}
			return fmt.Errorf("evaluation interrupted: %w", ctx.Err())
		case <-deadline.C:
			if s := starting.Load(); s != nil {
				s.kill()
				return fmt.Errorf("the sandboxed evaluation did not start within %v (it was killed)", timeout)
			}
		}
	}
}

func childProgram() string {
	if p, _ := forceProgram.Load().(string); p != "" {
		return p
	}
	return selfPath()
}

func startChild(mode jailMode) (*server, error) {
	cmd := exec.Command(childProgram())
	cmd.Args = []string{childArg0}
	cmd.Env = []string{childEnv + "=1"}
	cmd.Dir = "/"
	errBuf := &limitedBuffer{}
	cmd.Stderr = errBuf // a pipe, never dkms's terminal
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	attr := &syscall.SysProcAttr{Setsid: true, Pdeathsig: syscall.SIGKILL}
	if mode.Namespaces {
		attr.Cloneflags = syscall.CLONE_NEWNS | syscall.CLONE_NEWNET | syscall.CLONE_NEWPID | syscall.CLONE_NEWIPC
	}
	cmd.SysProcAttr = attr
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	return &server{cmd: cmd, stdin: stdin, dec: json.NewDecoder(io.LimitReader(stdout, maxReply)), errBuf: errBuf, mode: mode}, nil
}

func (s *server) kill() {
	_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
	_ = s.cmd.Process.Kill()
}

// getServer returns the running child, or starts one.
func getServer() (*server, error) {
	var mode jailMode
	if forceFallback.Load() {
		mode.NoJail = true
	} else if os.Geteuid() == 0 && !noNamespaces.Load() && !forceNoNS.Load() {
		mode.Namespaces = true
		mode.RemountEach = forceRemount.Load()
		mode.NoLandlock = forceNoLL.Load()
	}
	if current != nil {
		if current.mode == mode {
			return current, nil
		}
		current.kill()
		_ = current.cmd.Wait()
		current = nil
	}
	s, err := startChild(mode)
	if err != nil && mode.Namespaces {
		// No namespaces here (a container, a kernel without them):
		// Landlock, or no external command at all, in the child.
		noNamespaces.Store(true)
		mode.Namespaces = false
		s, err = startChild(mode)
	}
	if err != nil {
		return nil, err
	}
	current = s
	return s, nil
}

// Prestart starts the evaluation child in the background and has it
// confine itself, so that the first conf that needs it finds it ready
// instead of waiting for its start (a few milliseconds: docs/BENCHMARKS.md).
// A dkms command that will read a module's conf calls it first thing, so
// that the start overlaps the command's own; an evaluation that comes
// sooner waits for the start under way rather than making another child.
func Prestart() {
	lockServer()
	go func() {
		defer unlockServer()
		srv, err := getServer()
		if err != nil || srv.jailed {
			return
		}
		starting.Store(srv)
		defer starting.Store(nil)
		// An empty request: the child confines itself and answers with its
		// state and the end of the request.
		data, err := json.Marshal(request{jailMode: srv.mode})
		if err == nil {
			_, err = srv.stdin.Write(append(data, '\n'))
		}
		timer := time.AfterFunc(defaultTimeout, srv.kill)
		defer timer.Stop()
		for err == nil {
			var m message
			if err = srv.dec.Decode(&m); err != nil {
				break
			}
			if m.Jail != "" {
				lastJail.Store(m.Jail)
			}
			if m.End {
				srv.jailed = true
				return
			}
		}
		srv.kill()
		_ = srv.cmd.Wait()
		current = nil
	}()
}

// runChild sends pending to the child and records its answers in out. It
// returns the work left when the child died part-way (the file it died on
// has its error recorded); the next call starts a new child.
func runChild(ctx context.Context, chains []Chain, pending []chainReq, out [][]Step) []chainReq {
	if err := waitServer(ctx, timeoutOf(pending[0])); err != nil {
		for _, c := range pending {
			file := chains[c.Index].Files[c.Start]
			out[c.Index] = append(out[c.Index], Step{File: file, Err: &Error{File: file, Msg: err.Error()}})
		}
		return nil
	}
	defer unlockServer()
	srv, err := getServer()
	if err == nil {
		var data []byte
		data, err = json.Marshal(request{Chains: pending, jailMode: srv.mode})
		if err == nil {
			_, err = srv.stdin.Write(append(data, '\n'))
		}
	}
	if err != nil && srv == nil {
		for _, c := range pending {
			file := chains[c.Index].Files[c.Start]
			out[c.Index] = append(out[c.Index], Step{File: file,
				Err: &Error{File: file, Msg: fmt.Sprintf("cannot start the sandboxed evaluation: %v", err)}})
		}
		return nil
	}

	byIndex := map[int]*chainReq{}
	for i := range pending {
		byIndex[pending[i].Index] = &pending[i]
	}
	var timedOut atomic.Bool
	// A new child's start counts against the first file's deadline (with
	// a second more for the start itself), not a fixed time of its own.
	startBound := timeoutOf(pending[0]) + grace + time.Second
	started := srv.jailed
	timer := time.AfterFunc(startBound, func() { timedOut.Store(true); srv.kill() })
	stop := context.AfterFunc(ctx, srv.kill)
	defer stop()

	var cur *filePos
	done := map[int]bool{}
	bad := false // the child said something it should not have
	ended := false
	for !ended && !bad && err == nil {
		var m message
		if err = srv.dec.Decode(&m); err != nil {
			bad = !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF)
			break
		}
		switch {
		case m.Jail != "":
			lastJail.Store(m.Jail)
			started = true
		case m.Begin != nil:
			c := byIndex[m.Begin.Chain]
			if c == nil || m.Begin.File < c.Start || m.Begin.File >= len(c.Files) {
				bad = true
				break
			}
			pos := *m.Begin
			cur = &pos
			timer.Reset(timeoutOf(*c) + grace)
		case m.Done != nil:
			c := byIndex[m.Done.Chain]
			if c == nil || cur == nil || m.Done.filePos != *cur {
				bad = true
				break
			}
			ferr := m.Done.Err.err()
			orig := chains[c.Index].Files[cur.File]
			if se, ok := ferr.(*Error); ok && se.File == c.Files[cur.File] {
				se.File = orig // as the caller named it
			}
			out[c.Index] = append(out[c.Index], Step{File: orig, Vals: m.Done.Vals, Err: ferr})
			if ferr == nil {
				c.Preset = m.Done.Vals
			}
			c.Start = cur.File + 1
			if c.Start >= len(c.Files) || ferr != nil && !c.KeepGoing {
				done[c.Index] = true
			}
			cur = nil
		case m.End:
			ended = true
			srv.jailed = true
		case m.Stderr != "":
			if m.Chain >= 0 && m.Chain < len(chains) && chains[m.Chain].Opts.Stderr != nil {
				io.WriteString(chains[m.Chain].Opts.Stderr, m.Stderr)
			}
		}
	}
	timer.Stop()
	if ended && len(done) == len(pending) {
		return nil
	}
	// The child died, was killed, or misbehaved: it serves no more.
	srv.kill()
	waitErr := srv.cmd.Wait()
	current = nil
	if cur == nil {
		// Between files: blame the next file of the first chain not done.
		for _, c := range pending {
			if !done[c.Index] {
				cur = &filePos{c.Index, byIndex[c.Index].Start}
				break
			}
		}
	}
	if cur == nil {
		return nil
	}
	c := byIndex[cur.Chain]
	file := chains[c.Index].Files[cur.File]
	cause := deathCause(waitErr, srv.errBuf.String(), timedOut.Load(), bad, ctx.Err(), timeoutOf(*c))
	if !started && timedOut.Load() {
		cause = fmt.Sprintf("the sandboxed evaluation did not start within %v (it was killed)", startBound)
	}
	out[c.Index] = append(out[c.Index], Step{File: file, Err: &Error{File: file, Msg: cause}})
	c.Start = cur.File + 1
	if !c.KeepGoing || c.Start >= len(c.Files) {
		done[c.Index] = true
	}
	if ctx.Err() != nil {
		return nil
	}
	var left []chainReq
	for _, p := range pending {
		if !done[p.Index] {
			left = append(left, *byIndex[p.Index])
		}
	}
	return left
}

// deathCause says in words why a child ended without finishing.
func deathCause(waitErr error, stderr string, timedOut, bad bool, ctxErr error, timeout time.Duration) string {
	switch {
	case timedOut:
		return fmt.Sprintf("evaluation timed out after %v (the sandboxed evaluation was killed)", timeout)
	case ctxErr != nil:
		return "evaluation interrupted: " + ctxErr.Error()
	case bad:
		return fmt.Sprintf("evaluation produced more than %d MB of values and messages, or a malformed answer (the sandboxed evaluation was killed)", maxReply>>20)
	case strings.Contains(stderr, "out of memory") || strings.Contains(stderr, "cannot allocate memory"):
		return fmt.Sprintf("evaluation ran out of memory (more than %d MB; the sandboxed evaluation died)", childMemLimit>>20)
	}
	var ee *exec.ExitError
	if errors.As(waitErr, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			if ws.Signal() == syscall.SIGXCPU {
				return fmt.Sprintf("evaluation used more than %d s of CPU time (the sandboxed evaluation was killed)", childCPUSecs)
			}
			return fmt.Sprintf("the sandboxed evaluation was killed by signal %v", ws.Signal())
		}
		first, _, _ := strings.Cut(strings.TrimSpace(stderr), "\n")
		if first != "" {
			return fmt.Sprintf("the sandboxed evaluation failed (exit status %d: %s)", ee.ExitCode(), first)
		}
		return fmt.Sprintf("the sandboxed evaluation failed (exit status %d)", ee.ExitCode())
	}
	if waitErr != nil {
		return "the sandboxed evaluation failed: " + waitErr.Error()
	}
	return "the sandboxed evaluation ended without an answer"
}
