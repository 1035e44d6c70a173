package hook

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/dkms-go/dkms/internal/testenv"
)

// TestRunPolicy: which exit status each caller gets when a module fails,
// and that the failure names the module and its make.log.
func TestRunPolicy(t *testing.T) {
	t.Parallel()
	testenv.RequireRoot(t)
	testenv.RequireTools(t, "make")
	cases := []struct {
		name      string
		framework string
		o         Options
		want      int
	}{
		{"postinst hook exits 0", "", Options{Hook: "postinst"}, 0},
		{"kernel-install exits 0", "", Options{Hook: "kernel-install"}, 0},
		{"--strict", "", Options{Hook: "postinst", Strict: true}, ExitFailed},
		{"autoinstall_strict=yes", "autoinstall_strict=yes\n", Options{Hook: "postinst"}, ExitFailed},
		{"autoinstall_strict=no", "autoinstall_strict=no\n", Options{Hook: "postinst"}, 0},
		{"autoinstall_strict empty", "autoinstall_strict=\n", Options{Hook: "postinst"}, 0},
		{"boot unit reports failure", "", Options{Boot: true}, ExitFailed},
		{"command line", "", Options{}, 0},
		{"parallel", "", Options{Hook: "postinst", Jobs: 3}, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			s := newSystem(t, c.framework)
			s.fakeModule("good")
			s.brokenModule("bad")
			c.o.Kernels = []string{fk}
			r := s.run(c.o, nil)
			if r.code != c.want {
				t.Fatalf("exit %d, want %d\n%s%s%s", r.code, c.want, r.out, r.err, r.messages())
			}
			want := "error: module bad/1.0 failed for kernel " + fk + " (status 10); see " + s.dkms + "/bad/1.0/build/make.log\n"
			if !strings.Contains(r.messages(), want) {
				t.Errorf("log lacks %q:\n%s", want, r.messages())
			}
			if _, err := os.Stat(s.inst + "/" + fk + "/updates/dkms/good.ko"); err != nil {
				t.Errorf("the good module was not installed despite the bad one: %v", err)
			}
		})
	}
}

// TestRunNoHeaders: a kernel image installed without its headers is
// skipped with upstream's message, not a failure (even in strict mode).
func TestRunNoHeaders(t *testing.T) {
	t.Parallel()
	s, r := postinstWithoutHeaders(t, "autoinstall_strict=yes\n", nil)
	s.wantLog(r, noHeadersSkipped(s.noHeaders))
}

// TestRunFields: every log entry of an autoinstall carries the journal
// fields that apply to it, so `journalctl MODULE=x` works.
func TestRunFields(t *testing.T) {
	t.Parallel()
	s := buildingSystem(t, []string{"good"}, []string{"bad"})
	r := s.run(Options{Boot: true, Kernels: []string{fk}}, nil)
	if len(r.entries) != 4 {
		t.Fatalf("want 4 entries (2 starts, 2 outcomes), got:\n%s", r.messages())
	}
	phases := map[string]int{}
	for _, en := range r.entries {
		for _, f := range []string{"MODULE", "VERSION", "KERNEL", "PHASE"} {
			if v, ok := en.Data[f].(string); !ok || v == "" {
				t.Errorf("entry %q has no %s field: %v", en.Message, f, en.Data)
			}
		}
		if en.Data["KERNEL"] != fk || en.Data["VERSION"] != "1.0" {
			t.Errorf("entry %q: fields %v", en.Message, en.Data)
		}
		if !strings.Contains(en.Message, en.Data["MODULE"].(string)+"/1.0") {
			t.Errorf("entry %q is not about its MODULE field %v", en.Message, en.Data["MODULE"])
		}
		phases[en.Data["PHASE"].(string)]++
	}
	if phases["build"] != 3 || phases["install"] != 1 {
		t.Errorf("phases %v, want 3 build (2 starts, 1 failure) and 1 install", phases)
	}
	for _, en := range r.entries {
		if en.Data["MODULE"] == "bad" && en.Level == logrus.ErrorLevel {
			return
		}
	}
	t.Errorf("no error entry for the failing module:\n%s", r.messages())
}

// TestRunNotify: the boot unit's sd_notify messages, in order.
func TestRunNotify(t *testing.T) {
	t.Parallel()
	testenv.RequireRoot(t)
	testenv.RequireTools(t, "make")
	cases := []struct {
		name    string
		modules []string
		broken  bool
		want    []string
	}{
		{"two modules", []string{"aaa", "bbb"}, false, []string{
			"STATUS=building aaa/1.0 for " + fk + " (1/2)",
			"STATUS=building bbb/1.0 for " + fk + " (2/2)",
			"READY=1\nSTATUS=DKMS modules are up to date"}},
		{"a failure", []string{"aaa"}, true, []string{
			"STATUS=building aaa/1.0 for " + fk + " (1/2)",
			"STATUS=building zzz/1.0 for " + fk + " (2/2)",
			"READY=1\nSTATUS=some DKMS modules failed; see the journal"}},
		{"nothing to do", nil, false, []string{"READY=1\nSTATUS=DKMS modules are up to date"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			s := newSystem(t, "")
			for _, m := range c.modules {
				s.fakeModule(m)
			}
			if c.broken {
				s.brokenModule("zzz")
			}
			r := s.run(Options{Boot: true, Kernels: []string{fk}}, nil)
			if strings.Join(r.notes, "|") != strings.Join(c.want, "|") {
				t.Errorf("notifications:\n%q\nwant\n%q", r.notes, c.want)
			}
			// Hooks never notify: they are not the unit's main process.
			r = s.run(Options{Hook: "postinst", Kernels: []string{fk}}, nil)
			if len(r.notes) != 0 {
				t.Errorf("hook mode notified %q", r.notes)
			}
		})
	}
}

// TestRunFastPath: with everything installed, a boot run logs nothing,
// prints nothing and does not even read the modules' dkms.conf (made
// unreadable here), which is what keeps it at a few milliseconds.
func TestRunFastPath(t *testing.T) {
	t.Parallel()
	s := buildingSystem(t, []string{"good", "other"}, nil)
	if r := s.run(Options{Boot: true, Kernels: []string{fk}}, nil); r.code != 0 {
		t.Fatalf("first run: %d\n%s%s", r.code, r.out, r.err)
	}
	for _, m := range []string{"good", "other"} {
		s.write("/usr/src/"+m+"-1.0/dkms.conf", "PACKAGE_NAME=$(\n")
		// A build would run this Makefile; it leaves a mark.
		s.write("/usr/src/"+m+"-1.0/Makefile", "all:\n\ttouch "+s.root+"/built-again\n")
	}
	start := time.Now()
	r := s.run(Options{Boot: true, Kernels: []string{fk}}, nil)
	took := time.Since(start)
	if r.code != 0 || r.out != "" || r.err != "" || len(r.entries) != 0 {
		t.Errorf("second run: exit %d\nstdout:\n%s\nstderr:\n%s\nlog:\n%s", r.code, r.out, r.err, r.messages())
	}
	if len(r.notes) != 1 || !strings.HasPrefix(r.notes[0], "READY=1") {
		t.Errorf("notifications %q", r.notes)
	}
	if _, err := os.Stat(s.root + "/built-again"); err == nil {
		t.Error("the fast path ran a build")
	}
	t.Logf("nothing-to-do run took %v", took)
}

// TestRunTimeout: build_timeout kills a hung build and says so.
func TestRunTimeout(t *testing.T) {
	t.Parallel()
	testenv.RequireRoot(t)
	testenv.RequireTools(t, "make", "sleep")
	s := newSystem(t, "build_timeout=1\n")
	s.module("slow", "all:\n\tsleep 60\n", []string{"slow"}, nil)
	s.fakeModule("quick")
	start := time.Now()
	r := s.run(Options{Hook: "postinst", Kernels: []string{fk}}, nil)
	if took := time.Since(start); took > 30*time.Second {
		t.Errorf("the hung build held the run for %v", took)
	}
	want := "error: module slow/1.0 failed for kernel " + fk + " (timed out after 1s); see " + s.dkms + "/slow/1.0/build/make.log\n"
	if r.code != 0 || !strings.Contains(r.messages(), want) {
		t.Errorf("exit %d, log:\n%s\nwant line %q", r.code, r.messages(), want)
	}
	if _, err := os.Stat(s.inst + "/" + fk + "/updates/dkms/quick.ko"); err != nil {
		t.Errorf("the other module was not installed: %v", err)
	}
}

// TestRunRemove: prerm removes every module of the kernel, preinst the
// AUTOINSTALL ones; both leave nothing of the kernel in the dkms tree.
func TestRunRemove(t *testing.T) {
	t.Parallel()
	testenv.RequireRoot(t)
	testenv.RequireTools(t, "make")
	for _, o := range []Options{{Hook: "prerm", Remove: true}, {Hook: "preinst", Preinst: true}} {
		t.Run(o.Hook, func(t *testing.T) {
			t.Parallel()
			s := newSystem(t, "")
			s.fakeModule("good")
			if r := s.run(Options{Hook: "postinst", Kernels: []string{fk}}, nil); r.code != 0 {
				t.Fatalf("install: %d\n%s", r.code, r.messages())
			}
			o.Kernels = []string{fk}
			r := s.run(o, nil)
			if r.code != 0 {
				t.Fatalf("exit %d\n%s%s%s", r.code, r.out, r.err, r.messages())
			}
			if _, err := os.Stat(s.inst + "/" + fk + "/updates/dkms/good.ko"); !os.IsNotExist(err) {
				t.Errorf("module still installed: %v", err)
			}
			if !strings.Contains(r.err, "dkms: removing module good/1.0 for kernel "+fk) {
				t.Errorf("stderr:\n%s", r.err)
			}
		})
	}
}

func TestTruthy(t *testing.T) {
	t.Parallel()
	for v, want := range map[string]bool{"": false, "no": false, "No": false, "n": false, "0": false,
		"false": false, "off": false, " no ": false, "yes": true, "y": true, "1": true, "true": true, "anything": true} {
		if got := truthy(v); got != want {
			t.Errorf("truthy(%q) = %v", v, got)
		}
	}
}

func TestModprobeRoot(t *testing.T) {
	t.Parallel()
	cases := []struct {
		tree string
		want string
	}{
		{"/lib/modules", ""},
		{"/lib/modules/", ""},
		{"/usr/lib/modules", ""},
		{"/tmp/x/lib/modules", "-d /tmp/x"},
		{"/tmp/x/lib/modules/", "-d /tmp/x"},
		{"/srv/modules", ""},
	}
	for _, c := range cases {
		if got := strings.Join(modprobeRoot(c.tree), " "); got != c.want {
			t.Errorf("modprobeRoot(%q) = %q, want %q", c.tree, got, c.want)
		}
	}
}
