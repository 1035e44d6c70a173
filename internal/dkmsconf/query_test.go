package dkmsconf

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestMakeCommand(t *testing.T) {
	t.Parallel()
	tests := []struct {
		make, match []string
		kernel      string
		want        string
	}{
		{nil, nil, "6.1", ""},
		{[]string{"make all"}, nil, "6.1", "make all"},
		{[]string{"make all", "make new"}, []string{"", "^6\\."}, "6.1.0", "make new"},
		{[]string{"make all", "make new"}, []string{"", "^6\\."}, "5.10", "make all"},
		{[]string{"make a", "make b"}, []string{"^5", "^6"}, "4.19", ""},
		{[]string{"make a", "make b", "make c"}, []string{"", "6", "6\\.1"}, "6.1.0", "make c"},
		{[]string{"make a", ""}, []string{"", "6"}, "6.1", "make a"},
	}
	for _, tt := range tests {
		c := &Conf{Make: tt.make, MakeMatch: tt.match}
		if got := c.MakeCommand(tt.kernel); got != tt.want {
			t.Errorf("MakeCommand(%q) with %q/%q = %q, want %q", tt.kernel, tt.make, tt.match, got, tt.want)
		}
	}
}

func TestPatches(t *testing.T) {
	t.Parallel()
	c := &Conf{Patch: []string{"a.patch", "", "c.patch", "d.patch"}, PatchMatch: []string{"", "6", "^5", "^6\\.1"}}
	if got := c.Patches("6.1.0"); !slices.Equal(got, []string{"a.patch", "d.patch"}) {
		t.Errorf("Patches(6.1.0) = %q", got)
	}
	if got := c.Patches("5.10"); !slices.Equal(got, []string{"a.patch", "c.patch"}) {
		t.Errorf("Patches(5.10) = %q", got)
	}
}

func TestExcluded(t *testing.T) {
	t.Parallel()
	cfg := filepath.Join(t.TempDir(), ".config")
	if err := os.WriteFile(cfg, []byte("CONFIG_A=y\nCONFIG_B=m\n# CONFIG_C is not set\nCONFIG_D=n\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		c      Exclusive
		kernel string
		arch   string
		config string
		want   bool
	}{
		{"nothing", Exclusive{}, "6.1", "x86_64", cfg, false},
		{"kernel regex match", Exclusive{Kernel: "^6\\."}, "6.1.0", "x86_64", cfg, false},
		{"kernel regex miss", Exclusive{Kernel: "^5\\."}, "6.1.0", "x86_64", cfg, true},
		{"min ok", Exclusive{KernelMin: "4.18"}, "6.1.0-13-amd64", "x86_64", cfg, false},
		{"min too old", Exclusive{KernelMin: "5.10"}, "5.9.0", "x86_64", cfg, true},
		{"max rc", Exclusive{KernelMax: "4.12"}, "4.12-rc1", "x86_64", cfg, true},
		{"max equal", Exclusive{KernelMax: "4.12"}, "4.12", "x86_64", cfg, false},
		{"arch miss", Exclusive{Arch: "aarch64"}, "6.1", "x86_64", cfg, true},
		{"arch match", Exclusive{Arch: "x86_64|i.86"}, "6.1", "i686", cfg, false},
		{"config present", Exclusive{Config: "CONFIG_A CONFIG_B"}, "6.1", "x86_64", cfg, false},
		{"config absent", Exclusive{Config: "CONFIG_A CONFIG_C"}, "6.1", "x86_64", cfg, true},
		{"config =n is absent", Exclusive{Config: "CONFIG_D"}, "6.1", "x86_64", cfg, true},
		{"negated present", Exclusive{Config: "!CONFIG_B"}, "6.1", "x86_64", cfg, true},
		{"negated absent", Exclusive{Config: "!CONFIG_C"}, "6.1", "x86_64", cfg, false},
		{"no config file", Exclusive{Config: "CONFIG_Z"}, "6.1", "x86_64", cfg + ".missing", false},
	}
	for _, tt := range tests {
		recs := []Record{{BuiltName: "m", Exclusive: tt.c}}
		if got := (&Conf{Records: recs}).Excluded(tt.kernel, tt.arch, tt.config); got != tt.want {
			t.Errorf("%s: Excluded = %v, want %v", tt.name, got, tt.want)
		}
	}
}

// TestExcludedRecords is delta D5.1 and D4 item 2 on read confs: element 0
// is global, element i restricts record i, N = 0 is never excluded, and
// OBSOLETE_BY is the global maximum only without per-record maxima.
func TestExcludedRecords(t *testing.T) {
	t.Parallel()
	const head = "PACKAGE_NAME=p\nPACKAGE_VERSION=1\n"
	tests := []struct {
		name, conf, kernel string
		want               []bool // nil: no BUILD_EXCLUSIVE in use
		pkg                bool
	}{
		{"none", "BUILT_MODULE_NAME=(a b c)\nDEST_MODULE_LOCATION=(/updates /updates /updates)\n", "6.1.0", nil, false},
		{"unindexed is global", "BUILT_MODULE_NAME=(a b c)\nDEST_MODULE_LOCATION=(/updates /updates /updates)\nBUILD_EXCLUSIVE_KERNEL=^5\\.\n", "6.1.0", []bool{true, true, true}, true},
		{"per record", "BUILT_MODULE_NAME=(a b c)\nDEST_MODULE_LOCATION=(/updates /updates /updates)\nBUILD_EXCLUSIVE_KERNEL[1]=^5\\.\nBUILD_EXCLUSIVE_KERNEL[2]=^6\\.\n", "6.1.0", []bool{false, true, false}, false},
		// The man page's example: element 0 restricts record 1 as well.
		{"man page example on 6.x", "BUILT_MODULE_NAME=(a b)\nDEST_MODULE_LOCATION=(/updates /updates)\nBUILD_EXCLUSIVE_KERNEL[0]=^5\\.\nBUILD_EXCLUSIVE_KERNEL[1]=^6\\.\n", "6.1.0", []bool{true, true}, true},
		{"man page example on 5.x", "BUILT_MODULE_NAME=(a b)\nDEST_MODULE_LOCATION=(/updates /updates)\nBUILD_EXCLUSIVE_KERNEL[0]=^5\\.\nBUILD_EXCLUSIVE_KERNEL[1]=^6\\.\n", "5.10.0", []bool{false, true}, false},
		{"arch per record", "BUILT_MODULE_NAME=(a b)\nDEST_MODULE_LOCATION=(/updates /updates)\nBUILD_EXCLUSIVE_ARCH[1]=aarch64\n", "6.1.0", []bool{false, true}, false},
		{"min and max per record", "BUILT_MODULE_NAME=(a b c)\nDEST_MODULE_LOCATION=(/updates /updates /updates)\nBUILD_EXCLUSIVE_KERNEL_MIN[1]=6.2\nBUILD_EXCLUSIVE_KERNEL_MAX[2]=6.0\n", "6.1.0", []bool{false, true, true}, false},
		{"zero records never excluded", "BUILD_EXCLUSIVE_KERNEL=^5\\.\n", "6.1.0", nil, false},
		{"obsolete_by as global max", "BUILT_MODULE_NAME=(a b)\nDEST_MODULE_LOCATION=(/updates /updates)\nOBSOLETE_BY=6.0\n", "6.1.0", []bool{true, true}, true},
		{"obsolete_by below the kernel", "BUILT_MODULE_NAME=(a b)\nDEST_MODULE_LOCATION=(/updates /updates)\nOBSOLETE_BY=6.5\n", "6.1.0", []bool{false, false}, false},
		{"max wins over obsolete_by", "BUILT_MODULE_NAME=(a b)\nDEST_MODULE_LOCATION=(/updates /updates)\nBUILD_EXCLUSIVE_KERNEL_MAX=6.5\nOBSOLETE_BY=6.0\n", "6.1.0", []bool{false, false}, false},
		{"a record's own max disables obsolete_by", "BUILT_MODULE_NAME=(a b)\nDEST_MODULE_LOCATION=(/updates /updates)\nBUILD_EXCLUSIVE_KERNEL_MAX[1]=7.0\nOBSOLETE_BY=6.0\n", "6.1.0", []bool{false, false}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			p := filepath.Join(dir, "dkms.conf")
			if err := os.WriteFile(p, []byte(head+tt.conf), 0o644); err != nil {
				t.Fatal(err)
			}
			c, err := Read(context.Background(), ReadOptions{Path: p, EtcDir: dir})
			if err != nil {
				t.Fatal(err)
			}
			if got := ExcludedRecords(c.Records, tt.kernel, "x86_64", dir+"/none"); !slices.Equal(got, tt.want) {
				t.Errorf("ExcludedRecords = %v, want %v", got, tt.want)
			}
			if got := c.Excluded(tt.kernel, "x86_64", dir+"/none"); got != tt.pkg {
				t.Errorf("Excluded = %v, want %v", got, tt.pkg)
			}
		})
	}
}

func TestEffectiveDestLocation(t *testing.T) {
	t.Parallel()
	tests := []struct{ raw, distro, addon, want string }{
		{"/kernel/x", "debian", "", "/updates/dkms"},
		{"/kernel/x", "ubuntu debian", "", "/updates/dkms"},
		{"/kernel/x", "arch", "", "/updates/dkms"},
		{"/kernel/x", "fedora", "", "/extra"},
		{"/kernel/x", "rhel centos fedora", "", "/extra"},
		{"/kernel/x", "suse opensuse", "", "/updates"},
		{"/kernel/x", "alpine", "", "/kernel/x"},
		// Delta D7: centos* joins fedora/rhel, ovm* keeps the conf's value.
		{"/kernel/x", "centos", "", "/extra"},
		{"/kernel/x", "centos rhel fedora", "", "/extra"},
		{"/kernel/x", "ovm", "", "/kernel/x"},
		{"/updates", "ovm rhel fedora", "", "/updates"},
		{"/kernel/x", "debian", "addon", "/addon"},
	}
	for _, tt := range tests {
		if got := EffectiveDestLocation(tt.raw, tt.distro, tt.addon); got != tt.want {
			t.Errorf("EffectiveDestLocation(%q, %q, %q) = %q, want %q", tt.raw, tt.distro, tt.addon, got, tt.want)
		}
	}
}

var fwNames = []string{"source_tree", "dkms_tree", "verbose", "parallel_jobs", "post_transaction",
	"sign_file", "full_shell_modules"}

func TestReadFramework(t *testing.T) {
	t.Parallel()
	etc := t.TempDir()
	writeConf(t, etc, "framework.conf", "dkms_tree=/srv/dkms\nverbose=1\nparallel_jobs=3\r\nsign_file=\"/k/$kernelver/sign\"\n")
	writeConf(t, etc, "framework.conf.d/10-a.conf", "verbose=\"\"\npost_transaction='echo $HOME'\n")
	writeConf(t, etc, "framework.conf.d/20-hijacking.conf",
		"status() { echo hijacked; }\nmodule_status() { echo hijacked; }\nsource_tree=/from/hijack\nunrelated=1\n")
	writeConf(t, etc, "framework.conf.d/30-b.conf", "parallel_jobs=$((parallel_jobs + 1))\n")
	writeConf(t, etc, "framework.conf.d/ignored.txt", "dkms_tree=/wrong\n")
	var errb bytes.Buffer
	fw, err := ReadFramework(context.Background(), etc, fwNames, "6.1.0-test", []string{"HOME=/home/x"}, &errb)
	if err != nil {
		t.Fatal(err)
	}
	want := Framework{
		"dkms_tree":        "/srv/dkms",
		"verbose":          "",
		"parallel_jobs":    "4",
		"sign_file":        "/k/6.1.0-test/sign",
		"post_transaction": "echo /home/x", // the second-expansion quirk
		"source_tree":      "/from/hijack",
	}
	if len(fw) != len(want) {
		t.Errorf("framework = %q, want %q", fw, want)
	}
	for k, v := range want {
		if fw[k] != v {
			t.Errorf("%s = %q, want %q", k, fw[k], v)
		}
	}
	if FullShellFor(fw, "foo") {
		t.Error("FullShellFor without full_shell_modules")
	}
}

func TestReadFrameworkBlockedAndFullShell(t *testing.T) {
	t.Parallel()
	etc := t.TempDir()
	writeConf(t, etc, "framework.conf", "full_shell_modules='nvidia zfs'\n")
	writeConf(t, etc, "framework.conf.d/evil.conf", "dkms_tree=/x\ntouch "+etc+"/pwned\n")
	var errb bytes.Buffer
	fw, err := ReadFramework(context.Background(), etc, fwNames, "", nil, &errb)
	if err == nil || !strings.Contains(errb.String(), `command "touch" is not allowed in evil.conf`) {
		t.Errorf("err = %v, stderr = %q", err, errb.String())
	}
	if _, serr := os.Stat(filepath.Join(etc, "pwned")); serr == nil {
		t.Error("sandbox let touch run")
	}
	if _, ok := fw["dkms_tree"]; ok {
		t.Error("a refused file must not contribute values")
	}
	if !FullShellFor(fw, "zfs") || FullShellFor(fw, "foo") || !FullShellFor(Framework{"full_shell_modules": "*"}, "foo") {
		t.Errorf("FullShellFor wrong for %q", fw)
	}
}
