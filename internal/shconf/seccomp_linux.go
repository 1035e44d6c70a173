package shconf

import (
	"runtime"
	"unsafe"

	"golang.org/x/sys/unix"
)

// deniedSyscalls fail with EPERM in the jail. socket: a read-only mount
// does not stop connect() to a socket file such as systemd's or a container
// runtime's control socket, and io_uring could create sockets past this
// filter. The rest would reach root's keyrings or other processes' memory,
// which dropping capabilities mostly but not entirely covers.
var deniedSyscalls = []uint32{
	unix.SYS_SOCKET, unix.SYS_IO_URING_SETUP, unix.SYS_KEYCTL, unix.SYS_ADD_KEY,
	unix.SYS_REQUEST_KEY, unix.SYS_PTRACE, unix.SYS_PROCESS_VM_WRITEV,
	unix.SYS_PERF_EVENT_OPEN, unix.SYS_USERFAULTFD, unix.SYS_BPF,
}

// Offsets in struct seccomp_data.
const (
	seccompNr   = 0
	seccompArch = 4
)

func auditArch() (uint32, bool) {
	switch runtime.GOARCH {
	case "amd64":
		return unix.AUDIT_ARCH_X86_64, true
	case "arm64":
		return unix.AUDIT_ARCH_AARCH64, true
	}
	return 0, false
}

// installSeccomp loads the filter on every thread (TSYNC): a system call
// of another ABI (x86's 32-bit int 0x80 or x32) kills the process, a denied
// one returns EPERM, everything else passes.
func installSeccomp() error {
	arch, ok := auditArch()
	if !ok {
		return nil // no filter on other architectures; the rest still holds
	}
	stmt := func(code uint16, k uint32) unix.SockFilter { return unix.SockFilter{Code: code, K: k} }
	jump := func(code uint16, k uint32, jt, jf uint8) unix.SockFilter {
		return unix.SockFilter{Code: code, K: k, Jt: jt, Jf: jf}
	}
	const (
		ld    = unix.BPF_LD | unix.BPF_W | unix.BPF_ABS
		jeq   = unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K
		jge   = unix.BPF_JMP | unix.BPF_JGE | unix.BPF_K
		ret   = unix.BPF_RET | unix.BPF_K
		allow = unix.SECCOMP_RET_ALLOW
		kill  = unix.SECCOMP_RET_KILL_PROCESS
		eperm = unix.SECCOMP_RET_ERRNO | uint32(unix.EPERM)
	)
	prog := []unix.SockFilter{
		stmt(ld, seccompArch),
		jump(jeq, arch, 1, 0),
		stmt(ret, kill),
		stmt(ld, seccompNr),
	}
	if runtime.GOARCH == "amd64" {
		prog = append(prog, jump(jge, 0x40000000, 0, 1), stmt(ret, kill)) // x32
	}
	for _, nr := range deniedSyscalls {
		prog = append(prog, jump(jeq, nr, 0, 1), stmt(ret, eperm))
	}
	prog = append(prog, stmt(ret, allow))
	fprog := unix.SockFprog{Len: uint16(len(prog)), Filter: &prog[0]}
	_, _, e := unix.Syscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, unix.SECCOMP_FILTER_FLAG_TSYNC,
		uintptr(unsafe.Pointer(&fprog)))
	runtime.KeepAlive(prog)
	if e != 0 {
		return e
	}
	return nil
}
