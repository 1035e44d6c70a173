package jobserver

import (
	"strconv"
	"strings"
	"syscall"
)

// Inherited reports whether env's MAKEFLAGS names a jobserver whose pipe
// descriptors are open in this process, and its -j slot count (0 when
// MAKEFLAGS has no -jN). A build running under an inherited jobserver must
// call make without -jN, or make leaves the shared pool (see the package
// documentation); the slot it runs in was paid for by whoever attached it.
func Inherited(env []string) (slots int, ok bool) {
	flags := ""
	for _, kv := range env {
		if v, found := strings.CutPrefix(kv, "MAKEFLAGS="); found {
			flags = v // the last assignment wins, as in the process environment
		}
	}
	for _, word := range strings.Fields(flags) {
		if word == "--" {
			break
		}
		if n, found := strings.CutPrefix(word, "-j"); found && isDigits(n) {
			slots, _ = strconv.Atoi(n)
		}
		if auth, found := strings.CutPrefix(word, "--jobserver-auth="); found {
			ok = fdsOpen(auth)
		}
	}
	return slots, ok
}

// fdsOpen checks an "R,W" pair of descriptors; make 4.3 itself falls back
// to -j1 with a warning when they are closed.
func fdsOpen(auth string) bool {
	r, w, found := strings.Cut(auth, ",")
	if !found {
		return false
	}
	for _, s := range []string{r, w} {
		fd, err := strconv.Atoi(s)
		if err != nil || fd < 0 {
			return false
		}
		if _, _, errno := syscall.Syscall(syscall.SYS_FCNTL, uintptr(fd), syscall.F_GETFD, 0); errno != 0 {
			return false
		}
	}
	return true
}
