package shconf

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"mvdan.cc/sh/v3/expand"
	"mvdan.cc/sh/v3/interp"
	"mvdan.cc/sh/v3/syntax"
)

// Var is the value a whitelisted variable has after evaluation.
type Var struct {
	Set    bool
	Array  bool
	Scalar string
	Elems  map[int]string // indexed arrays may be sparse
}

// Index returns element i ("" if absent); for a scalar, index 0 is the scalar.
func (v Var) Index(i int) string {
	if !v.Set {
		return ""
	}
	if !v.Array {
		if i == 0 {
			return v.Scalar
		}
		return ""
	}
	return v.Elems[i]
}

// Len returns the highest index + 1 (0 when unset); a set scalar counts as 1.
func (v Var) Len() int {
	if !v.Set {
		return 0
	}
	if !v.Array {
		return 1
	}
	n := 0
	for i := range v.Elems {
		n = max(n, i+1)
	}
	return n
}

// Options configures one evaluation.
type Options struct {
	Preset    map[string]Var    // values of whitelisted names before this file runs (chained evaluation)
	Vars      map[string]string // extra shell variables visible but NOT exported (kernelver, arch, dkms_tree, ...)
	Env       []string          // exported environment ("K=V")
	FullShell bool              // opt-in: allow any command, writes, etc. (still no stdout leak)
	Timeout   time.Duration     // 0 -> 10s
	Stderr    io.Writer         // file's stderr goes here (nil -> discarded); stdout is always discarded
	Dir       string            // working directory ("" -> dir of the file)
}

// Error is an evaluation failure tied to a file and, when known, a line.
type Error struct {
	File string
	Line int
	Msg  string
}

func (e *Error) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	}
	return fmt.Sprintf("%s: %s", e.File, e.Msg)
}

const defaultTimeout = 10 * time.Second

// crMark stands in for a carriage return when checking CRLF files: a
// private-use rune that the parser treats as a word character.
const crMark = "\uE000"

var validName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// EvalFile evaluates the file at path and returns the whitelisted names
// (Set=false for unset ones). Every element has one trailing CR removed, as
// upstream's copy-back does. A file that calls `exit` copies nothing back,
// so the result then equals Preset, as in upstream. Unless opts.FullShell
// is set, the file is evaluated in a sandboxed child (see EvalChains).
func EvalFile(ctx context.Context, path string, names []string, opts Options) (map[string]Var, error) {
	steps := EvalChains(ctx, []Chain{{Files: []string{path}, Names: names, Opts: opts}})[0]
	if len(steps) == 0 {
		return nil, &Error{File: path, Msg: "not evaluated"}
	}
	return steps[0].Vals, steps[0].Err
}

// policy is what an evaluation may run beyond the built-in commands.
type policy struct {
	external bool // the kernel blocks writes: allow-listed programs may run
	untimed  bool // a bounded pure file (fastpath.go): no wall-clock deadline
}

// evalInProcess is the evaluator itself, in the calling process.
func evalInProcess(ctx context.Context, path string, names []string, opts Options, pol policy) (res map[string]Var, err error) {
	defer func() {
		// The interpreter is large; a bug in it must not take dkms down
		// while it is merely reading configuration.
		if p := recover(); p != nil {
			res, err = nil, &Error{File: path, Msg: fmt.Sprintf("internal evaluator error: %v", p)}
		}
	}()
	for _, n := range names {
		if !validName.MatchString(n) {
			return nil, fmt.Errorf("evaluating %s: invalid variable name %q", path, n)
		}
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	file, err := syntax.NewParser(syntax.Variant(syntax.LangBash)).Parse(bytes.NewReader(data), path)
	if err != nil {
		return nil, parseError(path, err)
	}
	if bytes.Contains(data, []byte("\r")) {
		// mvdan.cc/sh reads CRLF as LF, bash keeps the CR in the word,
		// so `then\r` is no keyword to bash. Parse once more with the CR
		// as an ordinary character to fail where bash fails.
		marked := bytes.ReplaceAll(data, []byte("\r"), []byte(crMark))
		if _, err := syntax.NewParser(syntax.Variant(syntax.LangBash)).Parse(bytes.NewReader(marked), path); err != nil {
			return nil, parseError(path, err)
		}
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("evaluating %s: %w", path, err)
	}
	timeout := opts.Timeout
	if timeout <= 0 {
		timeout = defaultTimeout
	}
	if !pol.untimed {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	ev := &evaluation{
		pol:     pol,
		path:    path,
		file:    file,
		opts:    opts,
		names:   names,
		stderr:  opts.Stderr,
		timeout: timeout,
	}
	if ev.stderr == nil {
		ev.stderr = io.Discard
	}
	ev.stderr = &quietStderr{ev: ev, w: ev.stderr}
	if !opts.FullShell {
		if e := checkStatic(path, file); e != nil {
			return nil, e
		}
	}
	spans, e := rewriteAnchored(path, file)
	if e != nil {
		return nil, e
	}
	var rewritten []byte
	if len(spans) > 0 {
		// The source builtin reads the file through the open handler,
		// which serves this text instead.
		if rewritten, e = rewriteSource(path, data, spans); e != nil {
			return nil, e
		}
	}
	ev.abs, ev.rewritten = abs, rewritten
	return ev.run(ctx, abs)
}

// evaluation carries the state shared by the child (the file) and the
// parent (the copy-back) runners.
type evaluation struct {
	pol       policy
	rewritten []byte // the file's text with anchored replacements rewritten, or nil
	abs       string // the file's absolute path
	path      string
	file      *syntax.File
	opts      Options
	names     []string
	stderr    io.Writer
	timeout   time.Duration

	violation  *Error // first sandbox violation; it ends the evaluation
	refusedMsg atomic.Value
	calls      atomic.Int64
	lastLine   atomic.Int64 // line of the latest command, for refusals that know no position
}

func (ev *evaluation) run(ctx context.Context, abs string) (map[string]Var, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	base := ev.baseEnviron()
	child, err := ev.newRunner(ctx, cancel, base, io.Discard)
	if err != nil {
		return nil, err
	}
	q, err := syntax.Quote(abs, syntax.LangBash)
	if err != nil {
		return nil, &Error{File: ev.path, Msg: fmt.Sprintf("cannot quote path: %v", err)}
	}
	src := ". " + q + " >/dev/null"
	if err := ev.runSource(ctx, child, src); err != nil {
		return nil, err
	}
	if child.Exited() {
		return ev.presetOnly(), nil
	}
	var copyBack bytes.Buffer
	// A nil stdin: any other reader makes interp open a pipe that is only
	// closed by the garbage collector, one descriptor per evaluation.
	if err := interp.StdIO(nil, &copyBack, ev.stderr)(child); err != nil {
		return nil, fmt.Errorf("evaluating %s: %w", ev.path, err)
	}
	if loop := copyBackLoop(ev.names, child.Vars); loop != "" {
		if err := ev.runScript(ctx, child, loop); err != nil {
			return nil, err
		}
	}
	copyBack.WriteString(directiveLines(child.Vars))
	if copyBack.Len() == 0 {
		// Nothing is copied back (the file unset every name): the values
		// stay as they were. (A runner that never ran has no Vars.)
		return ev.presetOnly(), nil
	}

	parent, err := ev.newRunner(ctx, cancel, base, io.Discard)
	if err != nil {
		return nil, err
	}
	if err := ev.sourceCopyBack(ctx, parent, copyBack.String()); err != nil {
		return nil, err
	}
	out := make(map[string]Var, len(ev.names))
	for _, n := range ev.names {
		out[n] = fromVariable(parent.Vars[n])
	}
	return out, nil
}

// runSource runs shell source text in r and classifies the outcome: exit
// statuses are ordinary (upstream ignores them), anything else is fatal.
func (ev *evaluation) runSource(ctx context.Context, r *interp.Runner, src string) error {
	f, err := syntax.NewParser().Parse(strings.NewReader(src), ev.path)
	if err != nil {
		return &Error{File: ev.path, Msg: fmt.Sprintf("internal evaluator error: %v", err)}
	}
	return ev.classify(ctx, r.Run(ctx, f.Stmts[0]))
}

// runScript runs our own multi-statement text in r, stopping at an exit.
func (ev *evaluation) runScript(ctx context.Context, r *interp.Runner, src string) error {
	f, err := syntax.NewParser().Parse(strings.NewReader(src), ev.path)
	if err != nil {
		return &Error{File: ev.path, Msg: fmt.Sprintf("internal evaluator error: %v", err)}
	}
	for _, st := range f.Stmts {
		if err := ev.classify(ctx, r.Run(ctx, st)); err != nil {
			return err
		}
		if r.Exited() {
			break
		}
	}
	return nil
}

func (ev *evaluation) classify(ctx context.Context, err error) error {
	if ev.violation != nil {
		return ev.violation
	}
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return &Error{File: ev.path, Msg: fmt.Sprintf("evaluation timed out after %v", ev.timeout)}
	}
	if ctx.Err() != nil {
		return fmt.Errorf("evaluating %s: %w", ev.path, ctx.Err())
	}
	if err == nil {
		return nil
	}
	if _, ok := errors.AsType[interp.ExitStatus](err); ok {
		return nil
	}
	return &Error{File: ev.path, Msg: err.Error()}
}

// sourceCopyBack runs the copy-back text the way bash sources it: one
// statement at a time, so an assignment that a value with quotes turned
// into an error only loses that line. mvdan.cc/sh rejects some lines at
// parse time that bash rejects at run time (`X[0]=a b`), hence the
// line-wise parse that skips a bad line instead of stopping.
func (ev *evaluation) sourceCopyBack(ctx context.Context, r *interp.Runner, text string) error {
	lines := strings.SplitAfter(text, "\n")
	for i := 0; i < len(lines); i++ {
		chunk := lines[i]
		for {
			f, err := syntax.NewParser().Parse(strings.NewReader(chunk), ev.path)
			if err != nil && syntax.IsIncomplete(err) && i+1 < len(lines) {
				i++
				chunk += lines[i]
				continue
			}
			if err != nil {
				fmt.Fprintf(ev.stderr, "%s: re-expanding copied values: %v\n", ev.path, err)
				break
			}
			for _, st := range f.Stmts {
				if err := ev.classify(ctx, r.Run(ctx, st)); err != nil {
					return err
				}
				if r.Exited() {
					return nil
				}
			}
			break
		}
	}
	return nil
}

func (ev *evaluation) presetOnly() map[string]Var {
	out := make(map[string]Var, len(ev.names))
	for _, n := range ev.names {
		out[n] = ev.opts.Preset[n]
	}
	return out
}

// copyBackLoop is upstream's printing loop unrolled for the indices the
// child ended with (mvdan.cc/sh lacks `${!name[@]}` on scalars). Running
// the echo in the child keeps its quirks: it is unquoted, so values are
// word-split and re-joined, with the file's IFS.
func copyBackLoop(names []string, vars map[string]expand.Variable) string {
	var b strings.Builder
	for _, n := range names {
		v := vars[n]
		if !hasValue(v) {
			continue
		}
		var idx []int
		switch v.Kind {
		case expand.Indexed:
			for i := range v.List {
				if v.Indexes != nil {
					idx = append(idx, v.Indexes[i])
				} else {
					idx = append(idx, i)
				}
			}
		case expand.String:
			idx = []int{0}
		}
		for _, i := range idx {
			fmt.Fprintf(&b, "echo %s[%d]=\\\"${%s[%d]%%$'\\r'}\\\"\n", n, i, n, i)
		}
	}
	return b.String()
}

func parseError(path string, err error) error {
	var pe syntax.ParseError
	if errors.As(err, &pe) {
		return &Error{File: path, Line: int(pe.Pos.Line()), Msg: "syntax error: " + pe.Text}
	}
	var le syntax.LangError
	if errors.As(err, &le) {
		return &Error{File: path, Line: int(le.Pos.Line()), Msg: le.Error()}
	}
	return &Error{File: path, Msg: err.Error()}
}

// hasValue reports whether v holds a value. mvdan.cc/sh leaves Set false
// after `X[i]=v` creates an array, so elements count as being set.
func hasValue(v expand.Variable) bool {
	switch v.Kind {
	case expand.Indexed:
		return len(v.List) > 0
	case expand.Associative:
		return len(v.Map) > 0
	}
	return v.IsSet()
}

func fromVariable(v expand.Variable) Var {
	if !hasValue(v) {
		return Var{}
	}
	switch v.Kind {
	case expand.Indexed:
		elems := make(map[int]string, len(v.List))
		for i, s := range v.List {
			idx := i
			if v.Indexes != nil {
				idx = v.Indexes[i]
			}
			elems[idx] = s
		}
		return Var{Set: true, Array: true, Elems: elems}
	case expand.Associative:
		// Upstream's copy-back cannot carry associative arrays into
		// the dkms shell meaningfully; expose them sorted by key.
		keys := slices.Sorted(func(yield func(string) bool) {
			for k := range v.Map {
				if !yield(k) {
					return
				}
			}
		})
		elems := make(map[int]string, len(keys))
		for i, k := range keys {
			elems[i] = v.Map[k]
		}
		return Var{Set: true, Array: true, Elems: elems}
	default:
		return Var{Set: true, Scalar: v.String()}
	}
}

func toVariable(v Var) expand.Variable {
	if !v.Set {
		return expand.Variable{}
	}
	if !v.Array {
		return expand.Variable{Set: true, Kind: expand.String, Str: v.Scalar}
	}
	idx := slices.Sorted(func(yield func(int) bool) {
		for i := range v.Elems {
			if i >= 0 && !yield(i) {
				return
			}
		}
	})
	list := make([]string, len(idx))
	dense := true
	for k, i := range idx {
		list[k] = v.Elems[i]
		dense = dense && i == k
	}
	out := expand.Variable{Set: true, Kind: expand.Indexed, List: list}
	if !dense {
		out.Indexes = idx
	}
	return out
}

// quietStderr drops the lines the interpreter prints for an expansion
// that failed because the evaluation was stopped (a refusal inside $(...),
// the cancellation that follows it): the refusal itself is the error.
type quietStderr struct {
	ev *evaluation
	w  io.Writer
}

func (q *quietStderr) Write(p []byte) (int, error) {
	line := strings.TrimSuffix(string(p), "\n")
	if line == context.Canceled.Error() || line == context.DeadlineExceeded.Error() ||
		line == q.ev.refusedMsg.Load() {
		return len(p), nil
	}
	return q.w.Write(p)
}
