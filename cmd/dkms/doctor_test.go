package main

import (
	"bufio"
	"crypto/sha1"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dkms-go/dkms/internal/doctor"
	"github.com/dkms-go/dkms/internal/testenv"
)

// doctorBase is a machine with the Debian kernel k (its real headers, config
// and one of its own modules, a real modules.dep), the example-sized module
// hello built, signed with a MOK that openssl generated and installed by
// dkms itself, and a module excluded from k by BUILD_EXCLUSIVE.
func doctorBase(t *testing.T, k string) *testEnv {
	e := newEnv(t)
	e.realKernel(k)
	e.write("/boot/vmlinuz-"+k, "kernel image stand-in\n")
	e.write("/proc/cmdline", "BOOT_IMAGE=/boot/vmlinuz-"+k+" root=/dev/vda1 ro quiet\n")
	e.write("/proc/keys", "1b8a5e4d I------     1 perm 1f030000     0     0 asymmetri Debian Secure Boot CA: "+
		"6ccece7e4c6c0d1f6149f3dd27dfcc5cbb419ea1: X509.rsa 4b2c5a4c []\n")
	intree := firstInTreeModule(t, k)
	b, err := os.ReadFile("/lib/modules/" + k + "/" + intree)
	if err != nil {
		t.Fatal(err)
	}
	e.write("/lib/modules/"+k+"/"+intree, string(b))
	if out, err := exec.Command("depmod", "-b", e.root, k).CombinedOutput(); err != nil {
		t.Fatalf("depmod: %v\n%s", err, out)
	}
	e.realModule(t, "hello", "", "")
	if out, errOut, code := e.run("install", "hello/1.0", "-k", k); code != 0 {
		t.Fatalf("install: %d\n%s\n%s", code, out, errOut)
	}
	e.realModule(t, "mod-excl", "BUILD_EXCLUSIVE_KERNEL=\"^2\\.6\"\n", "")
	return e
}

func firstInTreeModule(t *testing.T, k string) string {
	f, err := os.Open("/lib/modules/" + k + "/modules.dep")
	if err != nil {
		t.Skipf("no modules.dep for %s: %v", k, err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if p, _, ok := strings.Cut(sc.Text(), ":"); ok && strings.HasPrefix(p, "kernel/") {
			return p
		}
	}
	t.Skip("no in-tree module in modules.dep")
	return ""
}

// clone copies the base machine into a fresh root for one planted problem.
func (e *testEnv) clone(t *testing.T) *testEnv {
	t.Helper()
	c := newEnv(t)
	if out, err := exec.Command("cp", "-a", e.root+"/.", c.root).CombinedOutput(); err != nil {
		t.Fatalf("cp: %v\n%s", err, out)
	}
	for _, m := range []string{"hello", "mod-excl"} {
		link := c.dkms + "/" + m + "/1.0/source"
		os.Remove(link)
		if err := os.Symlink(c.src+"/"+m+"-1.0", link); err != nil {
			t.Fatal(err)
		}
	}
	return c
}

// doctorJSON runs dkms doctor --json and decodes it.
func (e *testEnv) doctorJSON(t *testing.T, args ...string) (*doctor.Report, string, int) {
	t.Helper()
	out, errOut, code := e.run(append([]string{"doctor", "--json"}, args...)...)
	var rep doctor.Report
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("doctor --json: %v\n%s\n%s", err, out, errOut)
	}
	validateDoctorJSON(t, out)
	return &rep, errOut, code
}

func findRow(rep *doctor.Report, k, m string) *doctor.ModuleReport {
	for _, kr := range rep.Kernels {
		if kr.Kernel != k {
			continue
		}
		for _, r := range kr.Modules {
			if r.Module == m {
				return r
			}
		}
	}
	return nil
}

// mokutilScript is a recording mokutil: it appends its arguments to
// <root>/mokutil.log and prints the canned answers.
func (e *testEnv) mokutilScript(t *testing.T, testKey, listNew string) string {
	t.Helper()
	bin := e.root + "/fakebin"
	e.r.Write("/fakebin/mokutil", "#!/bin/sh\necho \"$*\" >> "+e.root+"/mokutil.log\ncase \"$1\" in\n"+
		"--test-key) printf '%s\\n' \""+testKey+"\" ;;\n--list-new) printf '%s' \""+listNew+"\" ;;\n"+
		"--sb-state) echo 'SecureBoot enabled' ;;\nesac\n", 0o755)
	e.extraEnv = append(e.extraEnv, "PATH="+bin+":/usr/sbin:/usr/bin:/sbin:/bin")
	return bin
}

func (e *testEnv) mokutilLog() string {
	b, _ := os.ReadFile(e.root + "/mokutil.log")
	return e.norm(string(b))
}

func (e *testEnv) enforce() {
	e.write("/proc/cmdline", "BOOT_IMAGE=/boot/vmlinuz root=/dev/vda1 ro module.sig_enforce=1\n")
}

func (e *testEnv) cert(t *testing.T) *x509.Certificate {
	t.Helper()
	b, err := os.ReadFile(e.dkms + "/mok.pub")
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(b)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// stripSignature removes the appended signature, leaving the module as it
// was before sign-file ran.
func stripSignature(t *testing.T, path string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	const magic = "~Module signature appended~\n"
	if !strings.HasSuffix(string(b), magic) {
		t.Fatalf("%s is not signed", path)
	}
	n := len(b) - len(magic) - 12
	sigLen := int(b[n+8])<<24 | int(b[n+9])<<16 | int(b[n+10])<<8 | int(b[n+11])
	if err := os.WriteFile(path, b[:n-sigLen], 0o644); err != nil {
		t.Fatal(err)
	}
}

// want asserts one row's verdict, the text in its first problem's detail,
// advice or command, and the exit status.
type doctorCase struct {
	name    string
	plant   func(t *testing.T, e *testEnv)
	kernel  string // "" = the base kernel
	module  string
	verdict doctor.Verdict
	advice  string // substring of the command or advice
	code    int
	check   func(t *testing.T, e *testEnv, rep *doctor.Report)
}

func TestDoctorPlanted(t *testing.T) {
	testenv.RequireRoot(t)
	testenv.RequireTools(t, "make", "gcc", "depmod", "openssl")
	k := testenv.DebianKernel(t)
	base := doctorBase(t, k)
	installed := base.inst + "/" + k + "/updates/dkms/hello.ko"
	built := base.dkms + "/hello/1.0/" + k + "/x86_64/module/hello.ko"
	newer := "99.0.0-1-amd64"
	cases := []doctorCase{
		{name: "clean", module: "hello", verdict: doctor.OK, code: 0, check: func(t *testing.T, e *testEnv, rep *doctor.Report) {
			if r := findRow(rep, k, "mod-excl"); r == nil || r.Verdict != doctor.Excluded || !strings.Contains(r.Problems[0].Detail, `BUILD_EXCLUSIVE_KERNEL="^2\.6"`) {
				t.Errorf("mod-excl: %+v", r)
			}
			if rep.Status != "healthy" || rep.NextBoot != k || rep.NextBootFrom != "newest" || !rep.Kernels[0].NextBoot {
				t.Errorf("report %+v", rep)
			}
			out, _, code := e.run("doctor")
			if code != 0 || !strings.Contains(out, "Kernel "+k+" (next boot, newest): healthy\n") ||
				!strings.Contains(out, "  hello     1.0      ok\n") {
				t.Errorf("text report (exit %d):\n%s", code, out)
			}
		}},
		{name: "headers-missing", kernel: newer, module: "hello", verdict: doctor.HeadersMissing,
			advice: "apt-get install linux-headers-" + newer, code: 1,
			plant: func(t *testing.T, e *testEnv) {
				e.write("/boot/vmlinuz-"+newer, "x")
				e.write("/lib/modules/"+newer+"/modules.dep", "")
			},
			check: func(t *testing.T, e *testEnv, rep *doctor.Report) {
				if rep.NextBoot != newer || rep.Kernels[0].Kernel != newer || rep.Kernels[0].HeadersPresent {
					t.Errorf("next boot %q, first kernel %+v", rep.NextBoot, rep.Kernels[0])
				}
				if r := findRow(rep, k, "hello"); r == nil || r.Verdict != doctor.OK {
					t.Errorf("the other kernel: %+v", r)
				}
				// -k checks one kernel; the next boot is still the newer one.
				one, _, code := e.doctorJSON(t, "-k", k)
				if code != 0 || one.NextBoot != newer || len(one.Kernels) != 1 || one.Kernels[0].NextBoot {
					t.Errorf("doctor -k %s: exit %d, next boot %q, %+v", k, code, one.NextBoot, one.Kernels)
				}
			}},
		{name: "not-built", module: "mod-new", verdict: doctor.NotBuilt, advice: "dkms autoinstall -k " + k, code: 1,
			plant: func(t *testing.T, e *testEnv) { e.realModule(t, "mod-new", "", "") }},
		{name: "build-failed", module: "mod-broken", verdict: doctor.BuildFailed, code: 1,
			plant: func(t *testing.T, e *testEnv) {
				e.realModule(t, "mod-broken", "", "this does not compile;\n")
				e.realModule(t, "mod-needs-broken", "BUILD_DEPENDS[0]=mod-broken\n", "")
				if _, _, code := e.run("autoinstall", "-k", k); code != 11 {
					t.Fatalf("autoinstall exit %d, want 11", code)
				}
			},
			check: func(t *testing.T, e *testEnv, rep *doctor.Report) {
				p := findRow(rep, k, "mod-broken").Problems[0]
				if p.Log != "<root>/var/lib/dkms/mod-broken/1.0/build/make.log" || !strings.Contains(p.LogLine, "error:") {
					t.Errorf("log %q, first error %q", p.Log, p.LogLine)
				}
				if r := findRow(rep, k, "mod-needs-broken"); r == nil || r.Verdict != doctor.DepMissing ||
					!strings.Contains(r.Problems[0].Detail, "waits for mod-broken") {
					t.Errorf("dependent module: %+v", r)
				}
			}},
		{name: "file-differs", module: "hello", verdict: doctor.FileDiffers, advice: "dkms install --force hello/1.0 -k " + k, code: 1,
			plant: func(t *testing.T, e *testEnv) {
				p := e.root + strings.TrimPrefix(installed, base.root)
				b, _ := os.ReadFile(p)
				b[100] ^= 0xff
				os.WriteFile(p, b, 0o644)
			}},
		{name: "file-missing", module: "hello", verdict: doctor.FileMissing, advice: "dkms install --force", code: 1,
			plant: func(t *testing.T, e *testEnv) { removeFile(t, e.root+strings.TrimPrefix(installed, base.root)) }},
		{name: "vermagic", module: "hello", verdict: doctor.Vermagic, advice: "dkms unbuild hello/1.0 -k " + k, code: 1,
			plant: func(t *testing.T, e *testEnv) {
				m := elfModule(t, "vermagic=5.10.0-9-amd64 SMP mod_unload modversions ", "name=hello")
				e.write(strings.TrimPrefix(installed, base.root), m)
				e.write(strings.TrimPrefix(built, base.root), m)
			}},
		{name: "not-in-modules-dep", module: "hello", verdict: doctor.NotInDep, advice: "depmod " + k, code: 1,
			plant: func(t *testing.T, e *testEnv) {
				p := e.inst + "/" + k + "/modules.dep"
				b, _ := os.ReadFile(p)
				var keep []string
				for _, l := range strings.SplitAfter(string(b), "\n") {
					if !strings.Contains(l, "hello") {
						keep = append(keep, l)
					}
				}
				os.WriteFile(p, []byte(strings.Join(keep, "")), 0o644)
			}},
		{name: "shadowed", module: "hello", verdict: doctor.Shadowed, advice: "update-initramfs -u -k " + k, code: 1,
			plant: func(t *testing.T, e *testEnv) {
				writeImage(t, e.root+"/boot/initrd.img-"+k, map[string]string{
					"usr/lib/modules/" + k + "/updates/dkms/hello.ko": "an older hello\n"})
			}},
		{name: "unsigned", module: "hello", verdict: doctor.Unsigned, advice: "dkms install --force hello/1.0 -k " + k, code: 1,
			plant: func(t *testing.T, e *testEnv) {
				e.enforce()
				stripSignature(t, e.root+strings.TrimPrefix(installed, base.root))
				stripSignature(t, e.root+strings.TrimPrefix(built, base.root))
			}},
		{name: "untrusted", module: "hello", verdict: doctor.Untrusted, advice: "mokutil --import <root>/var/lib/dkms/mok.pub", code: 1,
			plant: func(t *testing.T, e *testEnv) {
				e.enforce()
				e.mokutilScript(t, e.dkms+"/mok.pub is not enrolled", "")
			},
			check: func(t *testing.T, e *testEnv, rep *doctor.Report) {
				if got := e.mokutilLog(); got != "--test-key <root>/var/lib/dkms/mok.pub\n--list-new\n" {
					t.Errorf("mokutil calls %q", got)
				}
				if by := rep.Kernels[0].EnforcedBy; len(by) != 1 || by[0] != "module.sig_enforce=1" {
					t.Errorf("enforced by %q", by)
				}
				if p := findRow(rep, k, "hello").Problems[0]; !strings.Contains(p.Advice, "MokManager") {
					t.Errorf("advice %q does not say what the next boot asks", p.Advice)
				}
			}},
		{name: "secure-boot-pending", module: "hello", verdict: doctor.EnrollPending, advice: "Enroll MOK", code: 0,
			plant: func(t *testing.T, e *testEnv) {
				e.r.Write("/sys/firmware/efi/efivars/SecureBoot-8be4df61-93ca-11d2-aa0d-00e098032b8c", "\x06\x00\x00\x00\x01", 0o644)
				sum := sha1.Sum(e.cert(t).Raw)
				var fp []string
				for _, c := range sum {
					fp = append(fp, hex.EncodeToString([]byte{c}))
				}
				e.mokutilScript(t, e.dkms+"/mok.pub is not enrolled", "[key 1]\\nSHA1 Fingerprint: "+strings.Join(fp, ":")+"\\n")
			},
			check: func(t *testing.T, e *testEnv, rep *doctor.Report) {
				if rep.SecureBoot != "on" || strings.Join(rep.Kernels[0].EnforcedBy, ",") != "Secure Boot" {
					t.Errorf("secure boot %q, enforced by %q", rep.SecureBoot, rep.Kernels[0].EnforcedBy)
				}
			}},
		{name: "trusted-in-keyring", module: "hello", verdict: doctor.OK, code: 0,
			plant: func(t *testing.T, e *testEnv) {
				e.enforce()
				e.mokutilScript(t, "unexpected", "")
				e.write("/proc/keys", "2c4f1a0e I------     1 perm 1f030000     0     0 asymmetri DKMS module signing key: "+
					hex.EncodeToString(e.cert(t).SubjectKeyId)+": X509.rsa 5e1f2a3b []\n")
			},
			check: func(t *testing.T, e *testEnv, rep *doctor.Report) {
				if got := e.mokutilLog(); got != "" {
					t.Errorf("mokutil ran although the kernel's keyring holds the key: %q", got)
				}
				if s := findRow(rep, k, "hello").Signer; s == "" {
					t.Errorf("no signer reported")
				}
			}},
		{name: "secure-boot-unknown", module: "hello", verdict: doctor.OK, code: 2,
			plant: func(t *testing.T, e *testEnv) {
				os.MkdirAll(e.root+"/sys/firmware/efi/efivars", 0o755)
				e.extraEnv = append(e.extraEnv, "PATH="+e.root+"/nothing")
			},
			check: func(t *testing.T, e *testEnv, rep *doctor.Report) {
				if p := rep.Kernels[0].Problems; len(p) != 1 || p[0].Verdict != doctor.Unchecked || !strings.Contains(p[0].Detail, "mokutil") {
					t.Errorf("kernel problems %+v", p)
				}
			}},
		{name: "grub-default", kernel: newer, module: "hello", verdict: doctor.HeadersMissing, code: 1,
			plant: func(t *testing.T, e *testEnv) {
				e.write("/boot/vmlinuz-"+newer, "x")
				os.MkdirAll(e.inst+"/"+newer, 0o755)
				e.write("/boot/grub/grub.cfg", grubCfg(k, newer))
				e.write("/boot/grub/grubenv", "# GRUB Environment Block\nsaved_entry=gnulinux-advanced-x>gnulinux-"+k+"-advanced-x\n")
			},
			check: func(t *testing.T, e *testEnv, rep *doctor.Report) {
				if rep.NextBoot != k || rep.NextBootFrom != "grub" || rep.Kernels[0].Kernel != k {
					t.Errorf("next boot %q from %q, first %q", rep.NextBoot, rep.NextBootFrom, rep.Kernels[0].Kernel)
				}
			}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			e := base.clone(t)
			if c.plant != nil {
				c.plant(t, e)
			}
			rep, errOut, code := e.doctorJSON(t)
			kern := c.kernel
			if kern == "" {
				kern = k
			}
			r := findRow(rep, kern, c.module)
			if r == nil {
				t.Fatalf("no row for %s on %s: %+v", c.module, kern, rep.Kernels)
			}
			if r.Verdict != c.verdict {
				t.Errorf("verdict %q, want %q: %+v", r.Verdict, c.verdict, r.Problems)
			}
			if c.advice != "" {
				found := false
				for _, p := range r.Problems {
					found = found || strings.Contains(e.norm(p.Command+" "+p.Advice), c.advice)
				}
				if !found {
					t.Errorf("advice %q not in %+v", c.advice, r.Problems)
				}
			}
			if code != c.code {
				t.Errorf("exit %d, want %d (stderr %q)", code, c.code, errOut)
			}
			if c.check != nil {
				c.check(t, e, rep)
			}
			// The tables for people say the same, with the same status.
			text, _, tcode := e.run("doctor")
			if tcode != code || !strings.Contains(text, string(c.verdict)) {
				t.Errorf("text report (exit %d) lacks %q:\n%s", tcode, c.verdict, text)
			}
			t.Logf("dkms doctor:\n%s", text)
		})
	}
}

func grubCfg(old, newer string) string {
	entry := func(k string) string {
		return "\tmenuentry 'Debian GNU/Linux, with Linux " + k + "' --class debian $menuentry_id_option 'gnulinux-" + k + "-advanced-x' {\n" +
			"\t\tlinux\t/boot/vmlinuz-" + k + " root=UUID=x ro quiet\n\t\tinitrd\t/boot/initrd.img-" + k + "\n\t}\n"
	}
	return "if [ -s $prefix/grubenv ]; then\n  load_env\nfi\nif [ \"${next_entry}\" ] ; then\n   set default=\"${next_entry}\"\n" +
		"else\n   set default=\"${saved_entry}\"\nfi\n" +
		"menuentry 'Debian GNU/Linux' --class debian $menuentry_id_option 'gnulinux-simple-x' {\n\tlinux\t/boot/vmlinuz-" + newer + " root=UUID=x ro\n}\n" +
		"submenu 'Advanced options for Debian GNU/Linux' $menuentry_id_option 'gnulinux-advanced-x' {\n" +
		entry(newer) + entry(old) + "}\n"
}

// validateDoctorJSON checks every field of a doctor --json document
// against the field table of docs/DOCTOR.md, and that the fields it marks
// as always present are there.
func validateDoctorJSON(t *testing.T, doc string) {
	t.Helper()
	documented, always := doctorFields(t)
	var v any
	json.Unmarshal([]byte(doc), &v)
	seen := map[string]bool{}
	var walk func(prefix string, v any)
	walk = func(prefix string, v any) {
		switch x := v.(type) {
		case map[string]any:
			for key, val := range x {
				name := strings.TrimPrefix(prefix+"."+key, ".")
				if !documented[name] {
					t.Errorf("JSON field %s is not documented in docs/DOCTOR.md", name)
				}
				seen[name] = true
				walk(name, val)
			}
			for name := range always {
				parent, key := "", name
				if i := strings.LastIndex(name, "."); i >= 0 {
					parent, key = name[:i], name[i+1:]
				}
				if _, ok := x[key]; parent == prefix && !ok {
					t.Errorf("JSON field %s, documented as always present, is missing", name)
				}
			}
		case []any:
			for _, el := range x {
				walk(prefix+"[]", el)
			}
		}
	}
	walk("", v)
}

// doctorFields reads the "| `field` | type | ... |" rows of docs/DOCTOR.md;
// a type ending in "?" marks a field that may be absent.
func doctorFields(t *testing.T) (documented, always map[string]bool) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "docs", "DOCTOR.md"))
	if err != nil {
		t.Fatal(err)
	}
	documented, always = map[string]bool{}, map[string]bool{}
	_, section, _ := strings.Cut(string(b), "\n## JSON fields\n")
	for _, line := range strings.Split(section, "\n") {
		cells := strings.Split(line, "|")
		if len(cells) < 4 || !strings.HasPrefix(strings.TrimSpace(cells[1]), "`") {
			continue
		}
		name := strings.Trim(strings.TrimSpace(cells[1]), "`")
		documented[name] = true
		if !strings.HasSuffix(strings.TrimSpace(cells[2]), "?") {
			always[name] = true
		}
	}
	if len(documented) < 10 {
		t.Fatalf("docs/DOCTOR.md documents only %d JSON fields", len(documented))
	}
	return documented, always
}
