package dkmsconf

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dkms-go/dkms/internal/shconf"
)

func writeConf(t *testing.T, dir, name, body string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

const okBody = "PACKAGE_NAME=foo\nPACKAGE_VERSION=1.0\nBUILT_MODULE_NAME[0]=foo\nDEST_MODULE_LOCATION[0]=/updates\n"

func TestValidationMessages(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		body   string
		strict bool
		want   string
		valid  bool
	}{
		{"ok", okBody, true, "", true},
		{"no name or version", "BUILT_MODULE_NAME=x\nDEST_MODULE_LOCATION=/extra\n", false,
			"dkms.conf: Error! No 'PACKAGE_NAME' directive specified.\ndkms.conf: Error! No 'PACKAGE_VERSION' directive specified.\n", false},
		{"built name defaults only for one module", "PACKAGE_NAME=p\nPACKAGE_VERSION=1\nDEST_MODULE_LOCATION=(/extra /extra)\nBUILT_MODULE_NAME[1]=b\n", false,
			"dkms.conf: Error! No 'BUILT_MODULE_NAME' directive specified for record #0.\n", false},
		{"single module defaults to package name", "PACKAGE_NAME=p\nPACKAGE_VERSION=1\nDEST_MODULE_LOCATION=/extra\n", false, "", true},
		{"ko suffixes", "PACKAGE_NAME=p\nPACKAGE_VERSION=1\nBUILT_MODULE_NAME=a.ko\nDEST_MODULE_NAME=b.o\nDEST_MODULE_LOCATION=/extra\n", false,
			"dkms.conf: Error! 'BUILT_MODULE_NAME' directive ends in '.o' or '.ko' in record #0.\n" +
				"dkms.conf: Error! 'DEST_MODULE_NAME' directive ends in '.o' or '.ko' in record #0.\n", false},
		{"missing and bad location", "PACKAGE_NAME=p\nPACKAGE_VERSION=1\nBUILT_MODULE_NAME=(a b)\nDEST_MODULE_LOCATION[1]=/lib\n", false,
			"dkms.conf: Error! No 'DEST_MODULE_LOCATION' directive specified for record #0.\n" +
				"dkms.conf: Error! Directive 'DEST_MODULE_LOCATION' does not begin with\n'/kernel', '/updates', or '/extra' in record #1.\n", false},
		{"booleans", okBody + "AUTOINSTALL=maybe\nBUILD_DEPENDS_REBUILD=YES\nNO_WEAK_MODULES=sure\n", false,
			"dkms.conf: Error! Unsupported AUTOINSTALL value 'maybe'\ndkms.conf: Error! Unsupported NO_WEAK_MODULES value 'sure'\n", false},
		{"zero modules strict", "PACKAGE_NAME=p\nPACKAGE_VERSION=1\n", true, "dkms.conf: Warning! Zero modules specified.\n", true},
		{"zero modules not strict", "PACKAGE_NAME=p\nPACKAGE_VERSION=1\n", false, "", true},
		{"duplicates strict", "PACKAGE_NAME=p\nPACKAGE_VERSION=1\nBUILT_MODULE_NAME=(a a)\nBUILT_MODULE_LOCATION=(x x/)\nDEST_MODULE_LOCATION=(/extra /extra)\n", true,
			"dkms.conf: Error! Duplicate module 'x/a' in 'BUILT_MODULE_NAME[1]'.\ndkms.conf: Error! Duplicate module 'a' in 'DEST_MODULE_NAME[1]'.\n", false},
		{"duplicate built names before duplicate dest names", "PACKAGE_NAME=p\nPACKAGE_VERSION=1\nBUILT_MODULE_NAME=(a b b)\nDEST_MODULE_NAME=(x x y)\nDEST_MODULE_LOCATION=(/extra /extra /extra)\n", true,
			"dkms.conf: Error! Duplicate module 'b' in 'BUILT_MODULE_NAME[2]'.\ndkms.conf: Error! Duplicate module 'x' in 'DEST_MODULE_NAME[1]'.\n", false},
		{"deprecations strict", okBody + "CLEAN=true\nREMAKE_INITRD=yes\nMODULES_CONF[0]=x\n", true,
			"Deprecated feature: REMAKE_INITRD (@)\nDeprecated feature: MODULES_CONF (@)\n", true},
		{"clean deprecated", okBody + "CLEAN='make clean'\n", true, "Deprecated feature: CLEAN (@)\n", true},
		{"deprecated when set at all", okBody + "CLEAN=\nREMAKE_INITRD=\nMODULES_CONF[1]=x\n", true,
			"Deprecated feature: REMAKE_INITRD (@)\nDeprecated feature: MODULES_CONF (@)\n", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := writeConf(t, t.TempDir(), "dkms.conf", tt.body)
			var errb bytes.Buffer
			_, err := Read(context.Background(), ReadOptions{Path: p, EtcDir: t.TempDir(), Strict: tt.strict, Stderr: &errb})
			if tt.valid != (err == nil) || (err != nil && !errors.Is(err, ErrInvalid)) {
				t.Fatalf("err = %v, want valid=%v", err, tt.valid)
			}
			if want := strings.ReplaceAll(tt.want, "@", p); errb.String() != want {
				t.Errorf("stderr:\n%q\nwant:\n%q", errb.String(), want)
			}
		})
	}
}

func TestReadValues(t *testing.T) {
	t.Parallel()
	p := writeConf(t, t.TempDir(), "dkms.conf", `PACKAGE_NAME="foo"
PACKAGE_VERSION=2.1
BUILT_MODULE_NAME=(a b c)
BUILT_MODULE_LOCATION[1]=src
DEST_MODULE_NAME[2]=cc
DEST_MODULE_LOCATION=(/updates /extra /kernel/x)
STRIP=(no "" maybe)
MAKE[2]="make two"
BUILD_DEPENDS[3]=dep3
BUILD_DEPENDS[1]=dep1
AUTOINSTALL=Yes
NO_WEAK_MODULES=no
`)
	c, err := Read(context.Background(), ReadOptions{Path: p, EtcDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	want := []Record{
		{BuiltName: "a", DestName: "a", DestLocation: "/updates", Strip: false},
		{BuiltName: "b", BuiltLocation: "src/", DestName: "b", DestLocation: "/extra", Strip: false},
		{BuiltName: "c", DestName: "cc", DestLocation: "/kernel/x", Strip: true},
	}
	if len(c.Records) != len(want) {
		t.Fatalf("records = %+v", c.Records)
	}
	for i := range want {
		if c.Records[i] != want[i] {
			t.Errorf("record %d = %+v, want %+v", i, c.Records[i], want[i])
		}
	}
	// MAKE has one element, so only index 0 (a hole) is looked at.
	if len(c.Make) != 1 || c.MakeCommand("6.1.0") != "" {
		t.Errorf("Make = %q", c.Make)
	}
	if strings.Join(c.BuildDepends, " ") != "dep1 dep3" {
		t.Errorf("BuildDepends = %q", c.BuildDepends)
	}
	if !c.AutoInstall || c.NoWeakModules || c.BuildDependsRebuild {
		t.Errorf("booleans = %v %v %v", c.AutoInstall, c.NoWeakModules, c.BuildDependsRebuild)
	}
}

// TestSparseMakeAndPatch: the MAKE and PATCH loops run over as many
// indices as the arrays have elements (§4.7, §4.8), so in a sparse array
// the highest elements are never reached.
func TestSparseMakeAndPatch(t *testing.T) {
	t.Parallel()
	p := writeConf(t, t.TempDir(), "dkms.conf", okBody+`MAKE[0]="make zero"
MAKE[3]="make three"
MAKE_MATCH[3]=.
PATCH[0]=a.patch
PATCH[2]=c.patch
PATCH[1]=b.patch
PATCH[4]=e.patch
`)
	c, err := Read(context.Background(), ReadOptions{Path: p, EtcDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if got := c.MakeCommand("6.1.0"); got != "make zero" {
		t.Errorf("MakeCommand = %q, want the index-3 command unreached", got)
	}
	if got := strings.Join(c.Patches("6.1.0"), " "); got != "a.patch b.patch c.patch" {
		t.Errorf("Patches = %q, want PATCH[4] unreached", got)
	}
}

func TestStripDefaults(t *testing.T) {
	t.Parallel()
	tests := []struct {
		strip string
		want  string
	}{
		{"", "yyy"},
		{"STRIP[0]=no", "nnn"},
		{"STRIP[0]=N; STRIP[2]=y", "nny"},
		{"STRIP[1]=No", "yny"},
		{"STRIP=(yes whatever n)", "yyn"},
	}
	for _, tt := range tests {
		p := writeConf(t, t.TempDir(), "dkms.conf", "PACKAGE_NAME=p\nPACKAGE_VERSION=1\nBUILT_MODULE_NAME=(a b c)\nDEST_MODULE_LOCATION=(/extra /extra /extra)\n"+tt.strip+"\n")
		c, err := Read(context.Background(), ReadOptions{Path: p, EtcDir: t.TempDir()})
		if err != nil {
			t.Fatal(err)
		}
		got := ""
		for _, r := range c.Records {
			got += map[bool]string{true: "y", false: "n"}[r.Strip]
		}
		if got != tt.want {
			t.Errorf("%q: strip = %s, want %s", tt.strip, got, tt.want)
		}
	}
}

func TestOverrideChainAndDirectives(t *testing.T) {
	t.Parallel()
	src, etc := t.TempDir(), t.TempDir()
	p := writeConf(t, src, "dkms.conf", okBody+"MAKE[0]=make\nMAKE[1]=second\n")
	writeConf(t, etc, "foo.conf", `MAKE[0]="make m"`+"\n")
	writeConf(t, etc, "foo-1.0.conf", `MAKE[0]="${MAKE[0]} v"`+"\n")
	writeConf(t, etc, "foo-1.0-6.1.0-test.conf", `MAKE[0]="${MAKE[0]} k"`+"\n")
	writeConf(t, etc, "foo-1.0-6.1.0-test-x86_64.conf", `MAKE[0]="${MAKE[0]} a"`+"\n")
	writeConf(t, etc, "foo--6.1.0-test.conf", `MAKE[0]="${MAKE[0]} K"`+"\n")
	writeConf(t, etc, "foo--6.1.0-test-x86_64.conf", `MAKE[0]="${MAKE[0]} A"; unset 'MAKE[1]'`+"\n")
	writeConf(t, etc, "foo-1.0-5.10.conf", `MAKE[0]="wrong kernel"`+"\n")
	var out bytes.Buffer
	c, err := Read(context.Background(), ReadOptions{
		Path: p, EtcDir: etc, Module: "foo", Version: "1.0", Kernel: "6.1.0-test", Arch: "x86_64",
		Directives: []string{"PACKAGE_VERSION=1.1", "POST_ADD=a=b"}, Stdout: &out,
	})
	if err != nil {
		t.Fatal(err)
	}
	// The unset in the last override does not reach dkms: only values
	// are copied back, as upstream's safe_source does.
	if got := strings.Join(c.Make, "|"); got != "make m v k a K A|second" {
		t.Errorf("Make = %q", got)
	}
	if c.PackageVersion != "1.1" || c.PostAdd != "a=b" {
		t.Errorf("directives not applied: %q %q", c.PackageVersion, c.PostAdd)
	}
	if want := "DIRECTIVE: PACKAGE_VERSION=\"1.1\"\nDIRECTIVE: POST_ADD=\"a=b\"\n"; out.String() != want {
		t.Errorf("stdout = %q, want %q", out.String(), want)
	}
}

func TestDKMSDirectiveEnv(t *testing.T) {
	t.Parallel()
	p := writeConf(t, t.TempDir(), "dkms.conf", okBody)
	c, err := Read(context.Background(), ReadOptions{Path: p, EtcDir: t.TempDir(),
		Env: []string{"DKMS_DIRECTIVE_X=AUTOINSTALL=yes", "DKMS_DIRECTIVE=PRE_BUILD=pre.sh"}})
	if err != nil {
		t.Fatal(err)
	}
	if !c.AutoInstall || c.PreBuild != "pre.sh" {
		t.Errorf("AutoInstall=%v PreBuild=%q", c.AutoInstall, c.PreBuild)
	}
}

func TestCRLFConf(t *testing.T) {
	t.Parallel()
	p := writeConf(t, t.TempDir(), "dkms.conf", strings.ReplaceAll(okBody+"AUTOINSTALL=yes\n", "\n", "\r\n"))
	c, err := Read(context.Background(), ReadOptions{Path: p, EtcDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if c.PackageName != "foo" || c.Records[0].DestLocation != "/updates" || !c.AutoInstall {
		t.Errorf("CRLF values not clean: %+v", c)
	}
}

func TestBlockedCommand(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	p := writeConf(t, dir, "dkms.conf", okBody+"\n\nrm -rf "+dir+"/victim\n")
	victim := writeConf(t, dir, "victim", "x")
	_, err := Read(context.Background(), ReadOptions{Path: p, EtcDir: t.TempDir()})
	var se *shconf.Error
	if !errors.As(err, &se) {
		t.Fatalf("err = %v, want *shconf.Error", err)
	}
	want := p + `:7: command "rm" is not allowed in dkms.conf (sandboxed evaluation)`
	if se.Error() != want {
		t.Errorf("error = %q, want %q", se.Error(), want)
	}
	if _, err := os.Stat(victim); err != nil {
		t.Errorf("sandbox let rm run: %v", err)
	}
}

func TestNotFound(t *testing.T) {
	t.Parallel()
	_, err := Read(context.Background(), ReadOptions{Path: filepath.Join(t.TempDir(), "nope")})
	if !errors.Is(err, ErrNotFound) {
		t.Fatalf("err = %v, want ErrNotFound", err)
	}
}

func FuzzRead(f *testing.F) {
	f.Add([]byte(okBody))
	f.Add([]byte("PACKAGE_NAME=$(uname -r)\nMAKE=(a [5]=b)\nSTRIP[2]=n\r\n"))
	f.Add([]byte("X=`cat /etc/hostname`; PATCH_MATCH[0]='('\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		dir := t.TempDir()
		p := filepath.Join(dir, "dkms.conf")
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		// A runaway input would otherwise use the 10s default deadline,
		// which the fuzzing engine reports as a hung worker.
		ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
		defer cancel()
		c, err := Read(ctx, ReadOptions{Path: p, EtcDir: dir, Strict: true})
		if c != nil {
			_ = c.MakeCommand("6.1.0-13-amd64")
			_ = c.Patches("6.1.0-13-amd64")
			_ = c.Excluded("6.1.0-13-amd64", "x86_64", filepath.Join(dir, "nope"))
		}
		_ = err
	})
}
