package crash

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"

	"github.com/dkms-go/dkms/internal/testenv"
)

// TestMain runs the tests as root in a private mount namespace, with a
// tmpfs for their machine roots and another over /var/lib/dkms, so that
// nothing they do reaches the host's trees (and the many small writes stay
// in memory).
func TestMain(m *testing.M) {
	if os.Geteuid() != 0 {
		os.Exit(m.Run()) // the tests skip
	}
	if os.Getenv("CRASH_WORK") == "" {
		unshare, err := exec.LookPath("unshare")
		if err != nil {
			fmt.Fprintln(os.Stderr, "crash: unshare (util-linux) is needed:", err)
			os.Exit(1)
		}
		work, err := os.MkdirTemp("", "dkms-crash-")
		if err != nil {
			fmt.Fprintln(os.Stderr, "crash:", err)
			os.Exit(1)
		}
		cmd := exec.Command(unshare, append([]string{"--mount", "--propagation", "private", "--", os.Args[0]}, os.Args[1:]...)...)
		cmd.Env = append(os.Environ(), "CRASH_WORK="+work)
		cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
		err = cmd.Run()
		os.Remove(work) // the tmpfs went with the namespace
		if ee, ok := err.(*exec.ExitError); ok {
			os.Exit(ee.ExitCode())
		} else if err != nil {
			fmt.Fprintln(os.Stderr, "crash:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	work := os.Getenv("CRASH_WORK")
	for _, d := range []string{work, "/var/lib/dkms"} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			fmt.Fprintln(os.Stderr, "crash:", err)
			os.Exit(1)
		}
		if err := syscall.Mount("tmpfs", d, "tmpfs", 0, "size=2g,mode=0755"); err != nil {
			fmt.Fprintln(os.Stderr, "crash: mounting a tmpfs on", d+":", err)
			os.Exit(1)
		}
	}
	os.Exit(m.Run())
}

var (
	setupOnce sync.Once
	binDir    string
	koCache   string
	setupErr  error
)

// setup builds dkms and dkms-autoinstall with the fault seam, and builds
// each harness module once for real (gcc against the Debian headers) into
// the module cache that build.sh then copies from.
func setup(t *testing.T) (bin, cache, kernel string) {
	t.Helper()
	testenv.RequireRoot(t)
	testenv.KernelBuildDir(t)
	testenv.RequireTools(t, "depmod", "unshare", "cp")
	kernel = testenv.DebianKernel(t)
	work := os.Getenv("CRASH_WORK")
	setupOnce.Do(func() {
		binDir, koCache = work+"/bin", work+"/ko"
		for _, c := range []string{"dkms", "dkms-autoinstall"} {
			cmd := exec.Command("go", "build", "-tags", "faultinject", "-o", binDir+"/"+c, "../../cmd/"+c)
			cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
			if out, err := cmd.CombinedOutput(); err != nil {
				setupErr = fmt.Errorf("building %s: %v\n%s", c, err, out)
				return
			}
		}
		dir := work + "/prebuild"
		w := NewWorld(t, dir, binDir, kernel)
		w.RealMake = true
		if setupErr = os.MkdirAll(koCache, 0o755); setupErr != nil {
			return
		}
		for _, m := range Modules {
			r := w.Run(w.Dkms, RunOpts{}, "build", m+"/1.0", "-k", kernel)
			if r.Code != 0 {
				log, _ := os.ReadFile(w.Root + "/var/lib/dkms/" + m + "/1.0/build/make.log")
				setupErr = fmt.Errorf("real build of %s: exit %d\n%s%s%s", m, r.Code, r.Stdout, r.Stderr, log)
				return
			}
			ko := w.Root + "/var/lib/dkms/" + m + "/1.0/" + kernel + "/" + machine() + "/module/" + m + ".ko"
			if out, err := exec.Command("cp", ko, koCache+"/").CombinedOutput(); err != nil {
				setupErr = fmt.Errorf("caching %s: %v %s", ko, err, out)
				return
			}
		}
		os.RemoveAll(dir)
	})
	if setupErr != nil {
		t.Fatal(setupErr)
	}
	return binDir, koCache, kernel
}

// newWorld is a World in a fresh directory of the work tmpfs, using the
// shared binaries and module cache.
func newWorld(t *testing.T, name string) *World {
	bin, cache, kernel := setup(t)
	dir := filepath.Join(os.Getenv("CRASH_WORK"), name)
	w := NewWorld(t, dir, bin, kernel)
	w.KoCache = cache
	w.RealMake = os.Getenv("CRASH_LONG") != ""
	t.Cleanup(func() { os.RemoveAll(dir) })
	return w
}
