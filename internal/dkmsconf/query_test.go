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
		c      Conf
		kernel string
		arch   string
		config string
		want   bool
	}{
		{"nothing", Conf{}, "6.1", "x86_64", cfg, false},
		{"kernel regex match", Conf{BuildExclusiveKernel: "^6\\."}, "6.1.0", "x86_64", cfg, false},
		{"kernel regex miss", Conf{BuildExclusiveKernel: "^5\\."}, "6.1.0", "x86_64", cfg, true},
		{"min ok", Conf{BuildExclusiveKernelMin: "4.18"}, "6.1.0-13-amd64", "x86_64", cfg, false},
		{"min too old", Conf{BuildExclusiveKernelMin: "5.10"}, "5.9.0", "x86_64", cfg, true},
		{"max rc", Conf{BuildExclusiveKernelMax: "4.12"}, "4.12-rc1", "x86_64", cfg, true},
		{"max equal", Conf{BuildExclusiveKernelMax: "4.12"}, "4.12", "x86_64", cfg, false},
		{"obsolete_by as max", Conf{ObsoleteBy: "6.0"}, "6.1.0", "x86_64", cfg, true},
		{"max wins over obsolete_by", Conf{BuildExclusiveKernelMax: "6.5", ObsoleteBy: "6.0"}, "6.1.0", "x86_64", cfg, false},
		{"arch miss", Conf{BuildExclusiveArch: "aarch64"}, "6.1", "x86_64", cfg, true},
		{"arch match", Conf{BuildExclusiveArch: "x86_64|i.86"}, "6.1", "i686", cfg, false},
		{"config present", Conf{BuildExclusiveConfig: "CONFIG_A CONFIG_B"}, "6.1", "x86_64", cfg, false},
		{"config absent", Conf{BuildExclusiveConfig: "CONFIG_A CONFIG_C"}, "6.1", "x86_64", cfg, true},
		{"config =n is absent", Conf{BuildExclusiveConfig: "CONFIG_D"}, "6.1", "x86_64", cfg, true},
		{"negated present", Conf{BuildExclusiveConfig: "!CONFIG_B"}, "6.1", "x86_64", cfg, true},
		{"negated absent", Conf{BuildExclusiveConfig: "!CONFIG_C"}, "6.1", "x86_64", cfg, false},
		{"no config file", Conf{BuildExclusiveConfig: "CONFIG_Z"}, "6.1", "x86_64", cfg + ".missing", false},
	}
	for _, tt := range tests {
		if got := tt.c.Excluded(tt.kernel, tt.arch, tt.config); got != tt.want {
			t.Errorf("%s: Excluded = %v, want %v", tt.name, got, tt.want)
		}
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
