package shconf

import (
	"bufio"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"unsafe"

	"github.com/landlock-lsm/go-landlock/landlock"
	"golang.org/x/sys/unix"
	"kernel.org/pub/linux/libs/security/libcap/psx"
)

// Bounds of the evaluation child. Real dkms.conf files need a few MB and
// milliseconds; these are far above that and far below what would hurt
// the machine.
//
// Memory is bounded by RLIMIT_AS at the address space the child has when
// it is confined (the Go runtime reserves close to 2 GB of it at start)
// plus childMemLimit, so that a memory bomb makes an allocation fail and
// the child die at once. Faulting in memory is slow here (about 1.4 s of
// system time per GB in the child, several seconds of wall time on a
// loaded machine), so the bound is what ends a bomb well before the
// deadline. Under it the garbage collector keeps the heap below
// childGoLimit, so that garbage alone never reaches the bound.
const (
	childMemLimit  = 256 << 20 // address space beyond the child's own at confinement; each command gets the same in all
	childGoLimit   = 128 << 20
	childCPUSecs   = 600 // for all the files of one dkms run; each file has its own wall-clock deadline
	childExtraProc = 256 // tasks beyond those the machine runs already
)

// jail confines the current process before anything is evaluated. With
// namespaces (the parent started us in new mount, network, PID and IPC
// namespaces) every mount becomes read-only, nodev and nosuid, /dev
// becomes a tmpfs holding only the harmless devices, and /proc shows only
// this PID namespace. Landlock adds a read-only rule set over everything
// where the kernel has it. Then no_new_privs, a seccomp filter, locked
// securebits and empty capability sets make the confinement permanent for
// every command started later, and rlimits bound memory, CPU, processes
// and file size. It returns whether writes are blocked by the kernel, which
// is what allows external commands.
//
// What must hold on every thread is set once for all of them: each
// all-threads system call (psx) stops the Go runtime and signals every
// thread, which costs up to milliseconds on a loaded machine, so there are
// as few as possible (no_new_privs travels with seccomp's TSYNC).
func jail(mode jailMode) (writesBlocked bool, why string) {
	runtime.LockOSThread() // mount calls below act on this thread's namespace
	mounted := false
	if mode.Namespaces {
		if err := readOnlyMounts(mode.RemountEach); err != nil {
			why = "read-only mounts: " + err.Error()
		} else {
			mounted = true
		}
	}
	// This thread only: seccomp's TSYNC below sets no_new_privs on every
	// other thread along with the filter.
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		return false, "no_new_privs: " + err.Error()
	}
	landlocked := !mode.NoLandlock && restrictLandlock() == nil
	if err := installSeccomp(); err != nil {
		return false, "seccomp: " + err.Error()
	}
	if err := dropCapabilities(); err != nil {
		return false, "capabilities: " + err.Error()
	}
	setLimits()
	if !mounted && !landlocked {
		if why == "" {
			why = "no mount namespace and no Landlock"
		}
		return false, why
	}
	return true, ""
}

// readOnlyMounts makes this mount namespace private and read-only.
func readOnlyMounts(remountEach bool) error {
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return fmt.Errorf("private propagation: %w", err)
	}
	// One call for the whole tree, shadowed mounts included (Linux 5.12);
	// per-mount flags such as noexec and the atime ones stay as they are.
	attr := unix.MountAttr{Attr_set: unix.MOUNT_ATTR_RDONLY | unix.MOUNT_ATTR_NOSUID | unix.MOUNT_ATTR_NODEV}
	if remountEach || unix.MountSetattr(unix.AT_FDCWD, "/", unix.AT_RECURSIVE, &attr) != nil {
		if err := remountEachReadOnly(); err != nil {
			return err
		}
	}
	// Only null, zero, full, random and urandom in /dev: disks, ttys
	// and the rest of devtmpfs stay out of reach (device nodes are not
	// covered by a read-only mount).
	if err := unix.Mount("tmpfs", "/dev", "tmpfs", unix.MS_NOSUID|unix.MS_NOEXEC, "size=16k,mode=755"); err != nil {
		return fmt.Errorf("/dev: %w", err)
	}
	for _, d := range []struct {
		name         string
		major, minor uint32
	}{{"null", 1, 3}, {"zero", 1, 5}, {"full", 1, 7}, {"random", 1, 8}, {"urandom", 1, 9}} {
		// A node that cannot be made (device cgroup) is simply absent.
		_ = unix.Mknod("/dev/"+d.name, unix.S_IFCHR|0o666, int(unix.Mkdev(d.major, d.minor)))
	}
	for name, target := range map[string]string{"fd": "/proc/self/fd", "stdin": "/proc/self/fd/0",
		"stdout": "/proc/self/fd/1", "stderr": "/proc/self/fd/2"} {
		_ = os.Symlink(target, "/dev/"+name)
	}
	if err := unix.Mount("", "/dev", "", unix.MS_REMOUNT|unix.MS_BIND|unix.MS_RDONLY|unix.MS_NOSUID|unix.MS_NOEXEC, ""); err != nil {
		return fmt.Errorf("/dev read-only: %w", err)
	}
	// A proc of our own PID namespace: /proc/PID of processes outside
	// the jail is not there to be opened.
	if err := unix.Mount("proc", "/proc", "proc", unix.MS_RDONLY|unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, ""); err != nil {
		return fmt.Errorf("/proc: %w", err)
	}
	return nil
}

// remountEachReadOnly is the way of kernels without mount_setattr: one
// remount per line of mountinfo.
func remountEachReadOnly() error {
	mounts, err := mountPoints()
	if err != nil {
		return err
	}
	for _, m := range mounts {
		flags := uintptr(unix.MS_REMOUNT | unix.MS_BIND | unix.MS_RDONLY | unix.MS_NOSUID | unix.MS_NODEV)
		flags |= m.keep
		if err := unix.Mount("", m.path, "", flags, ""); err != nil {
			if st, serr := os.Stat(m.path); serr != nil || !st.IsDir() && !st.Mode().IsRegular() {
				continue // gone, or shadowed by a file: not reachable either
			}
			return fmt.Errorf("remounting %s: %w", m.path, err)
		}
	}
	return nil
}

type mountPoint struct {
	path string
	keep uintptr // per-mount flags to keep (noexec, atime)
}

func mountPoints() ([]mountPoint, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []mountPoint
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 6 {
			continue
		}
		m := mountPoint{path: unescapeMount(fields[4])}
		for _, o := range strings.Split(fields[5], ",") {
			switch o {
			case "noexec":
				m.keep |= unix.MS_NOEXEC
			case "noatime":
				m.keep |= unix.MS_NOATIME
			case "nodiratime":
				m.keep |= unix.MS_NODIRATIME
			case "relatime":
				m.keep |= unix.MS_RELATIME
			}
		}
		out = append(out, m)
	}
	return out, sc.Err()
}

// unescapeMount decodes mountinfo's octal escapes (\040 for a blank).
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// restrictLandlock allows reading and executing everything and writing
// nothing but /dev/null, denies TCP, and scopes signals and abstract
// sockets to the jail, as far as the running kernel supports. go-landlock
// builds the rule set for the kernel's ABI; it is enforced on every thread
// with one all-threads call, where go-landlock's Restrict makes two (the
// first for no_new_privs, which jail sets itself; until the capabilities
// are dropped, CAP_SYS_ADMIN allows the call without it).
func restrictLandlock() error {
	// BestEffort silently does nothing on a kernel without Landlock:
	// ask the kernel whether it is there at all.
	if v, err := landlockABI(); err != nil || v < 1 {
		return fmt.Errorf("landlock not available")
	}
	fd, flags, err := landlock.V6.BestEffort().NewRulesetFD(
		landlock.RODirs("/"),
		landlock.RWFiles("/dev/null").IgnoreIfMissing(),
	)
	if err != nil {
		return err
	}
	if fd < 0 {
		return fmt.Errorf("landlock: nothing to restrict")
	}
	defer unix.Close(fd)
	if _, _, e := psx.Syscall3(unix.SYS_LANDLOCK_RESTRICT_SELF, uintptr(fd), uintptr(flags), 0); e != 0 {
		return fmt.Errorf("landlock_restrict_self: %w", e)
	}
	return nil
}

func landlockABI() (int, error) {
	r, _, e := unix.Syscall(unix.SYS_LANDLOCK_CREATE_RULESET, 0, 0, 1 /* LANDLOCK_CREATE_RULESET_VERSION */)
	if e != 0 {
		return 0, e
	}
	return int(r), nil
}

func psxPrctl(option int, arg uintptr) error {
	if _, _, e := psx.Syscall6(unix.SYS_PRCTL, uintptr(option), arg, 0, 0, 0, 0); e != 0 {
		return e
	}
	return nil
}

// Securebits (linux/securebits.h), each with its lock bit.
const (
	secbitNoroot            = 1<<0 | 1<<1 // being root grants no capabilities at execve
	secbitKeepCapsLocked    = 1 << 5      // off, and locked so
	secbitNoCapAmbientRaise = 1<<6 | 1<<7
)

// dropCapabilities locks root out of capabilities and empties every
// capability set, on all threads: root without capabilities cannot
// remount, load modules, ptrace or open /proc/PID/root of the real dkms.
// Nothing gives them back: execve of any program, setuid or with file
// capabilities included, grants nothing under no_new_privs, and with
// SECBIT_NOROOT (locked) being root does not grant them either; the
// ambient set cannot be raised and the permitted set is empty. This
// stands in for emptying the capability bounding set, which only limits
// what execve grants and takes one all-threads call per capability (41).
func dropCapabilities() error {
	bits := uintptr(secbitNoroot | secbitKeepCapsLocked | secbitNoCapAmbientRaise)
	if err := psxPrctl(unix.PR_SET_SECUREBITS, bits); err != nil {
		return fmt.Errorf("securebits: %w", err)
	}
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	_, _, e := psx.Syscall3(unix.SYS_CAPSET, uintptr(unsafe.Pointer(&hdr)), uintptr(unsafe.Pointer(&data[0])), 0)
	runtime.KeepAlive(&hdr)
	runtime.KeepAlive(&data)
	if e != 0 {
		return e
	}
	return nil
}

// setLimits bounds the child and everything it starts. RLIMIT_NPROC
// counts all tasks of the user, so it is set above what runs now.
func setLimits() {
	set := func(res int, v uint64) { _ = unix.Setrlimit(res, &unix.Rlimit{Cur: v, Max: v}) }
	set(unix.RLIMIT_AS, addressSpace()+childMemLimit)
	set(unix.RLIMIT_CPU, childCPUSecs)
	set(unix.RLIMIT_FSIZE, 0)
	set(unix.RLIMIT_CORE, 0)
	set(unix.RLIMIT_NPROC, runningTasks()+childExtraProc)
	debug.SetMemoryLimit(childGoLimit)
}

// addressSpace is the size of this process's mappings (VmSize): the Go
// runtime reserves most of it at start, before any evaluation.
func addressSpace() uint64 {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 2 << 30
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return 2 << 30
	}
	pages, err := strconv.ParseUint(f[0], 10, 64)
	if err != nil {
		return 2 << 30
	}
	return pages * uint64(os.Getpagesize())
}

// runningTasks is the machine's task count from /proc/loadavg ("1/345").
func runningTasks() uint64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err == nil {
		f := strings.Fields(string(b))
		if len(f) >= 4 {
			if _, total, ok := strings.Cut(f[3], "/"); ok {
				if n, err := strconv.ParseUint(total, 10, 64); err == nil {
					return n
				}
			}
		}
	}
	return 4096
}

// endStragglers kills whatever a file left running (`cmd &`) before the
// next file is evaluated: as PID 1 of the jail's PID namespace, kill(-1)
// reaches every other process in it and nothing outside.
func endStragglers() {
	if os.Getpid() != 1 {
		return
	}
	_ = unix.Kill(-1, unix.SIGKILL)
	for {
		var ws unix.WaitStatus
		pid, err := unix.Wait4(-1, &ws, unix.WNOHANG, nil)
		if pid <= 0 || err != nil {
			return
		}
	}
}
