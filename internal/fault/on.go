//go:build faultinject

package fault

import (
	"fmt"
	"os"
	"strconv"
	"sync"
	"syscall"
)

var (
	mu    sync.Mutex
	count int
	at    = atoi(os.Getenv("DKMS_FAULT_AT"))
	log   = os.Getenv("DKMS_FAULT_LOG")
)

func atoi(s string) int {
	n, _ := strconv.Atoi(s)
	return n
}

func point(op, path string) {
	mu.Lock()
	defer mu.Unlock()
	count++
	if log != "" {
		appendLine(log, fmt.Sprintf("%d %s %s\n", count, op, path))
	}
	if count == at {
		syscall.Kill(os.Getpid(), syscall.SIGKILL)
		select {} // the signal is on its way
	}
}

func locked() {
	if p := os.Getenv("DKMS_LOCK_LOG"); p != "" {
		// The tag tells runs apart where pids are reused.
		appendLine(p, strconv.Itoa(os.Getpid())+" "+os.Getenv("DKMS_LOCK_TAG")+"\n")
	}
}

func appendLine(path, s string) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return
	}
	f.WriteString(s)
	f.Close()
}
