package hook

import (
	"os"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"testing"

	logtest "github.com/sirupsen/logrus/hooks/test"

	"github.com/dkms-go/dkms/internal/engine"
	"github.com/dkms-go/dkms/internal/paths"
	"github.com/dkms-go/dkms/internal/testenv"
)

// hardware is a module package whose modules carry the alias patterns real
// drivers use, against a fake /sys with the devices' modaliases.
var hardware = []struct {
	module  string
	aliases []string
	device  string // sysfs directory below sys/devices with a matching modalias, "" for none
	alias   string
}{
	{"gpu", []string{"pci:v000010DEd*sv*sd*bc03sc*i*"},
		"pci0000:00/0000:00:01.0/0000:01:00.0", "pci:v000010DEd00002684sv00001043sd000088E2bc03sc00i00"},
	{"wifi", []string{"usb:v0BDAp8812d*dc*dsc*dp*ic*isc*ip*in*", "usb:v0BDAp881Ad*dc*dsc*dp*ic*isc*ip*in*"},
		"pci0000:00/0000:00:14.0/usb1/1-2", "usb:v0BDAp8812d0200dc00dsc00dp00icFFiscFFipFFin00"},
	// DMI aliases span the whole string, dates included ("*" matches "/").
	{"laptop", []string{"dmi*:bd*/2023:*:svnLENOVO:*:pvrThinkPadX1Carbon*:*"},
		"virtual/dmi/id", "dmi:bvnLENOVO:bvrN32ET86W(1.62):bd01/02/2023:br1.62:svnLENOVO:pn20XWCTO1WW:pvrThinkPadX1Carbon9th:rvnLENOVO:"},
	{"wmi", []string{"acpi*:PNP0C14:*"}, "LNXSYSTM:00/LNXSYBUS:00/PNP0C14:00", "acpi:PNP0C14:"},
	{"i2cbus", []string{"of:N*T*Cbrcm,bcm2835-i2cC*", "of:N*T*Cbrcm,bcm2835-i2c"},
		"platform/soc/7e804000.i2c", "of:Ni2cT(null)Cbrcm,bcm2835-i2c"},
	{"bracket", []string{"hid:b0003g*v0000046Dp0000C5[2-3][0-9A-F]"}, "pci0000:00/0000:00:14.0/usb1/1-3/1-3:1.0/0003:046D:C52B.0001",
		"hid:b0003g0000v0000046Dp0000C52B"},
	{"absent", []string{"pci:v00008086d0000ABCDsv*sd*bc*sc*i*", "usb:v1234p*"}, "", ""},
	{"noalias", nil, "", ""},
}

// hardwareSystem builds the package "hw" with gcc (real ELF objects with a
// .modinfo section stand in for kernel modules) and a fake /sys.
func hardwareSystem(t *testing.T, framework string) (*system, string) {
	t.Helper()
	s := newSystem(t, framework)
	var names []string
	files := map[string]string{}
	mk := "all:\n"
	for _, h := range hardware {
		names = append(names, h.module)
		c := ""
		for i, a := range append([]string{"license=GPL"}, aliasRecords(h.aliases)...) {
			c += "__attribute__((section(\".modinfo\"), used, aligned(1))) static const char r" + strconv.Itoa(i) + "[] = \"" + a + "\";\n"
		}
		files[h.module+".c"] = c
		mk += "\tgcc -c -o " + h.module + ".ko " + h.module + ".c\n"
		if h.device != "" {
			s.write("/sys/devices/"+h.device+"/modalias", h.alias+"\n")
		}
	}
	// sysfs links devices back to their parents: a walk that followed
	// links would never end.
	if err := os.Symlink("../..", s.root+"/sys/devices/pci0000:00/0000:00:14.0/usb1/subsystem"); err != nil {
		t.Fatal(err)
	}
	s.module("hw", mk, names, files)
	// The fake modprobe records its arguments, one call a line.
	rec := s.root + "/modprobe.calls"
	prog := s.write("/bin/modprobe", "#!/bin/sh\necho \"$*\" >> "+rec+"\n")
	if err := os.Chmod(prog, 0o755); err != nil {
		t.Fatal(err)
	}
	return s, rec
}

func aliasRecords(aliases []string) []string {
	var out []string
	for _, a := range aliases {
		out = append(out, "alias="+a)
	}
	return out
}

// TestLoadForHardware: after a boot run installed the package, exactly the
// modules matching a present device are loaded, each with one modprobe
// pointed at the install tree; hook runs and the switches load nothing.
func TestLoadForHardware(t *testing.T) {
	t.Parallel()
	testenv.RequireRoot(t)
	testenv.RequireTools(t, "make", "gcc")
	var want []string
	for _, h := range hardware {
		if h.device != "" {
			want = append(want, h.module)
		}
	}
	sort.Strings(want) // modules load in name order
	cases := []struct {
		name      string
		framework string
		o         Options
		loads     bool
	}{
		{"boot", "", Options{Boot: true}, true},
		{"boot, load_on_boot=yes", "load_on_boot=yes\n", Options{Boot: true}, true},
		{"boot, load_on_boot=no", "load_on_boot=no\n", Options{Boot: true}, false},
		{"boot --no-load", "", Options{Boot: true, Load: ptr(false)}, false},
		{"hook", "", Options{Hook: "postinst"}, false},
		{"hook --load", "load_on_boot=no\n", Options{Hook: "postinst", Load: ptr(true)}, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			s, rec := hardwareSystem(t, c.framework)
			c.o.Kernels = []string{fk}
			r := s.run(c.o, func(r *Runner) {
				r.E.CurrentKern = fk // the fake kernel is the running one
				r.SysfsRoot = s.root
				r.Modprobe = s.root + "/bin/modprobe"
			})
			if r.code != 0 {
				t.Fatalf("exit %d\n%s%s%s", r.code, r.out, r.err, r.messages())
			}
			calls, _ := os.ReadFile(rec)
			var expect string
			if c.loads {
				for _, m := range want {
					expect += "-d " + s.root + " " + m + "\n"
				}
			}
			if string(calls) != expect {
				t.Errorf("modprobe calls:\n%s\nwant:\n%s\nlog:\n%s", calls, expect, r.messages())
			}
			if c.loads && !strings.Contains(r.messages(), "info: loaded gpu for a device present now\n") {
				t.Errorf("log:\n%s", r.messages())
			}
		})
	}
}

// TestLoadOnlyRunningKernel: modules built for another kernel are never
// loaded, whatever the options say.
func TestLoadOnlyRunningKernel(t *testing.T) {
	t.Parallel()
	testenv.RequireRoot(t)
	testenv.RequireTools(t, "make", "gcc")
	s, rec := hardwareSystem(t, "")
	r := s.run(Options{Boot: true, Load: ptr(true), Kernels: []string{fk}}, func(r *Runner) {
		r.E.CurrentKern = "6.1.0-other"
		r.SysfsRoot = s.root
		r.Modprobe = s.root + "/bin/modprobe"
	})
	if r.code != 0 {
		t.Fatalf("exit %d\n%s", r.code, r.messages())
	}
	if calls, err := os.ReadFile(rec); err == nil {
		t.Errorf("modprobe ran for a kernel that is not running:\n%s", calls)
	}
}

// TestLoadFailureIsLogged: a module whose aliases cannot be read and a
// modprobe that fails are warnings naming the module, and the other
// modules are still loaded.
func TestLoadFailureIsLogged(t *testing.T) {
	t.Parallel()
	testenv.RequireTools(t, "gcc")
	dir := t.TempDir()
	sys := dir + "/sys/devices/pci0000:00/0000:00:02.0"
	if err := os.MkdirAll(sys, 0o755); err != nil {
		t.Fatal(err)
	}
	mustWrite(t, sys+"/modalias", "pci:v00001234d00005678sv0sd0bc03sc00i00\n")
	mustWrite(t, dir+"/m.c", "__attribute__((section(\".modinfo\"), used)) static const char a[] = \"alias=pci:v00001234d*\";\n")
	for _, n := range []string{"good", "refused"} {
		if out, err := exec.Command("gcc", "-c", "-o", dir+"/"+n+".ko", dir+"/m.c").CombinedOutput(); err != nil {
			t.Fatalf("gcc: %v\n%s", err, out)
		}
	}
	mustWrite(t, dir+"/notelf.ko", "not an ELF file")
	calls := dir + "/calls"
	mustWrite(t, dir+"/modprobe", "#!/bin/sh\necho \"$*\" >> "+calls+"\n[ \"$1\" != refused ] || { echo 'modprobe: ERROR: could not insert' >&2; exit 1; }\n")
	if err := os.Chmod(dir+"/modprobe", 0o755); err != nil {
		t.Fatal(err)
	}
	log, rec := logtest.NewNullLogger()
	r := &Runner{E: &engine.Engine{CurrentKern: fk, L: paths.Layout{InstallTree: "/lib/modules"}}, Log: log,
		SysfsRoot: dir, Modprobe: dir + "/modprobe"}
	r.loadForHardware(t.Context(), []engine.InstalledModule{
		{Module: "pkg", Version: "1", Name: "notelf", Built: dir + "/notelf.ko"},
		{Module: "pkg", Version: "1", Name: "refused", Built: dir + "/refused.ko"},
		{Module: "pkg", Version: "1", Name: "good", Built: dir + "/good.ko"},
	})
	got, _ := os.ReadFile(calls)
	if string(got) != "good\nrefused\n" {
		t.Errorf("modprobe calls:\n%s", got)
	}
	var msgs []string
	for _, en := range rec.AllEntries() {
		msgs = append(msgs, en.Level.String()+": "+en.Message)
		if en.Data["MODULE"] != "pkg" || en.Data["PHASE"] != "load" {
			t.Errorf("entry %q has fields %v", en.Message, en.Data)
		}
	}
	want := []string{
		"warning: reading the aliases of module notelf: reading module " + dir + "/notelf.ko: parsing ELF",
		"info: loaded good for a device present now",
		"warning: modprobe refused failed: exit status 1: modprobe: ERROR: could not insert",
	}
	if len(msgs) != len(want) {
		t.Fatalf("log:\n%s", strings.Join(msgs, "\n"))
	}
	for i := range want {
		if !strings.HasPrefix(msgs[i], want[i]) {
			t.Errorf("entry %d: %q, want prefix %q", i, msgs[i], want[i])
		}
	}
}

func mustWrite(t *testing.T, p, content string) {
	t.Helper()
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func ptr(b bool) *bool { return &b }

// TestLoadWanted is the decision table of first-boot loading.
func TestLoadWanted(t *testing.T) {
	t.Parallel()
	cases := []struct {
		fw   map[string]string
		o    Options
		want bool
	}{
		{nil, Options{Boot: true}, true},
		{map[string]string{"load_on_boot": ""}, Options{Boot: true}, false},
		{map[string]string{"load_on_boot": "yes"}, Options{Boot: true}, true},
		{map[string]string{"load_on_boot": "no"}, Options{Boot: true}, false},
		{map[string]string{"load_on_boot": "0"}, Options{Boot: true}, false},
		{map[string]string{"load_on_boot": "no"}, Options{Boot: true, Load: ptr(true)}, true},
		{nil, Options{Boot: true, Load: ptr(false)}, false},
		{nil, Options{Hook: "postinst"}, false},
		{nil, Options{}, false},
		{nil, Options{Load: ptr(true)}, true},
		{map[string]string{"load_on_boot": "yes"}, Options{Hook: "kernel-install"}, false},
	}
	for i, c := range cases {
		r := &Runner{E: &engine.Engine{FW: c.fw, L: paths.Layout{}}}
		if got := r.loadWanted(c.o); got != c.want {
			t.Errorf("case %d (%v, %+v): %v, want %v", i, c.fw, c.o, got, c.want)
		}
	}
}

// TestLoadListedForBoot: a DKMS module named in modules-load.d (or
// /etc/modules) is loaded after the boot run built it, even without a
// matching device: systemd-modules-load ran before the module existed.
func TestLoadListedForBoot(t *testing.T) {
	t.Parallel()
	testenv.RequireRoot(t)
	testenv.RequireTools(t, "make", "gcc")
	s, rec := hardwareSystem(t, "")
	s.write("/etc/modules-load.d/extra.conf", "# comment\n; other comment\nnoalias\nnot-a-dkms-module\n")
	s.write("/etc/modules", "absent\n")
	r := s.run(Options{Boot: true, Kernels: []string{fk}}, func(r *Runner) {
		r.E.CurrentKern = fk
		r.SysfsRoot = s.root
		r.Modprobe = s.root + "/bin/modprobe"
	})
	if r.code != 0 {
		t.Fatalf("exit %d\n%s", r.code, r.messages())
	}
	calls, _ := os.ReadFile(rec)
	for _, m := range []string{"noalias", "absent", "gpu"} {
		if !strings.Contains(string(calls), " "+m+"\n") {
			t.Errorf("%s not loaded; calls:\n%s", m, calls)
		}
	}
	if strings.Contains(string(calls), "not-a-dkms-module") {
		t.Errorf("modules that DKMS did not install are systemd-modules-load's business:\n%s", calls)
	}
	if !strings.Contains(r.messages(), "loaded noalias listed in modules-load.d") {
		t.Errorf("log:\n%s", r.messages())
	}
}
