package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// addWithRPMLock adds foo/1.0 with --rpm_safe_upgrade and returns the PID
// the lock is named after: dkms's grandparent, which is our parent's parent
// since the tests run dkms in-process.
func addWithRPMLock(t *testing.T, e *testEnv) string {
	t.Helper()
	if _, errOut, code := e.run("add", "foo/1.0", "--rpm_safe_upgrade"); code != 0 {
		t.Fatal(errOut)
	}
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", os.Getppid()))
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(regexp.MustCompile(`(?m)^PPid:(.*)$`).FindStringSubmatch(string(status))[1])
}

// TestRPMSafeUpgrade (§7.11): add leaves a lock named after the PID of
// dkms's grandparent, with the module and that process's start time; a
// remove from the same process tree finds it, deletes it and cancels
// (exit 0, nothing removed); the next remove goes ahead.
func TestRPMSafeUpgrade(t *testing.T) {
	t.Parallel()
	e := fakeEnv(t, "", nil)
	pp := addWithRPMLock(t, e)
	locks, _ := filepath.Glob(e.root + "/tmp/dkms_rpm_safe_upgrade_lock.*")
	name := regexp.MustCompile(`^dkms_rpm_safe_upgrade_lock\.` + pp + `\.[A-Za-z0-9]{6}$`)
	if len(locks) != 1 || !name.MatchString(filepath.Base(locks[0])) {
		t.Fatalf("locks %v, want one dkms_rpm_safe_upgrade_lock.%s.XXXXXX", locks, pp)
	}
	if b, _ := os.ReadFile(locks[0]); !strings.HasPrefix(string(b), "foo-1.0\n") || strings.Count(string(b), "\n") != 2 {
		t.Errorf("lock content %q", b)
	}
	runSteps(t, e, []step{
		{[]string{"remove", "foo/1.0", "--all", "--rpm_safe_upgrade"}, 0, "",
			"Warning: Remove cancelled because --rpm_safe_upgrade scenario detected.\n"},
		{[]string{"status"}, 0, "foo/1.0: added\n", ""},
		{[]string{"remove", "foo/1.0", "--all", "--rpm_safe_upgrade"}, 0, "Deleting module foo/1.0 completely from the DKMS tree.\n", ""},
	})
	if locks, _ := filepath.Glob(e.root + "/tmp/dkms_rpm_safe_upgrade_lock.*"); len(locks) != 0 {
		t.Errorf("lock left: %v", locks)
	}
}

// TestRPMSafeUpgradeLockStartTime: the lock's second line is the start time
// of dkms's grandparent exactly as `ps -o lstart --no-headers` prints it
// (§7.11).
func TestRPMSafeUpgradeLockStartTime(t *testing.T) {
	t.Parallel()
	e := fakeEnv(t, "", nil)
	pp := addWithRPMLock(t, e)
	lstart, err := exec.Command("ps", "-o", "lstart", "--no-headers", "-p", pp).Output()
	if err != nil {
		t.Skipf("ps: %v", err)
	}
	locks, _ := filepath.Glob(e.root + "/tmp/dkms_rpm_safe_upgrade_lock." + pp + ".*")
	if len(locks) != 1 {
		t.Fatalf("locks %v", locks)
	}
	if b, _ := os.ReadFile(locks[0]); string(b) != "foo-1.0\n"+string(lstart) {
		t.Errorf("lock content %q, want %q", b, "foo-1.0\n"+string(lstart))
	}
}
