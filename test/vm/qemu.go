package vm

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// The guest reports its verdict by writing one of these bytes to the
// isa-debug-exit port; QEMU then exits with (value<<1)|1. Zero is avoided
// because it would give exit status 1, which QEMU also uses for its own errors.
const (
	DebugExitPort = 0xf4
	PassValue     = 0x10
	FailValue     = 0x11
)

// Verdict is how a VM run ended.
type Verdict int

const (
	// VerdictNone: QEMU exited without the guest reporting (guest powered
	// off, or QEMU failed to start).
	VerdictNone Verdict = iota
	VerdictPass
	VerdictFail
	// VerdictPanic: the guest kernel panicked (pvpanic) or QEMU failed.
	VerdictPanic
	VerdictTimeout
)

func (v Verdict) String() string {
	return [...]string{"no verdict", "pass", "fail", "panic", "timeout"}[v]
}

// Config describes one QEMU run.
type Config struct {
	QEMU     string   // binary; default qemu-system-x86_64
	Kernel   string   // uncompressed vmlinux (or bzImage)
	Initrd   string   // initramfs path; optional
	Cmdline  []string // kernel command line, after the console and panic settings
	Accel    Accel
	MemoryMB int // default 1024
	CPUs     int // default 1: under TCG one vCPU is faster than two
	// ShareRoot, when set, is exported read-only over virtio-9p with the tag
	// "hostroot".
	ShareRoot string
	// Disks are attached as virtio block devices, the first as /dev/vda.
	Disks   []Disk
	Timeout time.Duration // default 2 minutes
	// Console receives every console line as it arrives (e.g. a t.Logf
	// adapter); may be nil.
	Console func(line string)
	// Logf receives the harness's own messages: the accelerator decision and
	// the full QEMU command line for reproducing a failure by hand.
	Logf func(format string, args ...any)
}

// Disk is a block device image. Snapshot keeps the image unmodified (writes go
// to a temporary file QEMU discards); a qcow2 overlay instead keeps the writes
// across several boots of one test.
type Disk struct {
	Path     string
	Format   string // raw (default) or qcow2
	Snapshot bool
}

// Result is the outcome of a run.
type Result struct {
	Verdict  Verdict
	ExitCode int
	Console  []string // every console line, in order
	Duration time.Duration
}

// Contains reports whether some console line contains s.
func (r Result) Contains(s string) bool {
	for _, l := range r.Console {
		if strings.Contains(l, s) {
			return true
		}
	}
	return false
}

// Tail returns the last n console lines joined, for failure messages.
func (r Result) Tail(n int) string {
	lines := r.Console
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// Args returns the QEMU arguments for cfg (without the binary).
func (cfg Config) Args() []string {
	mem := cfg.MemoryMB
	if mem == 0 {
		mem = 1024
	}
	cpus := cfg.CPUs
	if cpus == 0 {
		cpus = 1
	}
	accel := cfg.Accel.Name
	if accel == "" {
		accel = "tcg"
	}
	cpu := "max"
	if accel == "kvm" {
		cpu = "host"
	}
	args := []string{
		"-machine", "pc,accel=" + accel,
		"-cpu", cpu,
		"-m", strconv.Itoa(mem),
		"-smp", strconv.Itoa(cpus),
		"-nodefaults", "-no-user-config", "-no-reboot",
		"-display", "none", "-monitor", "none",
		"-serial", "stdio",
		"-device", fmt.Sprintf("isa-debug-exit,iobase=%#x,iosize=0x04", DebugExitPort),
		// Without pvpanic a guest panic under -no-reboot ends QEMU with 0.
		"-device", "pvpanic",
		"-action", "panic=exit-failure",
		"-kernel", cfg.Kernel,
	}
	if cfg.Initrd != "" {
		args = append(args, "-initrd", cfg.Initrd)
	}
	if cfg.ShareRoot != "" {
		args = append(args,
			"-fsdev", "local,id=hostroot,path="+cfg.ShareRoot+",security_model=none,readonly=on,multidevs=remap",
			"-device", "virtio-9p-pci,fsdev=hostroot,mount_tag=hostroot")
	}
	for i, d := range cfg.Disks {
		format := d.Format
		if format == "" {
			format = "raw"
		}
		// cache=unsafe: no fsync on the host. A guest's flush still makes
		// QEMU write its own caches (qcow2 metadata included) to the file,
		// only not to stable storage, so the guest's sync before its verdict
		// is enough for a later boot of the same overlay, even though
		// isa-debug-exit ends QEMU without closing its block devices. Only a
		// host crash loses the writes, and a test's disk is worth nothing
		// after one.
		drive := fmt.Sprintf("file=%s,if=none,id=disk%d,format=%s,cache=unsafe", d.Path, i, format)
		if d.Snapshot {
			drive += ",snapshot=on"
		}
		args = append(args, "-drive", drive, "-device", fmt.Sprintf("virtio-blk-pci,drive=disk%d", i))
	}
	cmdline := append([]string{"console=ttyS0", "panic=-1"}, cfg.Cmdline...)
	args = append(args, "-append", strings.Join(cmdline, " "))
	return args
}

// CommandLine renders the full invocation as a shell-quoted string that can be
// pasted into a terminal.
func (cfg Config) CommandLine() string {
	q := cfg.QEMU
	if q == "" {
		q = "qemu-system-x86_64"
	}
	parts := []string{shellQuote(q)}
	for _, a := range cfg.Args() {
		parts = append(parts, shellQuote(a))
	}
	return strings.Join(parts, " ")
}

func shellQuote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_=/.,:+@%", r))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// Run boots the VM and waits for it to end, the deadline to pass or ctx to be
// cancelled. QEMU runs in its own process group, which is killed and reaped on
// every path, so no emulator outlives a test. A non-nil error means the run could
// not be judged (QEMU missing or failing to start); a guest failure is a Result
// with a verdict other than VerdictPass.
func Run(ctx context.Context, cfg Config) (Result, error) {
	logf := cfg.Logf
	if logf == nil {
		logf = func(string, ...any) {}
	}
	timeout := cfg.Timeout
	if timeout == 0 {
		timeout = 2 * time.Minute
	}
	qemu := cfg.QEMU
	if qemu == "" {
		qemu = "qemu-system-x86_64"
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	logf("vm: accelerator %s (%s)", cfg.Accel.Name, cfg.Accel.Reason)
	logf("vm: %s", cfg.CommandLine())

	cmd := exec.CommandContext(ctx, qemu, cfg.Args()...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	// Kill the whole group: QEMU may have helper threads or children, and a
	// plain Process.Kill would leave those running.
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return Result{}, fmt.Errorf("qemu stdout: %w", err)
	}
	cmd.Stderr = cmd.Stdout // one ordered stream: QEMU warnings between console lines

	start := time.Now()
	if err := cmd.Start(); err != nil {
		return Result{}, fmt.Errorf("starting qemu: %w", err)
	}
	var (
		mu    sync.Mutex
		lines []string
		done  = make(chan struct{})
	)
	go func() {
		defer close(done)
		collect(stdout, func(l string) {
			mu.Lock()
			lines = append(lines, l)
			mu.Unlock()
			if cfg.Console != nil {
				cfg.Console(l)
			}
		})
	}()
	<-done
	waitErr := cmd.Wait()
	// Belt and braces: the group may hold processes that survived QEMU.
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)

	res := Result{Console: lines, Duration: time.Since(start), ExitCode: cmd.ProcessState.ExitCode()}
	switch {
	case res.ExitCode == -1 && ctx.Err() != nil:
		res.Verdict = VerdictTimeout
		logf("vm: killed after %s: %v", res.Duration.Round(time.Millisecond), ctx.Err())
		return res, nil
	case res.ExitCode == PassValue<<1|1:
		res.Verdict = VerdictPass
	case res.ExitCode == FailValue<<1|1:
		res.Verdict = VerdictFail
	case res.ExitCode == 0:
		res.Verdict = VerdictNone
	default:
		res.Verdict = VerdictPanic
		var exitErr *exec.ExitError
		if !errors.As(waitErr, &exitErr) {
			return res, fmt.Errorf("qemu: %w", waitErr)
		}
	}
	logf("vm: %s after %s (qemu exit %d)", res.Verdict, res.Duration.Round(time.Millisecond), res.ExitCode)
	return res, nil
}

// collect splits the serial stream into lines, dropping the carriage returns
// the guest's tty adds.
func collect(r io.Reader, emit func(string)) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		emit(strings.TrimRight(sc.Text(), "\r"))
	}
	// Drain anything after a too-long line so QEMU never blocks on a full pipe.
	_, _ = io.Copy(io.Discard, r)
}
