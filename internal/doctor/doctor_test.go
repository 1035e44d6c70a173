package doctor

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func write(t *testing.T, p, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

const debianGrub = `set default="0"
if [ "${next_entry}" ] ; then
   set default="${next_entry}"
   set next_entry=
   save_env next_entry
else
   set default="${saved_entry}"
fi
menuentry 'Debian GNU/Linux' --class debian $menuentry_id_option 'gnulinux-simple-u' {
	linux	/boot/vmlinuz-6.1.0-30-amd64 root=UUID=u ro quiet
}
submenu 'Advanced options for Debian GNU/Linux' $menuentry_id_option 'gnulinux-advanced-u' {
	menuentry 'Debian GNU/Linux, with Linux 6.1.0-30-amd64' --class debian $menuentry_id_option 'gnulinux-6.1.0-30-amd64-advanced-u' {
		linux	/boot/vmlinuz-6.1.0-30-amd64 root=UUID=u ro quiet
	}
	menuentry 'Debian GNU/Linux, with Linux 6.1.0-28-amd64' --class debian $menuentry_id_option 'gnulinux-6.1.0-28-amd64-advanced-u' {
		linux	/boot/vmlinuz-6.1.0-28-amd64 root=UUID=u ro module.sig_enforce=1
	}
}
`

func TestGrubDefault(t *testing.T) {
	t.Parallel()
	known := map[string]bool{"6.1.0-30-amd64": true, "6.1.0-28-amd64": true}
	cases := []struct {
		name string
		cfg  string
		env  map[string]string
		want string
	}{
		{"saved entry by id path", debianGrub, map[string]string{"saved_entry": "gnulinux-advanced-u>gnulinux-6.1.0-28-amd64-advanced-u"}, "6.1.0-28-amd64"},
		{"saved entry by id alone", debianGrub, map[string]string{"saved_entry": "gnulinux-6.1.0-28-amd64-advanced-u"}, "6.1.0-28-amd64"},
		{"saved entry by title path", debianGrub, map[string]string{"saved_entry": "Advanced options for Debian GNU/Linux>Debian GNU/Linux, with Linux 6.1.0-28-amd64"}, "6.1.0-28-amd64"},
		{"number path", debianGrub, map[string]string{"saved_entry": "1>1"}, "6.1.0-28-amd64"},
		{"next_entry wins", debianGrub, map[string]string{"saved_entry": "0", "next_entry": "1>1"}, "6.1.0-28-amd64"},
		{"no saved entry: the first", debianGrub, nil, "6.1.0-30-amd64"},
		{"literal default", "set default=\"1>0\"\n" + debianGrub[len(`set default="0"`)+1:], nil, "6.1.0-30-amd64"},
		{"entry of an uninstalled kernel", debianGrub, map[string]string{"saved_entry": "1>7"}, ""},
	}
	for _, c := range cases {
		bi := grubDefault(c.cfg, c.env, known)
		if bi.kernel != c.want {
			t.Errorf("%s: kernel %q, want %q", c.name, bi.kernel, c.want)
		}
	}
	bi := grubDefault(debianGrub, nil, known)
	if got := strings.Join(bi.cmdline["6.1.0-28-amd64"], " "); got != "root=UUID=u ro module.sig_enforce=1" {
		t.Errorf("command line of 6.1.0-28-amd64: %q", got)
	}
}

func TestSystemdBoot(t *testing.T) {
	t.Parallel()
	esp := t.TempDir()
	write(t, esp+"/loader/loader.conf", "timeout 3\ndefault mid-6.1.0-28*\n")
	write(t, esp+"/loader/entries/mid-6.1.0-30-amd64.conf", "title Debian\nversion 6.1.0-30-amd64\nlinux /mid/6.1.0-30-amd64/linux\noptions root=/dev/sda1 quiet\n")
	write(t, esp+"/loader/entries/mid-6.1.0-28-amd64.conf", "title Debian\nlinux /mid/6.1.0-28-amd64/linux\noptions root=/dev/sda1\noptions lockdown=integrity\n")
	boot := t.TempDir()
	bi := nextBoot(boot, esp, []string{"6.1.0-30-amd64", "6.1.0-28-amd64"})
	if bi.source != "systemd-boot" || bi.kernel != "6.1.0-28-amd64" {
		t.Errorf("next boot %q from %q", bi.kernel, bi.source)
	}
	if got := strings.Join(bi.cmdline["6.1.0-28-amd64"], " "); got != "root=/dev/sda1 lockdown=integrity" {
		t.Errorf("options %q", got)
	}
}

func TestInstalledKernels(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	for _, k := range []string{"6.1.0-9-amd64", "6.1.0-10-amd64", "6.1.0-nokernel", "5.10.0-1-amd64"} {
		os.MkdirAll(root+"/lib/modules/"+k, 0o755)
	}
	write(t, root+"/boot/vmlinuz-6.1.0-9-amd64", "x")
	write(t, root+"/boot/vmlinuz-6.1.0-10-amd64", "x")
	write(t, root+"/lib/modules/5.10.0-1-amd64/vmlinuz", "x") // Arch and Fedora keep it here
	ks, err := InstalledKernels(root+"/boot", root+"/lib/modules")
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(ks, " "); got != "6.1.0-10-amd64 6.1.0-9-amd64 5.10.0-1-amd64" {
		t.Errorf("kernels %q", got)
	}
}

func TestReadKeyIDs(t *testing.T) {
	t.Parallel()
	p := filepath.Join(t.TempDir(), "keys")
	write(t, p, "0b2c1f3d I------     1 perm 1f030000     0     0 asymmetri Debian Secure Boot CA: 6ccece7e4c6c0d1f6149f3dd27dfcc5cbb419ea1: X509.rsa 4b2c5a4c []\n"+
		"1a2b3c4d I--Q---     2 perm 3f030000     0     0 keyring   .builtin_trusted_keys: 1\n"+
		"2b3c4d5e I------     1 perm 1f010000     0     0 user      deadbeefdeadbeef: 16\n")
	ids, err := readKeyIDs(p)
	if err != nil {
		t.Fatal(err)
	}
	if !ids["6ccece7e4c6c0d1f6149f3dd27dfcc5cbb419ea1"] || ids["deadbeefdeadbeef"] || len(ids) != 2 {
		t.Errorf("ids %v (the asymmetric key's id, and its 4b2c5a4c, only)", ids)
	}
}

func TestFailedLog(t *testing.T) {
	t.Parallel()
	p := filepath.Join(t.TempDir(), "make.log")
	write(t, p, "DKMS (dkms-3.2.2) make.log for foo/1.0 for kernel 6.1.0-30-amd64 (x86_64)\nmake -C ...\n"+
		"  CC [M]  /var/lib/dkms/foo/1.0/build/foo.o\n/var/lib/dkms/foo/1.0/build/foo.c:3:1: error: expected ';'\nmake[1]: *** Error 1\n")
	if first, ok := failedLog(p, "6.1.0-30-amd64"); !ok || first != "/var/lib/dkms/foo/1.0/build/foo.c:3:1: error: expected ';'" {
		t.Errorf("first error %q %v", first, ok)
	}
	if _, ok := failedLog(p, "6.1.0-28-amd64"); ok {
		t.Error("a log of another kernel's build counted as this kernel's")
	}
	if _, ok := failedLog(p+".none", "6.1.0-30-amd64"); ok {
		t.Error("a missing log counted as a failure")
	}
}

func TestParseSignatureRejects(t *testing.T) {
	t.Parallel()
	cases := map[string]string{
		"unsigned":  "\x7fELF plain module",
		"truncated": sigMagic,
		"too long":  "\x00\x00\x02\x00\x00\x00\x00\x00\x7f\xff\xff\xff" + sigMagic,
		"not pkcs7": "junk\x00\x00\x02\x00\x00\x00\x00\x00\x00\x00\x00\x04" + sigMagic,
		"other id":  "\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00" + sigMagic,
	}
	for name, data := range cases {
		if s, err := ParseSignature([]byte(data)); err == nil {
			t.Errorf("%s: parsed as %+v", name, s)
		}
	}
}

func FuzzParseSignature(f *testing.F) {
	f.Add([]byte("\x30\x03\x02\x01\x00\x00\x00\x02\x00\x00\x00\x00\x00\x00\x00\x00\x05" + sigMagic))
	f.Fuzz(func(t *testing.T, b []byte) {
		ParseSignature(b)
	})
}

func TestSameContent(t *testing.T) {
	t.Parallel()
	d := t.TempDir()
	big := strings.Repeat("a", 100<<10)
	write(t, d+"/a", big)
	write(t, d+"/b", big)
	write(t, d+"/c", big[:len(big)-1]+"b")
	write(t, d+"/d", big+"x")
	for other, want := range map[string]bool{"b": true, "c": false, "d": false, "a": true} {
		if got, err := sameContent(d+"/a", d+"/"+other); err != nil || got != want {
			t.Errorf("a vs %s: %v %v, want %v", other, got, err, want)
		}
	}
}

// TestEnforcement: which kernels refuse unsigned modules, and why.
func TestEnforcement(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, config, cmdline, lockdown, k string
		want                               string
		sysEnforce                         bool
	}{
		{"switched on in /sys", "CONFIG_MODULE_SIG=y\n", "ro", "", "k1", "module.sig_enforce=1", true},
		{"switched on in /sys, another kernel", "CONFIG_MODULE_SIG=y\n", "ro", "", "k2", "", true},
		{"config off", "CONFIG_MODULE_SIG=y\n", "ro quiet", "", "k1", "", false},
		{"forced by config", "CONFIG_MODULE_SIG=y\nCONFIG_MODULE_SIG_FORCE=y\n", "ro", "", "k1", "CONFIG_MODULE_SIG_FORCE", false},
		{"cmdline", "CONFIG_MODULE_SIG=y\n", "ro module.sig_enforce=1", "", "k1", "module.sig_enforce=1", false},
		{"no signature support", "# CONFIG_MODULE_SIG is not set\n", "module.sig_enforce=1", "", "k1", "", false},
		{"running kernel locked down", "CONFIG_MODULE_SIG=y\n", "ro", "none [integrity] confidentiality\n", "k1", "lockdown (integrity)", false},
		{"another kernel than the locked-down one", "CONFIG_MODULE_SIG=y\n", "ro", "none [integrity] confidentiality\n", "k2", "", false},
	}
	for _, c := range cases {
		root := t.TempDir()
		write(t, root+"/boot/config-"+c.k, c.config)
		write(t, root+"/proc/cmdline", c.cmdline+"\n")
		if c.lockdown != "" {
			write(t, root+"/sys/kernel/security/lockdown", c.lockdown)
		}
		if c.sysEnforce {
			write(t, root+"/sys/module/module/parameters/sig_enforce", "Y\n")
		}
		o := &Options{Root: root, Running: "k1"}
		s := newSigState(context.Background(), o)
		kc := &kernelCtx{o: o, s: s, k: c.k, kr: &KernelReport{Headers: root + "/nonexistent"}}
		kc.enforcement(nil)
		if got := strings.Join(kc.kr.EnforcedBy, ","); got != c.want || kc.enforced != (c.want != "") {
			t.Errorf("%s: enforced %v by %q, want %q", c.name, kc.enforced, got, c.want)
		}
	}
}

func TestExitCode(t *testing.T) {
	t.Parallel()
	mk := func(vs ...Verdict) *Report {
		kr := &KernelReport{}
		for _, v := range vs {
			kr.add(&ModuleReport{}, Problem{Verdict: v})
		}
		r := &Report{Kernels: []*KernelReport{kr}}
		r.summarise()
		return r
	}
	for _, c := range []struct {
		vs   []Verdict
		want int
	}{
		{nil, 0}, {[]Verdict{OK, Excluded, EnrollPending}, 0}, {[]Verdict{Unchecked}, 2},
		{[]Verdict{Unchecked, Untrusted}, 1}, {[]Verdict{BuildFailed}, 1},
	} {
		if got := mk(c.vs...).ExitCode(); got != c.want {
			t.Errorf("%v: exit %d, want %d", c.vs, got, c.want)
		}
	}
}
