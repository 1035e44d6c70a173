package shconf

import (
	"runtime"
	"unsafe"

	"golang.org/x/sys/unix"
)

// deniedSyscalls fail with EPERM in the jail. socket: a read-only mount
// does not stop connect() to a socket file such as systemd's or a container
// runtime's control socket, and io_uring could create sockets past this
// filter. setns: root without capabilities still has every capability in
// a user namespace that root created (a container's, pinned by a file or
// seen in /proc), and could join it and its mount namespace. The rest would
// reach root's keyrings or other processes' memory, which dropping
// capabilities mostly but not entirely covers.
var deniedSyscalls = []uint32{
	unix.SYS_SOCKET, unix.SYS_IO_URING_SETUP, unix.SYS_KEYCTL, unix.SYS_ADD_KEY,
	unix.SYS_REQUEST_KEY, unix.SYS_PTRACE, unix.SYS_PROCESS_VM_WRITEV,
	unix.SYS_PERF_EVENT_OPEN, unix.SYS_USERFAULTFD, unix.SYS_BPF, unix.SYS_SETNS,
}

// A new user namespace gives every capability inside it, which no conf
// needs: unshare and clone with CLONE_NEWUSER fail with EPERM. clone3
// passes its flags in memory, out of a filter's reach, so it fails with
// ENOSYS, on which the C library falls back to clone.

// Offsets in struct seccomp_data.
const (
	seccompNr   = 0
	seccompArch = 4
	seccompArg0 = 16 // the low half on the little-endian architectures filtered
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
		ld     = unix.BPF_LD | unix.BPF_W | unix.BPF_ABS
		jeq    = unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K
		jge    = unix.BPF_JMP | unix.BPF_JGE | unix.BPF_K
		jset   = unix.BPF_JMP | unix.BPF_JSET | unix.BPF_K
		ret    = unix.BPF_RET | unix.BPF_K
		allow  = unix.SECCOMP_RET_ALLOW
		kill   = unix.SECCOMP_RET_KILL_PROCESS
		eperm  = unix.SECCOMP_RET_ERRNO | uint32(unix.EPERM)
		enosys = unix.SECCOMP_RET_ERRNO | uint32(unix.ENOSYS)
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
	prog = append(prog,
		jump(jeq, unix.SYS_CLONE3, 0, 1), stmt(ret, enosys),
		jump(jeq, unix.SYS_UNSHARE, 1, 0), // to the flags
		jump(jeq, unix.SYS_CLONE, 0, 3),   // else past them, to allow
		stmt(ld, seccompArg0),
		jump(jset, unix.CLONE_NEWUSER, 0, 1), stmt(ret, eperm),
		stmt(ret, allow))
	fprog := unix.SockFprog{Len: uint16(len(prog)), Filter: &prog[0]}
	_, _, e := unix.Syscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, unix.SECCOMP_FILTER_FLAG_TSYNC,
		uintptr(unsafe.Pointer(&fprog)))
	runtime.KeepAlive(prog)
	if e != 0 {
		return e
	}
	return nil
}
