package crash

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// World is one machine root on which the harness runs dkms: the trees of
// framework.conf are inside it, kernel K's headers are the installed
// Debian ones, K2 is a second kernel name with the same headers.
type World struct {
	T        testing.TB
	Dir      string // holds Root, the snapshots, the binaries' logs
	Root     string
	K, K2    string
	Dkms     string // the dkms binary built with -tags faultinject
	Auto     string // dkms-autoinstall, likewise
	KoCache  string // the modules built for real, reused by build.sh
	Marker   string // CRASH_HARNESS=<id> in every process the harness starts
	RealMake bool   // build every time (CRASH_LONG), not from KoCache
}

// Modules are the harness's modules, copies of one tiny real module.
var Modules = []string{"crash_a", "crash_b", "crash_c"}

const moduleC = `// SPDX-License-Identifier: GPL-2.0
/* A module of the dkms crash harness: it does nothing. */
#include <linux/init.h>
#include <linux/module.h>

static int __init NAME_init(void) { return 0; }
static void __exit NAME_exit(void) { }
module_init(NAME_init);
module_exit(NAME_exit);
MODULE_LICENSE("GPL");
MODULE_VERSION("1.0");
`

// buildScript is the MAKE command of the harness's modules: with a real
// build of the module in CRASH_KO_CACHE it copies that, else it runs
// kbuild against the kernel's headers.
const buildScript = `#!/bin/sh
set -e
if [ -n "${CRASH_KO_CACHE:-}" ] && [ -f "$CRASH_KO_CACHE/NAME.ko" ]; then
	cp "$CRASH_KO_CACHE/NAME.ko" NAME.ko
else
	make -C "$1" M="$PWD" modules
fi
`

// NewWorld makes the root under dir and builds the binaries into bin.
func NewWorld(t testing.TB, dir, bin, kernel string) *World {
	w := &World{T: t, Dir: dir, Root: dir + "/root", K: kernel, K2: "6.1.0-999-crash",
		Dkms: bin + "/dkms", Auto: bin + "/dkms-autoinstall", KoCache: dir + "/ko",
		Marker: "CRASH_HARNESS=" + strconv.Itoa(os.Getpid()) + "-" + filepath.Base(dir)}
	r := w.Root
	for _, d := range []string{"/etc/dkms/framework.conf.d", "/var/lib/dkms", "/usr/src", "/tmp"} {
		w.mkdir(r + d)
	}
	w.write(r+"/etc/os-release", "ID=debian\nNAME=\"Debian GNU/Linux\"\n")
	w.write(r+"/etc/dkms/framework.conf", "dkms_tree="+r+"/var/lib/dkms\nsource_tree="+r+"/usr/src\n"+
		"install_tree="+r+"/lib/modules\ntmp_location="+r+"/tmp\n")
	headers, err := filepath.EvalSymlinks("/lib/modules/" + kernel + "/build")
	if err != nil {
		t.Skip("no headers for " + kernel)
	}
	intree, _ := filepath.Glob("/lib/modules/" + kernel + "/kernel/lib/crc8.ko*")
	if len(intree) == 0 {
		t.Skip("no crc8 module in /lib/modules/" + kernel)
	}
	for _, k := range []string{w.K, w.K2} {
		kd := r + "/lib/modules/" + k
		w.mkdir(kd + "/kernel/lib")
		if err := os.Symlink(headers, kd+"/build"); err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(intree[0])
		if err != nil {
			t.Fatal(err)
		}
		w.write(kd+"/kernel/lib/"+filepath.Base(intree[0]), string(b))
		if out, err := exec.Command("depmod", "-b", r, "-a", k).CombinedOutput(); err != nil {
			t.Fatalf("depmod: %v %s", err, out)
		}
	}
	for _, m := range Modules {
		src := r + "/usr/src/" + m + "-1.0"
		w.mkdir(src)
		w.write(src+"/"+m+".c", strings.ReplaceAll(moduleC, "NAME", m))
		w.write(src+"/Makefile", "obj-m := "+m+".o\n")
		w.write(src+"/build.sh", strings.ReplaceAll(buildScript, "NAME", m))
		w.write(src+"/dkms.conf", "PACKAGE_NAME=\""+m+"\"\nPACKAGE_VERSION=\"1.0\"\nBUILT_MODULE_NAME[0]=\""+m+"\"\n"+
			"DEST_MODULE_LOCATION[0]=\"/updates\"\nAUTOINSTALL=\"yes\"\nMAKE[0]=\"sh ./build.sh ${kernel_source_dir}\"\n")
	}
	w.mkdir(w.KoCache)
	// One signing key for every run: a run that made its own would sign
	// the modules differently each time.
	if r := w.Run(w.Dkms, RunOpts{}, "generate_mok"); r.Code != 0 {
		t.Fatalf("generate_mok: %d %s%s", r.Code, r.Stdout, r.Stderr)
	}
	return w
}

func (w *World) mkdir(p string) {
	if err := os.MkdirAll(p, 0o755); err != nil {
		w.T.Fatal(err)
	}
}

func (w *World) write(p, s string) {
	if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
		w.T.Fatal(err)
	}
}

// Result is what one run of dkms did.
type Result struct {
	Code           int // -1: killed by a signal
	Signal         syscall.Signal
	Stdout, Stderr string
	Start, End     time.Time
	Pid            int
}

// RunOpts tune one run.
type RunOpts struct {
	FaultAt  int    // kill at this fault point (0: never)
	FaultLog string // log every fault point here
	LockLog  string // log the pid and LockTag once the tree lock is held
	LockTag  string
}

// Run runs prog (w.Dkms or w.Auto) with args.
func (w *World) Run(prog string, o RunOpts, args ...string) Result {
	cmd := exec.Command(prog, args...)
	env := []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL=C",
		"DKMS_SYSROOT=" + w.Root, "TMPDIR=" + w.Root + "/tmp", w.Marker}
	if !w.RealMake {
		env = append(env, "CRASH_KO_CACHE="+w.KoCache)
	}
	if o.FaultAt > 0 {
		env = append(env, "DKMS_FAULT_AT="+strconv.Itoa(o.FaultAt))
	}
	if o.FaultLog != "" {
		env = append(env, "DKMS_FAULT_LOG="+o.FaultLog)
	}
	if o.LockLog != "" {
		env = append(env, "DKMS_LOCK_LOG="+o.LockLog, "DKMS_LOCK_TAG="+o.LockTag)
	}
	cmd.Env = env
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	r := Result{Start: time.Now()}
	err := cmd.Run()
	r.End = time.Now()
	if cmd.Process != nil {
		r.Pid = cmd.Process.Pid
	}
	r.Stdout, r.Stderr = out.String(), errb.String()
	if ee, ok := err.(*exec.ExitError); ok {
		if st, ok := ee.Sys().(syscall.WaitStatus); ok && st.Signaled() {
			r.Code, r.Signal = -1, st.Signal()
		} else {
			r.Code = ee.ExitCode()
		}
	} else if err != nil {
		w.T.Fatalf("running %s: %v", prog, err)
	}
	return r
}

// MustRun runs dkms and fails the test unless it exits with want.
func (w *World) MustRun(want int, prog string, args ...string) Result {
	w.T.Helper()
	r := w.Run(prog, RunOpts{}, args...)
	if r.Code != want {
		w.T.Fatalf("%s %v: exit %d, want %d\n%s%s", filepath.Base(prog), args, r.Code, want, r.Stdout, r.Stderr)
	}
	return r
}

// Survivors lists the processes still running that the harness started
// (they carry w.Marker in their environment), waiting up to wait for them
// to end.
func (w *World) Survivors(wait time.Duration) []string {
	deadline := time.Now().Add(wait)
	for {
		var found []string
		ents, _ := os.ReadDir("/proc")
		for _, de := range ents {
			pid, err := strconv.Atoi(de.Name())
			if err != nil || pid == os.Getpid() {
				continue
			}
			env, err := os.ReadFile("/proc/" + de.Name() + "/environ")
			if err != nil || !bytes.Contains(env, []byte(w.Marker+"\x00")) {
				continue
			}
			stat, _ := os.ReadFile("/proc/" + de.Name() + "/stat")
			if f := strings.Fields(string(stat)); len(f) > 2 && f[2] == "Z" {
				continue // ended, not yet reaped by its parent
			}
			cmdline, _ := os.ReadFile("/proc/" + de.Name() + "/cmdline")
			found = append(found, de.Name()+" "+strings.ReplaceAll(string(cmdline), "\x00", " "))
		}
		if len(found) == 0 || time.Now().After(deadline) {
			return found
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Snapshot copies the root's changing parts to a snapshot named name.
func (w *World) Snapshot(name string) {
	w.T.Helper()
	dst := w.Dir + "/snap/" + name
	w.mkdir(dst)
	for _, d := range []string{"var", "usr", "lib", "tmp"} {
		if out, err := exec.Command("cp", "-a", w.Root+"/"+d, dst+"/").CombinedOutput(); err != nil {
			w.T.Fatalf("snapshot: %v %s", err, out)
		}
	}
}

// Restore puts snapshot name back in place of the root's changing parts.
func (w *World) Restore(name string) {
	w.T.Helper()
	src := w.Dir + "/snap/" + name
	for _, d := range []string{"var", "usr", "lib", "tmp"} {
		if err := os.RemoveAll(w.Root + "/" + d); err != nil {
			w.T.Fatal(err)
		}
		if out, err := exec.Command("cp", "-a", src+"/"+d, w.Root+"/").CombinedOutput(); err != nil {
			w.T.Fatalf("restore: %v %s", err, out)
		}
	}
}

// Fingerprint describes the state of the root as far as it matters: the
// status lines, every file of the kernels' module directories (module
// files with their content) but the modules.* indexes, the dependency
// lines of modules.dep, and the names in the DKMS and source trees but the
// lock, the status cache, build logs and the build directory (scratch
// space that each build empties first).
func (w *World) Fingerprint() string {
	var b strings.Builder
	st := w.Run(w.Dkms, RunOpts{}, "status")
	lines := strings.Split(strings.TrimSpace(st.Stdout), "\n")
	sort.Strings(lines)
	fmt.Fprintf(&b, "status %d:\n%s\n%s", st.Code, strings.Join(lines, "\n"), st.Stderr)
	for _, k := range []string{w.K, w.K2} {
		kd := w.Root + "/lib/modules/" + k
		filepath.WalkDir(kd, func(p string, de fs.DirEntry, err error) error {
			if err != nil {
				fmt.Fprintf(&b, "walk error %v\n", err)
				return nil
			}
			rel := strings.TrimPrefix(p, w.Root)
			if de.IsDir() || rel == "/lib/modules/"+k+"/build" || strings.HasPrefix(de.Name(), "modules.") {
				return nil
			}
			data, _ := os.ReadFile(p)
			fmt.Fprintf(&b, "%s %x\n", rel, sha256.Sum256(data))
			return nil
		})
		dep, _ := os.ReadFile(kd + "/modules.dep")
		deps := strings.Split(strings.TrimSpace(string(dep)), "\n")
		sort.Strings(deps)
		fmt.Fprintf(&b, "modules.dep %s:\n%s\n", k, strings.Join(deps, "\n"))
	}
	for _, tree := range []string{"/var/lib/dkms", "/usr/src"} {
		filepath.WalkDir(w.Root+tree, func(p string, de fs.DirEntry, err error) error {
			if err != nil {
				return nil
			}
			n := de.Name()
			if n == ".dkms.lock" || strings.HasPrefix(n, ".status-cache") || strings.HasSuffix(p, "/log/make.log") {
				return nil
			}
			if rel := strings.TrimPrefix(p, w.Root+tree+"/"); tree == "/var/lib/dkms" && de.IsDir() &&
				n == "build" && strings.Count(rel, "/") == 2 {
				return filepath.SkipDir // <m>/<v>/build: a build's scratch space
			}
			fmt.Fprintf(&b, "%s\n", strings.TrimPrefix(p, w.Root))
			return nil
		})
	}
	return b.String()
}

// machine is uname -m.
func machine() string {
	var u syscall.Utsname
	if err := syscall.Uname(&u); err != nil {
		return "x86_64"
	}
	b := make([]byte, 0, len(u.Machine))
	for _, c := range u.Machine {
		if c == 0 {
			break
		}
		b = append(b, byte(c))
	}
	return string(b)
}
