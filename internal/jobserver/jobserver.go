package jobserver

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// token is the byte written into the pipe; make 4.3 writes back whatever
// byte it read, so any value works, '+' is what make itself uses.
const token = '+'

// ErrClosed is returned by Acquire once the server is closed.
var ErrClosed = errors.New("jobserver closed")

// Server owns the token pipe. It is safe for concurrent use.
type Server struct {
	slots int
	// r and w are blocking descriptions of the pipe handed to children:
	// clients that do not expect O_NONBLOCK see exactly what make would
	// give them. Acquire reads through a separate non-blocking description
	// (see open) so that it can be cancelled.
	r, w *os.File

	mu     sync.Mutex
	closed bool
}

// New creates a jobserver with the given number of slots (>= 1), all of them
// available.
func New(slots int) (*Server, error) {
	if slots < 1 {
		return nil, fmt.Errorf("jobserver slots must be at least 1, got %d", slots)
	}
	// A pipe buffer holds at least 4096 bytes on Linux; more tokens than
	// that would make Release block.
	if slots > 4096 {
		return nil, fmt.Errorf("jobserver slots must be at most 4096, got %d", slots)
	}
	var fds [2]int
	if err := syscall.Pipe2(fds[:], syscall.O_CLOEXEC); err != nil {
		return nil, fmt.Errorf("creating jobserver pipe: %w", err)
	}
	s := &Server{
		slots: slots,
		r:     os.NewFile(uintptr(fds[0]), "jobserver-r"),
		w:     os.NewFile(uintptr(fds[1]), "jobserver-w"),
	}
	if _, err := s.w.Write([]byte(strings.Repeat(string(rune(token)), slots))); err != nil {
		s.r.Close()
		s.w.Close()
		return nil, fmt.Errorf("filling jobserver pipe: %w", err)
	}
	return s, nil
}

// Acquire takes one token, blocking until one is free or ctx is done.
// Every build attached to the server must hold a token for as long as it
// runs, taken before Attach and given back with Release after it ends.
func (s *Server) Acquire(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	f, err := s.open()
	if err != nil {
		return err
	}
	defer f.Close()
	// Waking the read through a deadline is the only way to interrupt a
	// pipe read; each Acquire has its own description so cancelling one
	// waiter does not disturb the others.
	stop := context.AfterFunc(ctx, func() { f.SetReadDeadline(time.Unix(1, 0)) })
	defer stop()
	var b [1]byte
	for {
		n, err := f.Read(b[:])
		if n == 1 {
			return nil
		}
		if errors.Is(err, os.ErrDeadlineExceeded) && ctx.Err() != nil {
			return ctx.Err()
		}
		if err != nil {
			return fmt.Errorf("reading jobserver token: %w", err)
		}
	}
}

// open returns a new, non-blocking and therefore pollable, description of
// the read end. Opening /proc/self/fd/N of a pipe creates a fresh open file
// description, so its O_NONBLOCK flag does not leak to the children.
func (s *Server) open() (*os.File, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, ErrClosed
	}
	path := "/proc/self/fd/" + strconv.Itoa(int(s.r.Fd()))
	fd, err := syscall.Open(path, syscall.O_RDONLY|syscall.O_NONBLOCK|syscall.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("opening jobserver pipe: %w", err)
	}
	return os.NewFile(uintptr(fd), "jobserver-r"), nil
}

// Release gives back one token taken by Acquire.
func (s *Server) Release() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	// The pipe always has room: it never holds more than slots tokens.
	s.w.Write([]byte{token})
}

// Attach makes cmd a client of the server: the pipe is appended to
// cmd.ExtraFiles and MAKEFLAGS in cmd.Env (nil meaning the current
// environment) gets "-jN --jobserver-auth=R,W", replacing any -j or
// jobserver option already there and keeping every other flag and
// variable. It does not take a token; see Run.
func (s *Server) Attach(cmd *exec.Cmd) {
	rfd := 3 + len(cmd.ExtraFiles)
	cmd.ExtraFiles = append(cmd.ExtraFiles, s.r, s.w)
	env := cmd.Env
	if env == nil {
		env = os.Environ()
	}
	old, out := "", make([]string, 0, len(env)+1)
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "MAKEFLAGS="); ok {
			old = v
			continue
		}
		out = append(out, kv)
	}
	cmd.Env = append(out, "MAKEFLAGS="+MakeFlags(old, s.slots, rfd, rfd+1))
}

// MakeFlags returns old with its -j and jobserver options replaced by the
// ones naming a jobserver of the given slots on descriptors r and w.
func MakeFlags(old string, slots, r, w int) string {
	var keep []string
	for i, word := range strings.Fields(old) {
		switch {
		case word == "--":
			// Variable assignments follow; make puts its options first.
			keep = append(keep, strings.Fields(old)[i:]...)
			return join(keep, slots, r, w)
		case word == "-j" || strings.HasPrefix(word, "-j") && isDigits(word[2:]),
			strings.HasPrefix(word, "--jobserver-auth="),
			strings.HasPrefix(word, "--jobserver-fds="),
			strings.HasPrefix(word, "--jobs"):
			continue
		}
		keep = append(keep, word)
	}
	return join(keep, slots, r, w)
}

func join(keep []string, slots, r, w int) string {
	ours := fmt.Sprintf("-j%d --jobserver-auth=%d,%d", slots, r, w)
	// The first word of MAKEFLAGS may be a cluster of single-letter flags
	// without a dash ("s", "ks"); ours go after it so it keeps that role.
	i := 0
	if len(keep) > 0 && !strings.HasPrefix(keep[0], "-") && !strings.Contains(keep[0], "=") {
		i = 1
	}
	words := append(append(append([]string{}, keep[:i]...), ours), keep[i:]...)
	return " " + strings.TrimSpace(strings.Join(words, " "))
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// Close closes the pipe. Commands still running keep their inherited copies;
// later Acquire calls fail with ErrClosed.
func (s *Server) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	return errors.Join(s.r.Close(), s.w.Close())
}
