package crash

import (
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// hangScript is the MAKE command of the hanging module: it leaves a
// background job (a grandchild of dkms that its shell does not wait for)
// and then hangs itself.
const hangScript = `#!/bin/sh
sleep 600 &
echo started > started
sleep 600
`

// TestNoOrphans ends dkms in the middle of a build that hangs, in each way
// it can end, and checks that every process the build started is gone
// within 3 s: SIGKILL of dkms (PR_SET_PDEATHSIG, the build's PID
// namespace), SIGTERM and SIGINT of dkms (its process group is killed),
// and dkms-autoinstall's build_timeout.
func TestNoOrphans(t *testing.T) {
	w := newWorld(t, "orphans")
	src := w.Root + "/usr/src/hang-1.0"
	w.mkdir(src)
	w.write(src+"/build.sh", hangScript)
	w.write(src+"/dkms.conf", "PACKAGE_NAME=hang\nPACKAGE_VERSION=1.0\nBUILT_MODULE_NAME[0]=hang\n"+
		"DEST_MODULE_LOCATION[0]=/updates\nAUTOINSTALL=yes\nMAKE[0]=\"sh ./build.sh\"\n")
	w.MustRun(0, w.Dkms, "add", "hang/1.0")
	started := w.Root + "/var/lib/dkms/hang/1.0/build/started"
	for _, sig := range []syscall.Signal{syscall.SIGKILL, syscall.SIGTERM, syscall.SIGINT} {
		os.Remove(started)
		cmd := exec.Command(w.Dkms, "build", "hang/1.0", "-k", w.K)
		cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "DKMS_SYSROOT=" + w.Root, "TMPDIR=" + w.Root + "/tmp", w.Marker}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		for deadline := time.Now().Add(30 * time.Second); !isFile(started); time.Sleep(20 * time.Millisecond) {
			if time.Now().After(deadline) {
				cmd.Process.Kill()
				t.Fatalf("%v: the build did not start", sig)
			}
		}
		if n := len(w.Survivors(0)); n < 3 {
			t.Fatalf("%v: %d processes of the build seen, want dkms, the shell and its two sleeps", sig, n)
		}
		cmd.Process.Signal(sig)
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			t.Errorf("%v: dkms did not end within 10 s", sig)
			<-done
		}
		if s := w.Survivors(3 * time.Second); len(s) > 0 {
			t.Errorf("%v: processes outlived dkms: %s", sig, strings.Join(s, "; "))
		}
	}
	// build_timeout: dkms-autoinstall gives up on the build and goes on.
	w.write(w.Root+"/etc/dkms/framework.conf.d/timeout.conf", "build_timeout=2\n")
	begin := time.Now()
	r := w.Run(w.Auto, RunOpts{}, "-k", w.K, "--strict")
	if r.Code == 0 || time.Since(begin) > 30*time.Second {
		t.Errorf("build_timeout: exit %d after %s\n%s%s", r.Code, time.Since(begin), r.Stdout, r.Stderr)
	}
	if s := w.Survivors(3 * time.Second); len(s) > 0 {
		t.Errorf("build_timeout: processes outlived the build: %s", strings.Join(s, "; "))
	}
}
