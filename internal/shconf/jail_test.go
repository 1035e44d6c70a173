package shconf

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// TestJailConfinement looks at the jail from inside, with the mounts made
// read-only by one mount_setattr and, as on kernels without it, mount by
// mount: every mount read-only, no network but loopback, no capability in
// any set of the child's threads or of a program it runs, no_new_privs and
// the seccomp filter on every thread.
func TestJailConfinement(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	// Mounts below /dev are hidden under the jail's own /dev. /proc/1 is
	// the child itself, PID 1 of its namespace.
	body := `W=$(awk '$6 !~ /^ro/ && $5 !~ "^/dev/"' /proc/self/mountinfo | wc -l)
N=$(awk 'NR > 2 { print $1 }' /proc/net/dev)
C=$(grep CapEff /proc/self/status)
S=$(awk '/^Cap(Prm|Eff|Inh|Amb):/ { print $2 }' /proc/self/status | sort -u)
P=$(grep NoNewPrivs /proc/self/status)
T=$(ls /proc/1/task | wc -l)
A=$(awk '$1 == "NoNewPrivs:" && $2 == 1 { n++ } $1 == "Seccomp:" && $2 == 2 { s++ }
	$1 ~ /^Cap(Prm|Eff|Inh|Amb):$/ && $2 == "0000000000000000" { c++ } $1 == "Name:" { t++ }
	END { print n+0, s+0, c/4, t+0 }' /proc/1/task/*/status)
` + landlockProbe
	for _, remountEach := range []bool{false, true} {
		forceRemount.Store(remountEach)
		res, err := evalString(t, body, []string{"W", "N", "C", "S", "P", "T", "A", "L"}, Options{})
		forceRemount.Store(false)
		if err != nil {
			t.Fatal(err)
		}
		threads := res["T"].Index(0)
		want := map[string]string{"W": "0", "N": "lo:", "C": "CapEff: 0000000000000000", "S": "0000000000000000",
			"P": "NoNewPrivs: 1", "L": "denied"}
		// The Go runtime may start a thread between the listing of T and
		// the reading of A: A counts the threads it read itself.
		if f := strings.Fields(res["A"].Index(0)); len(f) != 4 || f[0] != f[3] || f[1] != f[3] || f[2] != f[3] || f[3] == "0" {
			t.Errorf("remount each %v: A = %q, want no_new_privs, seccomp and empty capability sets on each thread read", remountEach, res["A"].Index(0))
		}
		for k, v := range want {
			if got := res[k].Index(0); got != v {
				t.Errorf("remount each %v: %s = %q, want %q", remountEach, k, got, v)
			}
		}
		if threads == "0" || threads == "" {
			t.Errorf("remount each %v: no thread of the child seen (%q)", remountEach, threads)
		}
		if st := JailState(); st != "confined" {
			t.Errorf("remount each %v: jail %q", remountEach, st)
		}
	}
}

// landlockProbe sets L to whether /dev/zero opens for writing: read-only
// mounts do not stop that, Landlock does.
const landlockProbe = "L=$(echo a | sed 'w /dev/zero' >/dev/null 2>&1 && echo writable || echo denied)\n"

// TestMountsAloneHoldWrites: with Landlock left out, the read-only mounts
// alone stop the write attacks, made by mount_setattr or mount by mount.
func TestMountsAloneHoldWrites(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	defer forceNoLL.Store(false)
	defer forceRemount.Store(false)
	for _, remountEach := range []bool{false, true} {
		forceNoLL.Store(true)
		forceRemount.Store(remountEach)
		for _, f := range []string{"sed-in-pl.conf", "sort-outp.conf", "awk-system.conf", "find-delete.conf",
			"framework-rewrite.conf", "sort-compress-prog.conf"} {
			writeAttackHeld(t, newAttackEnv(t), f, nil)
		}
		// No Landlock really: a device node (not covered by a read-only
		// mount) can be opened for writing, which Landlock denies.
		res, err := evalString(t, landlockProbe, []string{"L"}, Options{})
		if err != nil || res["L"].Index(0) != "writable" {
			t.Errorf("remount each %v: /dev/zero %v %v", remountEach, res["L"], err)
		}
	}
}

// capsHelperEnv makes the test binary a helper that confines itself
// partly (the words of its value: nnp, noroot, capset) and then runs its
// arguments as a program, for TestCapabilityLock.
const capsHelperEnv = "DKMS_SHCONF_TEST_CAPS"

func init() {
	mode := os.Getenv(capsHelperEnv)
	if mode == "" {
		return
	}
	runtime.LockOSThread()
	for _, w := range strings.Fields(mode) {
		var err error
		switch w {
		case "nnp":
			err = psxPrctl(unix.PR_SET_NO_NEW_PRIVS, 1)
		case "noroot":
			err = dropCapabilities()
		case "capset":
			hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
			var data [2]unix.CapUserData
			err = unix.Capset(&hdr, &data[0])
		}
		if err != nil {
			os.Stderr.WriteString(w + ": " + err.Error() + "\n")
			os.Exit(2)
		}
	}
	cmd := exec.Command(os.Args[1], os.Args[2:]...)
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	if err := cmd.Run(); err != nil {
		os.Stderr.WriteString(err.Error() + "\n")
		os.Exit(3)
	}
	os.Exit(0)
}

// TestCapabilityLock proves what keeps a program run from the jail from
// getting capabilities back, since the bounding set is left as it is:
// being root gives none with the securebits of dropCapabilities, and a
// program with file capabilities gives none under no_new_privs. The rows
// without the mechanism show that each attempt would succeed otherwise.
func TestCapabilityLock(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	grep, err := exec.LookPath("grep")
	if err != nil {
		t.Skip("no grep")
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	// A copy of grep with a file capability (cap_net_raw, bit 13), as
	// ping has one.
	fcap := ""
	if setcap, err := exec.LookPath("setcap"); err == nil {
		fcap = filepath.Join(t.TempDir(), "grep-fcap")
		data, err := os.ReadFile(grep)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(fcap, data, 0o755); err != nil {
			t.Fatal(err)
		}
		if out, err := exec.Command(setcap, "cap_net_raw+ep", fcap).CombinedOutput(); err != nil {
			t.Logf("setcap: %v %s", err, out)
			fcap = ""
		}
	}
	const none = "0000000000000000"
	for _, tt := range []struct {
		mode, prog string
		gains      bool // the program's permitted set is not empty
	}{
		{"capset", grep, true},      // root regains every capability at execve
		{"noroot", grep, false},     // ... not with SECBIT_NOROOT
		{"nnp capset", grep, false}, // ... nor under no_new_privs
		{"noroot", fcap, true},      // a file capability is granted to root without NOROOT's help
		{"nnp noroot", fcap, false}, // ... not under no_new_privs
		{"nnp capset", fcap, false}, // ... whatever the securebits
		{"capset", fcap, true},
	} {
		if tt.prog == "" {
			t.Logf("%s: no setcap, row skipped", tt.mode)
			continue
		}
		cmd := exec.Command(self, tt.prog, "^CapPrm:", "/proc/self/status")
		cmd.Env = append(os.Environ(), capsHelperEnv+"="+tt.mode)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%s %s: %v %s", tt.mode, tt.prog, err, out)
		}
		fields := strings.Fields(string(out))
		if len(fields) != 2 {
			t.Fatalf("%s %s: %q", tt.mode, tt.prog, out)
		}
		if gains := fields[1] != none; gains != tt.gains {
			t.Errorf("%s, running %s: CapPrm %s, want gains=%v", tt.mode, filepath.Base(tt.prog), fields[1], tt.gains)
		}
	}
}

// TestPrestart: the child Prestart starts is confined by the time the
// first evaluation comes, and serves it: no second child is started.
func TestPrestart(t *testing.T) {
	stopServer()
	Prestart()
	lockServer() // waits for the start under way
	srv := current
	unlockServer()
	if srv == nil || !srv.jailed {
		t.Fatalf("no confined child after Prestart: %+v", srv)
	}
	if st := JailState(); st != "confined" && os.Geteuid() == 0 {
		t.Errorf("jail %q", st)
	}
	res, err := evalString(t, "X=$(uname -r)\n", []string{"X"}, Options{})
	if err != nil || res["X"].Index(0) == "" {
		t.Fatalf("evaluation after Prestart: %v %v", res, err)
	}
	lockServer()
	same := current == srv
	unlockServer()
	if !same {
		t.Error("the evaluation started another child instead of using the prestarted one")
	}
}
