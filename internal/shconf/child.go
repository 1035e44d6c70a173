package shconf

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// The evaluation child is this very program, re-executed with childEnv
// set. It is recognised in init, before main or any test runs, so that
// every binary that evaluates confs (dkms, dkms-autoinstall, the test
// binaries, the benchmark) serves as its own sandbox without a hook of
// its own.
const (
	childEnv  = "DKMS_SHCONF_CHILD"
	childArg0 = "dkms-conf-sandbox"
)

func init() {
	if os.Getenv(childEnv) == "1" && len(os.Args) > 0 && os.Args[0] == childArg0 {
		os.Exit(childMain(os.Stdin, os.Stdout))
	}
	// Where to find ourselves when /proc is not mounted (dpkg --root
	// into a bare chroot): the program as it was started.
	if len(os.Args) > 0 && strings.Contains(os.Args[0], "/") {
		argv0Path, _ = filepath.Abs(os.Args[0])
	} else if len(os.Args) > 0 {
		argv0Path, _ = exec.LookPath(os.Args[0])
	}
}

var argv0Path string

// selfPath is the program to re-execute as the evaluation child.
func selfPath() string {
	if _, err := os.Stat("/proc/self/exe"); err == nil || argv0Path == "" {
		return "/proc/self/exe"
	}
	return argv0Path
}

// request is what the parent sends on the child's stdin.
type request struct {
	Chains []chainReq
	jailMode
}

// jailMode is how the child confines itself, fixed when it starts.
type jailMode struct {
	Namespaces bool // started in new namespaces: remount everything read-only
	NoJail     bool // test knob: confine nothing, so only built-in commands may run
	// RemountEach is a test knob: remount mount by mount, as on kernels
	// without mount_setattr.
	RemountEach bool `json:",omitempty"`
	NoLandlock  bool `json:",omitempty"` // test knob: the mounts alone hold the writes
}

type chainReq struct {
	Index     int // the caller's chain number
	Start     int // first file to evaluate (a restarted child resumes)
	Files     []string
	Names     []string
	Preset    map[string]Var
	Vars      map[string]string
	Env       []string
	Timeout   time.Duration
	Dir       string
	KeepGoing bool
}

// message is one line of the child's answer on its stdout.
type message struct {
	Jail   string     `json:",omitempty"` // first line: "confined", or "unconfined: why"
	Begin  *filePos   `json:",omitempty"` // evaluation of a file starts
	Chain  int        `json:",omitempty"` // for Stderr
	Stderr string     `json:",omitempty"` // the file wrote to stderr
	Done   *fileReply `json:",omitempty"`
	End    bool       `json:",omitempty"` // the request is answered
}

type filePos struct{ Chain, File int }

type fileReply struct {
	filePos
	Vals map[string]Var `json:",omitempty"`
	Err  *wireError     `json:",omitempty"`
}

// wireError carries an evaluation error across the pipe; Plain marks an
// error that was not an *Error (unreadable file, ...).
type wireError struct {
	File  string
	Line  int
	Msg   string
	Plain bool `json:",omitempty"`
}

func toWire(err error) *wireError {
	if err == nil {
		return nil
	}
	var se *Error
	if errors.As(err, &se) {
		return &wireError{File: se.File, Line: se.Line, Msg: se.Msg}
	}
	return &wireError{Msg: err.Error(), Plain: true}
}

func (w *wireError) err() error {
	if w == nil {
		return nil
	}
	if w.Plain {
		return errors.New(w.Msg)
	}
	return &Error{File: w.File, Line: w.Line, Msg: w.Msg}
}

// encoder serialises the messages of concurrent writers (the evaluator and
// the goroutines copying the stderr of commands).
type encoder struct {
	mu  sync.Mutex
	enc *json.Encoder
}

func (e *encoder) send(m message) {
	e.mu.Lock()
	defer e.mu.Unlock()
	_ = e.enc.Encode(m)
}

// stderrWriter forwards a file's stderr, at most maxStderr bytes of it.
type stderrWriter struct {
	e     *encoder
	chain int
	left  int
}

const maxStderr = 1 << 20

func (w *stderrWriter) Write(p []byte) (int, error) {
	n := len(p)
	if w.left <= 0 {
		return n, nil
	}
	if len(p) > w.left {
		p = p[:w.left]
	}
	w.left -= len(p)
	w.e.send(message{Chain: w.chain, Stderr: string(p)})
	return n, nil
}

// childMain serves requests until its stdin closes. Each request is
// answered by a Begin and a Done per file and one End.
func childMain(in io.Reader, out io.Writer) int {
	dec := json.NewDecoder(in)
	enc := &encoder{enc: json.NewEncoder(out)}
	first := true
	jailed := false
	namespaces := false
	for {
		var req request
		if err := dec.Decode(&req); err != nil {
			if errors.Is(err, io.EOF) {
				return 0
			}
			return 3
		}
		if first {
			// Confine once, before the first file; the same child serves
			// the later requests of this dkms run.
			first = false
			why := "disabled for this test"
			if !req.NoJail {
				jailed, why = jail(req.jailMode)
				namespaces = req.Namespaces
			}
			state := "confined"
			if !jailed {
				state = "unconfined: " + why
			}
			enc.send(message{Jail: state})
		}
		for _, c := range req.Chains {
			preset := c.Preset
			for i := c.Start; i < len(c.Files); i++ {
				enc.send(message{Begin: &filePos{c.Index, i}})
				opts := Options{Preset: preset, Vars: c.Vars, Env: c.Env, Timeout: c.Timeout, Dir: c.Dir,
					Stderr: &stderrWriter{e: enc, chain: c.Index, left: maxStderr}}
				vals, err := evalInProcess(context.Background(), c.Files[i], c.Names, opts, policy{external: jailed})
				if namespaces {
					endStragglers()
				}
				enc.send(message{Done: &fileReply{filePos: filePos{c.Index, i}, Vals: vals, Err: toWire(err)}})
				if err != nil && !c.KeepGoing {
					break
				}
				if err == nil {
					preset = vals
				}
			}
		}
		enc.send(message{End: true})
	}
}
