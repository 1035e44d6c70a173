package pkgbuild

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/dkms-go/dkms/internal/testenv"
)

func TestValidateRefusesBadSpecs(t *testing.T) {
	t.Parallel()
	src := moduleSource(t, "foo", "1.0")
	noConf := t.TempDir()
	good := builtDir(t, "foo", "6.1.0-a", "x86_64")
	unbuilt := Binary{Kernel: "6.1.0-b", Arch: "x86_64", Dir: t.TempDir()}
	tests := []struct {
		name string
		s    Spec
		want string
	}{
		{"no module", Spec{Version: "1.0", SourceDir: src}, "must be set"},
		{"no version", Spec{Module: "foo", SourceDir: src}, "must be set"},
		{"slash in module", Spec{Module: "a/b", Version: "1.0", SourceDir: src}, `module name "a/b" contains '/'`},
		{"dotdot version", Spec{Module: "foo", Version: "..", SourceDir: src}, `module version ".." is a relative directory name`},
		{"escaping version", Spec{Module: "foo", Version: "../../../../tmp/x/pwn", SourceDir: src}, `module version "../../../../tmp/x/pwn" contains '/'`},
		{"newline in version", Spec{Module: "foo", Version: "1.0\nbar", SourceDir: src}, `module version "1.0\nbar" contains a newline`},
		{"option-like module", Spec{Module: "-foo", Version: "1.0", SourceDir: src}, `module name "-foo" starts with '-'`},
		{"space in version", Spec{Module: "foo", Version: "1 0", SourceDir: src}, "cannot be used"},
		{"one-letter package", Spec{Module: "_", Version: "1.0", SourceDir: src}, "invalid package name"},
		{"no dkms.conf", Spec{Module: "foo", Version: "1.0", SourceDir: noConf}, "dkms.conf"},
		{"binary not built", Spec{Module: "foo", Version: "1.0", SourceDir: src, Binaries: []Binary{unbuilt}}, "no modules built for 6.1.0-b (x86_64)"},
		{"binary kernel escapes", Spec{Module: "foo", Version: "1.0", SourceDir: src, Binaries: []Binary{{Kernel: "..", Arch: "x86_64", Dir: good.Dir}}}, "invalid name"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			for _, build := range []func(context.Context, Spec, string) (string, error){BuildDeb, BuildRPM} {
				out := t.TempDir()
				_, err := build(context.Background(), tc.s, out)
				if err == nil || !strings.Contains(err.Error(), tc.want) {
					t.Errorf("error %v, want one containing %q", err, tc.want)
				}
				if ents, _ := os.ReadDir(out); len(ents) != 0 {
					t.Errorf("files left in the output directory: %v", ents)
				}
			}
		})
	}
}

func TestBuildDebRefusesVersionDpkgRejects(t *testing.T) {
	t.Parallel()
	s := Spec{Module: "foo", Version: "v1_0", SourceDir: moduleSource(t, "foo", "v1_0")}
	if _, err := BuildDeb(context.Background(), s, t.TempDir()); err == nil || !strings.Contains(err.Error(), "not a valid Debian version") {
		t.Errorf("BuildDeb = %v, want a version error", err)
	}
}

func TestArchitectures(t *testing.T) {
	t.Parallel()
	bin := func(arch string) Binary { return Binary{Kernel: "k", Arch: arch} }
	tests := []struct {
		name     string
		arch     string
		binaries []Binary
		deb, rpm string
		wantErr  bool
	}{
		{"source only", "", nil, "all", "noarch", false},
		{"explicit all", "all", []Binary{bin("x86_64")}, "all", "noarch", false},
		{"explicit noarch", "noarch", nil, "all", "noarch", false},
		{"from binaries", "", []Binary{bin("x86_64"), bin("x86_64")}, "amd64", "x86_64", false},
		{"i686 binaries", "", []Binary{bin("i686")}, "i386", "i686", false},
		{"arm64 binaries", "", []Binary{bin("aarch64")}, "arm64", "aarch64", false},
		{"debian name given", "amd64", nil, "amd64", "x86_64", false},
		{"machine name given", "ppc64le", nil, "ppc64el", "ppc64le", false},
		{"mixed binaries", "", []Binary{bin("x86_64"), bin("i686")}, "", "", true},
		{"unknown to debian", "sparc64", nil, "", "sparc64", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := Spec{Arch: tc.arch, Binaries: tc.binaries}
			deb, derr := s.debArch()
			rpm, rerr := s.rpmArch()
			if tc.wantErr != (derr != nil) {
				t.Errorf("debArch error %v, want error %v", derr, tc.wantErr)
			}
			if derr == nil && deb != tc.deb {
				t.Errorf("debArch = %q, want %q", deb, tc.deb)
			}
			if rerr == nil && rpm != tc.rpm {
				t.Errorf("rpmArch = %q, want %q", rpm, tc.rpm)
			}
		})
	}
}

func TestPackageNameAndQuoting(t *testing.T) {
	t.Parallel()
	names := map[string]string{"foo": "foo-dkms", "My_Driver": "my-driver-dkms", "r8168": "r8168-dkms"}
	for in, want := range names {
		if got := packageName(in); got != want {
			t.Errorf("packageName(%q) = %q, want %q", in, got, want)
		}
	}
	for _, s := range []string{"plain", "it's", `a"b$c` + "`d`", ""} {
		out, err := exec.Command("sh", "-c", "printf %s "+shellQuote(s)).Output()
		if err != nil || string(out) != s {
			t.Errorf("shellQuote(%q) round trip gave %q, %v", s, out, err)
		}
	}
}

func TestScriptsAreValidShell(t *testing.T) {
	t.Parallel()
	testenv.RequireTools(t, "sh")
	s := Spec{Module: "it's", Version: "1.0", Binaries: []Binary{{Kernel: "6.1.0-1", Arch: "x86_64"}}}
	for name, body := range map[string]string{"postinst": postinst(s), "prerm": prerm(s), "post": rpmPost(s), "preun": rpmPreun(s)} {
		p := filepath.Join(t.TempDir(), name)
		if err := os.WriteFile(p, []byte(body), 0o755); err != nil {
			t.Fatal(err)
		}
		if out, err := exec.Command("sh", "-n", p).CombinedOutput(); err != nil {
			t.Errorf("%s: sh -n: %v\n%s", name, err, out)
		}
		if !strings.Contains(body, `NAME='it'\''s'`) || !strings.Contains(body, "PREBUILT='6.1.0-1/x86_64'") {
			t.Errorf("%s: variables not set as expected:\n%s", name, body)
		}
	}
}

// TestArFormat parses the writer's output field by field.
func TestArFormat(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	a := &arWriter{w: &buf}
	members := []struct {
		name string
		data string
	}{{"debian-binary", "2.0\n"}, {"odd", "abc"}, {"empty", ""}}
	for _, m := range members {
		if err := a.add(m.name, 1700000000, 0o100644, []byte(m.data)); err != nil {
			t.Fatal(err)
		}
	}
	if err := a.add("a-name-longer-than-16", 0, 0o100644, nil); err == nil {
		t.Error("long member name accepted")
	}
	b := buf.Bytes()
	if !bytes.HasPrefix(b, []byte("!<arch>\n")) {
		t.Fatalf("no ar magic: %q", b[:8])
	}
	b = b[8:]
	for _, m := range members {
		if len(b) < 60 {
			t.Fatalf("short archive at %s", m.name)
		}
		h := string(b[:60])
		if got := strings.TrimRight(h[:16], " "); got != m.name {
			t.Errorf("name %q, want %q", got, m.name)
		}
		if strings.TrimSpace(h[16:28]) != "1700000000" || strings.TrimSpace(h[28:34]) != "0" || strings.TrimSpace(h[40:48]) != "100644" {
			t.Errorf("%s: header fields %q", m.name, h)
		}
		size, err := strconv.Atoi(strings.TrimSpace(h[48:58]))
		if err != nil || size != len(m.data) || h[58:] != "`\n" {
			t.Errorf("%s: size field %q / terminator %q", m.name, h[48:58], h[58:])
		}
		if got := string(b[60 : 60+size]); got != m.data {
			t.Errorf("%s: data %q", m.name, got)
		}
		b = b[60+size+size%2:]
	}
	if len(b) != 0 {
		t.Errorf("%d trailing bytes", len(b))
	}
	if _, err := exec.LookPath("ar"); err == nil {
		p := filepath.Join(t.TempDir(), "x.a")
		os.WriteFile(p, buf.Bytes(), 0o644)
		out, err := exec.Command("ar", "t", p).Output()
		if err != nil || string(out) != "debian-binary\nodd\nempty\n" {
			t.Errorf("ar t: %q, %v", out, err)
		}
	}
}
