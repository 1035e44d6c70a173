package main

import (
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/dkms-go/dkms/internal/testenv"
)

// notifySocket listens where systemd would (a unixgram socket named by
// NOTIFY_SOCKET) and returns what was received once the run is over.
func notifySocket(t *testing.T) (path string, collect func() []string) {
	t.Helper()
	dir, err := os.MkdirTemp("", "ntf") // sun_path is short: keep the name short
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	path = dir + "/notify"
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return path, func() []string {
		var msgs []string
		buf := make([]byte, 4096)
		for {
			conn.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
			n, err := conn.Read(buf)
			if err != nil {
				return msgs
			}
			msgs = append(msgs, string(buf[:n]))
		}
	}
}

// TestBootNotifyRealModules: the unit's sd_notify progress during a real
// autoinstall against the Debian headers, one module that builds and one
// that does not; the unit reports the failure in its exit status.
func TestBootNotifyRealModules(t *testing.T) {
	t.Parallel()
	testenv.RequireRoot(t)
	testenv.RequireTools(t, "make", "gcc")
	k := testenv.DebianKernel(t)
	m := newMachine(t, "")
	m.realKernel(k)
	m.realModule("mod-good", "")
	m.realModule("mod-broken", "this does not compile;\n")
	sock, collect := notifySocket(t)
	_, errOut, code := m.exec([]string{"NOTIFY_SOCKET=" + sock}, testenv.Binary(t, ".", "dkms-autoinstall"), "--boot", "-k", k, "-j", "1")
	msgs := collect()
	if code != 11 {
		t.Errorf("exit %d, want 11 (the unit shows the failure)\n%s", code, errOut)
	}
	// The status line names the first problem dkms doctor's checks found.
	want := []string{
		"STATUS=building mod-broken/1.0 for " + k + " (1/2)",
		"STATUS=building mod-good/1.0 for " + k + " (2/2)",
		"READY=1\nSTATUS=mod-broken/1.0 for kernel " + k + ": build-failed; see " + m.root + "/var/lib/dkms/mod-broken/1.0/build/make.log",
	}
	if got := strings.Join(msgs, "|"); !strings.HasPrefix(got, strings.Join(want, "|")) {
		t.Errorf("sd_notify messages:\n%q\nwant\n%q", msgs, want)
	}
	if !m.installed(k, "mod_good") && !m.installed(k, "mod-good") {
		t.Errorf("mod-good not installed\n%s", errOut)
	}
	if !strings.Contains(errOut, "error: module mod-broken/1.0 failed for kernel "+k+" (status 10); see <root>/var/lib/dkms/mod-broken/1.0/build/make.log") {
		t.Errorf("stderr:\n%s", errOut)
	}
	// The next boot has nothing left but the broken module.
	sock2, collect2 := notifySocket(t)
	m.exec([]string{"NOTIFY_SOCKET=" + sock2}, testenv.Binary(t, ".", "dkms-autoinstall"), "--boot", "-k", k)
	if got := collect2(); len(got) != 2 || got[0] != "STATUS=building mod-broken/1.0 for "+k+" (1/1)" {
		t.Errorf("second boot: %q", got)
	}
}

// TestBootLoadsForHardware: the unit, run for the running kernel, loads
// the new module that matches a device of the (fake) /sys through the
// modprobe it finds in PATH; a hook run for the same kernel does not.
func TestBootLoadsForHardware(t *testing.T) {
	t.Parallel()
	testenv.RequireRoot(t)
	testenv.RequireTools(t, "make", "gcc")
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		t.Fatal(err)
	}
	running := unix.ByteSliceToString(u.Release[:])
	for _, mode := range []string{"--boot", "--hook"} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			m := newMachine(t, "")
			m.fakeKernel(running)
			m.module("wlan", "MAKE[0]=\"make all\"\n", map[string]string{
				"Makefile": "all:\n\tgcc -c -o wlan.ko wlan.c\n",
				"wlan.c":   "__attribute__((section(\".modinfo\"), used)) static const char a[] = \"alias=pci:v000014E4d000043A0sv*sd*bc*sc*i*\";\n",
			})
			m.module("other", "MAKE[0]=\"make all\"\n", map[string]string{
				"Makefile": "all:\n\tgcc -c -o other.ko other.c\n",
				"other.c":  "__attribute__((section(\".modinfo\"), used)) static const char a[] = \"alias=usb:v1234p5678d*\";\n",
			})
			m.write("/sys/devices/pci0000:00/0000:00:1c.0/0000:02:00.0/modalias", "pci:v000014E4d000043A0sv0000106Bsd00000117bc02sc80i00\n")
			calls := m.root + "/modprobe.calls"
			m.write("/fakebin/modprobe", "#!/bin/sh\necho \"$*\" >> "+calls+"\n")
			args := []string{mode}
			if mode == "--hook" {
				args = []string{"--hook", "postinst", "-k", running}
			}
			extra := []string{"DKMS_SYSFS_ROOT=" + m.root, "PATH=" + m.root + "/fakebin:" + os.Getenv("PATH")}
			_, errOut, code := m.exec(extra, testenv.Binary(t, ".", "dkms-autoinstall"), args...)
			if code != 0 {
				t.Fatalf("exit %d\n%s", code, errOut)
			}
			got, _ := os.ReadFile(calls)
			want := "-d " + m.root + " wlan\n"
			if mode == "--hook" {
				want = ""
			}
			if string(got) != want {
				t.Errorf("modprobe calls %q, want %q\n%s", got, want, errOut)
			}
		})
	}
}

// TestBootNothingToDo: with every module installed the unit finishes at
// once: no output, no dkms.conf evaluation (the confs are broken now), no
// subprocess (make, modinfo, depmod and modprobe in PATH would say so).
func TestBootNothingToDo(t *testing.T) {
	t.Parallel()
	testenv.RequireRoot(t)
	testenv.RequireTools(t, "make")
	m := newMachine(t, "")
	m.fakeKernel(fk)
	for _, name := range []string{"one", "two", "three"} {
		m.fakeModule(name)
	}
	if _, errOut, code := m.exec(nil, testenv.Binary(t, ".", "dkms-autoinstall"), "--boot", "-k", fk); code != 0 {
		t.Fatalf("first boot: %d\n%s", code, errOut)
	}
	for _, name := range []string{"one", "two", "three"} {
		m.write("/usr/src/"+name+"-1.0/dkms.conf", "PACKAGE_NAME=$(\n")
	}
	mark := m.root + "/ran"
	for _, tool := range []string{"make", "modinfo", "depmod", "modprobe", "gcc", "sh", "uname"} {
		m.write("/fakebin/"+tool, "#!/bin/sh\necho "+tool+" >> "+mark+"\nexit 99\n")
	}
	sock, collect := notifySocket(t)
	start := time.Now()
	out, errOut, code := m.exec([]string{"PATH=" + m.root + "/fakebin", "NOTIFY_SOCKET=" + sock}, testenv.Binary(t, ".", "dkms-autoinstall"), "--boot", "-k", fk)
	took := time.Since(start)
	if code != 0 || out != "" || errOut != "" {
		t.Errorf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	if ran, err := os.ReadFile(mark); err == nil {
		t.Errorf("the nothing-to-do path ran: %s", ran)
	}
	if got := collect(); len(got) != 1 || got[0] != "READY=1\nSTATUS=DKMS modules are up to date" {
		t.Errorf("sd_notify: %q", got)
	}
	t.Logf("nothing-to-do boot run (process start included) took %v", took)
}

// TestUnitVerify: systemd accepts the unit. systemd-analyze checks that
// ExecStart exists, so the unit is verified pointing at the test binary.
func TestUnitVerify(t *testing.T) {
	t.Parallel()
	testenv.RequireTools(t, "systemd-analyze")
	unit, err := os.ReadFile(repo + "/systemd/dkms-autoinstall.service")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(unit), "ExecStart=/usr/sbin/dkms-autoinstall --boot\n") {
		t.Fatalf("unexpected ExecStart in\n%s", unit)
	}
	dir := t.TempDir()
	p := dir + "/dkms-autoinstall.service"
	if err := os.WriteFile(p, []byte(strings.ReplaceAll(string(unit), "/usr/sbin/dkms-autoinstall", testenv.Binary(t, ".", "dkms-autoinstall"))), 0o644); err != nil {
		t.Fatal(err)
	}
	// --man=no: the dkms(8) page is not installed where tests run.
	out, err := exec.Command("systemd-analyze", "verify", "--man=no", p).CombinedOutput()
	if err != nil || len(out) != 0 {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
	preset, err := os.ReadFile(repo + "/systemd/80-dkms.preset")
	if err != nil || string(preset) != "enable dkms-autoinstall.service\n" {
		t.Errorf("preset: %v %q", err, preset)
	}
}
