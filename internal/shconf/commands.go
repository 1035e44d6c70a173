package shconf

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
	"mvdan.cc/sh/v3/interp"
)

// The Go versions of the allow-listed commands follow GNU coreutils for the
// options dkms.conf files use; anything else is reported like coreutils
// reports an invalid option (status 1), never executed.

func usageError(hc interp.HandlerContext, cmd, arg string) error {
	fmt.Fprintf(hc.Stderr, "%s: invalid option -- '%s'\n", cmd, strings.TrimLeft(arg, "-"))
	return interp.ExitStatus(1)
}

func cmdUname(hc interp.HandlerContext, args []string) error {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		fmt.Fprintf(hc.Stderr, "uname: %v\n", err)
		return interp.ExitStatus(1)
	}
	str := func(b []byte) string { return string(bytes.TrimRight(b, "\x00")) }
	fields := []struct {
		short byte
		long  string
		val   string
	}{
		{'s', "--kernel-name", str(u.Sysname[:])},
		{'n', "--nodename", str(u.Nodename[:])},
		{'r', "--kernel-release", str(u.Release[:])},
		{'v', "--kernel-version", str(u.Version[:])},
		{'m', "--machine", str(u.Machine[:])},
		{'p', "--processor", "unknown"},
		{'i', "--hardware-platform", "unknown"},
		{'o', "--operating-system", "GNU/Linux"},
	}
	want := map[byte]bool{}
	all := false
	for _, a := range args[1:] {
		switch {
		case a == "-a" || a == "--all":
			all = true
		case strings.HasPrefix(a, "--"):
			found := false
			for _, f := range fields {
				if f.long == a {
					want[f.short], found = true, true
				}
			}
			if !found {
				return usageError(hc, "uname", a)
			}
		case strings.HasPrefix(a, "-") && len(a) > 1:
			for _, c := range []byte(a[1:]) {
				if c == 'a' {
					all = true
					continue
				}
				if !strings.ContainsRune("snrvmpio", rune(c)) {
					return usageError(hc, "uname", string(c))
				}
				want[c] = true
			}
		default:
			fmt.Fprintf(hc.Stderr, "uname: extra operand '%s'\n", a)
			return interp.ExitStatus(1)
		}
	}
	if len(want) == 0 && !all {
		want['s'] = true
	}
	var out []string
	for _, f := range fields {
		// -a leaves out -p and -i when they are unknown, like coreutils.
		if want[f.short] || (all && f.val != "unknown") {
			out = append(out, f.val)
		}
	}
	fmt.Fprintln(hc.Stdout, strings.Join(out, " "))
	return nil
}

func cmdNproc(hc interp.HandlerContext, args []string) error {
	all := len(args) > 1 && args[1] == "--all"
	fmt.Fprintln(hc.Stdout, Nproc(func(name string) string { return hc.Env.Get(name).String() }, all))
	return nil
}

// Nproc is what coreutils' nproc prints: the processors this process may
// run on (all of them with all set), unless OMP_NUM_THREADS names a positive
// count (the first of a comma-separated list), capped by OMP_THREAD_LIMIT.
// getenv reads the environment nproc would see.
func Nproc(getenv func(string) string, all bool) int {
	n := 0
	if !all {
		n = ompCount(getenv("OMP_NUM_THREADS"), true)
	}
	if n == 0 {
		var set unix.CPUSet
		if !all && unix.SchedGetaffinity(0, &set) == nil {
			n = set.Count()
		}
		if n == 0 {
			n = max(1, runtimeNumCPU())
		}
	}
	if !all {
		if limit := ompCount(getenv("OMP_THREAD_LIMIT"), false); limit > 0 {
			n = min(n, limit)
		}
	}
	return n
}

// ompCount parses an OpenMP thread count: blanks around it allowed, and
// with list set only the first element of a comma-separated list counts.
// 0 for anything else.
func ompCount(s string, list bool) int {
	s = strings.TrimSpace(s)
	if list {
		s, _, _ = strings.Cut(s, ",")
		s = strings.TrimSpace(s)
	}
	n, err := strconv.Atoi(s)
	if err != nil || n <= 0 || strings.HasPrefix(s, "+") {
		return 0
	}
	return n
}

// openInput opens a file operand relative to the shell's directory; "-" is stdin.
func openInput(hc interp.HandlerContext, name string) (io.ReadCloser, error) {
	if name == "-" {
		if hc.Stdin == nil {
			return io.NopCloser(strings.NewReader("")), nil
		}
		return io.NopCloser(hc.Stdin), nil
	}
	if !filepath.IsAbs(name) {
		name = filepath.Join(hc.Dir, name)
	}
	return os.Open(name)
}

func forEachInput(hc interp.HandlerContext, cmd string, files []string, fn func(io.Reader) error) error {
	if len(files) == 0 {
		files = []string{"-"}
	}
	status := 0
	for _, f := range files {
		r, err := openInput(hc, f)
		if err != nil {
			fmt.Fprintf(hc.Stderr, "%s: %s: No such file or directory\n", cmd, f)
			status = 1
			continue
		}
		err = fn(r)
		r.Close()
		if err != nil {
			fmt.Fprintf(hc.Stderr, "%s: %s: %v\n", cmd, f, err)
			status = 1
		}
	}
	if status != 0 {
		return interp.ExitStatus(status)
	}
	return nil
}

func cmdCat(hc interp.HandlerContext, args []string) error {
	var files []string
	for _, a := range args[1:] {
		if strings.HasPrefix(a, "-") && a != "-" && a != "--" {
			return usageError(hc, "cat", a)
		}
		if a != "--" {
			files = append(files, a)
		}
	}
	return forEachInput(hc, "cat", files, func(r io.Reader) error {
		_, err := io.Copy(hc.Stdout, r)
		return err
	})
}

func cmdBasename(hc interp.HandlerContext, args []string) error {
	ops := args[1:]
	multi, suffix := false, ""
	for len(ops) > 0 && strings.HasPrefix(ops[0], "-") && ops[0] != "-" {
		switch {
		case ops[0] == "--":
			ops = ops[1:]
			goto done
		case ops[0] == "-a" || ops[0] == "--multiple":
			multi = true
		case ops[0] == "-s" && len(ops) > 1:
			multi, suffix = true, ops[1]
			ops = ops[1:]
		case strings.HasPrefix(ops[0], "--suffix="):
			multi, suffix = true, strings.TrimPrefix(ops[0], "--suffix=")
		default:
			return usageError(hc, "basename", ops[0])
		}
		ops = ops[1:]
	}
done:
	if len(ops) == 0 {
		fmt.Fprintln(hc.Stderr, "basename: missing operand")
		return interp.ExitStatus(1)
	}
	if !multi {
		if len(ops) > 2 {
			fmt.Fprintf(hc.Stderr, "basename: extra operand '%s'\n", ops[2])
			return interp.ExitStatus(1)
		}
		if len(ops) == 2 {
			suffix = ops[1]
		}
		ops = ops[:1]
	}
	for _, o := range ops {
		fmt.Fprintln(hc.Stdout, basename(o, suffix))
	}
	return nil
}

func basename(s, suffix string) string {
	if s == "" {
		return ""
	}
	t := strings.TrimRight(s, "/")
	if t == "" {
		return "/"
	}
	if i := strings.LastIndexByte(t, '/'); i >= 0 {
		t = t[i+1:]
	}
	if suffix != "" && t != suffix && strings.HasSuffix(t, suffix) {
		t = strings.TrimSuffix(t, suffix)
	}
	return t
}

func cmdDirname(hc interp.HandlerContext, args []string) error {
	ops := args[1:]
	if len(ops) > 0 && ops[0] == "--" {
		ops = ops[1:]
	}
	if len(ops) == 0 {
		fmt.Fprintln(hc.Stderr, "dirname: missing operand")
		return interp.ExitStatus(1)
	}
	for _, o := range ops {
		if strings.HasPrefix(o, "-") && o != "-" {
			return usageError(hc, "dirname", o)
		}
		fmt.Fprintln(hc.Stdout, dirname(o))
	}
	return nil
}

func dirname(s string) string {
	t := strings.TrimRight(s, "/")
	if t == "" {
		if s == "" {
			return "."
		}
		return "/"
	}
	i := strings.LastIndexByte(t, '/')
	if i < 0 {
		return "."
	}
	t = strings.TrimRight(t[:i], "/")
	if t == "" {
		return "/"
	}
	return t
}

// lineCount parses head/tail's -n forms: "-n N", "-nN", "--lines=N", "-N".
// fromStart reports tail's "+N".
func lineCount(cmd string, args []string) (n int, fromStart bool, files []string, err error) {
	n = 10
	parse := func(v string) error {
		if strings.HasPrefix(v, "+") && cmd == "tail" {
			fromStart = true
			v = v[1:]
		}
		v = strings.TrimPrefix(v, "-")
		x, perr := strconv.Atoi(v)
		if perr != nil || x < 0 {
			return fmt.Errorf("invalid number of lines: '%s'", v)
		}
		n = x
		return nil
	}
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--":
			return n, fromStart, append(files, args[i+1:]...), nil
		case a == "-n" && i+1 < len(args):
			i++
			err = parse(args[i])
		case strings.HasPrefix(a, "--lines="):
			err = parse(strings.TrimPrefix(a, "--lines="))
		case strings.HasPrefix(a, "-n"):
			err = parse(a[2:])
		case len(a) > 1 && a[0] == '-' && a[1] >= '0' && a[1] <= '9':
			err = parse(a[1:])
		case strings.HasPrefix(a, "-") && a != "-":
			return 0, false, nil, fmt.Errorf("invalid option -- '%s'", strings.TrimLeft(a, "-"))
		default:
			files = append(files, a)
		}
		if err != nil {
			return 0, false, nil, err
		}
	}
	return n, fromStart, files, nil
}

func cmdHead(hc interp.HandlerContext, args []string) error {
	n, _, files, err := lineCount("head", args[1:])
	if err != nil {
		fmt.Fprintf(hc.Stderr, "head: %v\n", err)
		return interp.ExitStatus(1)
	}
	return forEachInput(hc, "head", files, func(r io.Reader) error {
		br := bufio.NewReader(r)
		for i := 0; i < n; i++ {
			line, err := br.ReadString('\n')
			io.WriteString(hc.Stdout, line)
			if err != nil {
				return nil
			}
		}
		return nil
	})
}

func cmdTail(hc interp.HandlerContext, args []string) error {
	n, fromStart, files, err := lineCount("tail", args[1:])
	if err != nil {
		fmt.Fprintf(hc.Stderr, "tail: %v\n", err)
		return interp.ExitStatus(1)
	}
	return forEachInput(hc, "tail", files, func(r io.Reader) error {
		data, err := io.ReadAll(r)
		if err != nil {
			return err
		}
		lines := strings.SplitAfter(string(data), "\n")
		if lines[len(lines)-1] == "" {
			lines = lines[:len(lines)-1]
		}
		start := max(0, len(lines)-n)
		if fromStart {
			start = min(len(lines), max(0, n-1))
		}
		io.WriteString(hc.Stdout, strings.Join(lines[start:], ""))
		return nil
	})
}

func runtimeNumCPU() int { return runtime.NumCPU() }
