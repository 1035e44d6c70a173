package pkgbuild

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dkms-go/dkms/internal/testenv"
)

func TestBuildRPMReadByRpm(t *testing.T) {
	t.Parallel()
	testenv.RequireTools(t, "rpm")
	tests := []struct {
		name     string
		version  string
		binaries bool
		wantFile string
		wantInfo []string
		wantList []string
	}{
		{"source only", "1.0", false, "foo-dkms-1.0-1.noarch.rpm",
			[]string{"Name        : foo-dkms", "Version     : 1.0", "Release     : 1", "Architecture: noarch", "Summary     : foo driver in DKMS format."},
			[]string{"/usr/src/foo-1.0", "/usr/src/foo-1.0/dkms.conf", "/usr/src/foo-1.0/foo.c", "/usr/src/foo-1.0/link.c", "/usr/src/foo-1.0/patches/fix.sh"}},
		{"with binaries", "2.1-rc1", true, "foo-dkms-2.1_rc1-1.x86_64.rpm",
			[]string{"Name        : foo-dkms", "Version     : 2.1_rc1", "Architecture: x86_64"},
			[]string{"/usr/src/foo-2.1-rc1/dkms.conf", "/usr/share/foo-dkms", "/usr/share/foo-dkms/foo-2.1-rc1.dkms.tar.gz"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := Spec{Module: "foo", Version: tc.version, SourceDir: moduleSource(t, "foo", tc.version)}
			if tc.binaries {
				s.Binaries = []Binary{builtDir(t, "foo", "6.1.0-pre", "x86_64")}
			}
			out := t.TempDir()
			p, err := BuildRPM(context.Background(), s, out)
			if err != nil {
				t.Fatalf("BuildRPM: %v", err)
			}
			if p != filepath.Join(out, tc.wantFile) {
				t.Errorf("path %s, want %s", p, tc.wantFile)
			}
			info := run(t, "rpm", "-qip", p)
			for _, want := range tc.wantInfo {
				if !strings.Contains(info, want) {
					t.Errorf("rpm -qip lacks %q:\n%s", want, info)
				}
			}
			list := strings.Split(strings.TrimSpace(run(t, "rpm", "-qlp", p)), "\n")
			for _, want := range tc.wantList {
				if !contains(list, want) {
					t.Errorf("rpm -qlp lacks %q:\n%s", want, strings.Join(list, "\n"))
				}
			}
			for _, system := range []string{"/usr", "/usr/src", "/usr/share"} {
				if contains(list, system) {
					t.Errorf("package owns the system directory %s", system)
				}
			}
			if req := run(t, "rpm", "-qp", "--requires", p); !strings.Contains(req, "dkms\n") {
				t.Errorf("requires:\n%s", req)
			}
			scripts := run(t, "rpm", "-qp", "--scripts", p)
			for _, want := range []string{"postinstall scriptlet", "preuninstall scriptlet",
				`dkms add -m "$NAME" -v "$VERSION"$ADD_FLAGS`, "ADD_FLAGS=' --rpm_safe_upgrade'",
				`dkms remove -m "$NAME" -v "$VERSION" --all --rpm_safe_upgrade`, "VERSION='" + tc.version + "'"} {
				if !strings.Contains(scripts, want) {
					t.Errorf("scripts lack %q:\n%s", want, scripts)
				}
			}
			if v := run(t, "rpm", "-Kv", "--nosignature", p); !strings.Contains(v, "OK") {
				t.Errorf("rpm -K:\n%s", v)
			}
		})
	}
}

func contains(list []string, s string) bool {
	for _, l := range list {
		if l == s {
			return true
		}
	}
	return false
}

// TestRPMInstallRunsDkms installs the package into a chroot with rpm
// --root, where %post and %preun run against the fake dkms.
func TestRPMInstallRunsDkms(t *testing.T) {
	t.Parallel()
	testenv.RequireRoot(t)
	testenv.RequireTools(t, "rpm")
	root := chrootRoot(t, nil)
	s := Spec{Module: "foo", Version: "1.0", SourceDir: moduleSource(t, "foo", "1.0"),
		Binaries: []Binary{builtDir(t, "foo", "6.1.0-pre", "x86_64")}}
	p, err := BuildRPM(context.Background(), s, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	rpm := func(args ...string) string {
		t.Helper()
		cmd := exec.Command("rpm", append([]string{"--root", root, "--dbpath", "/var/lib/rpm"}, args...)...)
		cmd.Env = append(os.Environ(), "PATH=/usr/sbin:/usr/bin:/sbin:/bin")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("rpm %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	rpm("--initdb")
	out := rpm("-i", "--nodeps", "--ignorearch", p)
	want := []string{
		"ldtarball /usr/share/foo-dkms/foo-1.0.dkms.tar.gz",
		"build -m foo -v 1.0 -k 6.1.0-hdr2",
		"install -m foo -v 1.0 -k 6.1.0-hdr2",
		"install -m foo -v 1.0 -k 6.1.0-pre",
		"build -m foo -v 1.0 -k 6.1.0-test",
		"install -m foo -v 1.0 -k 6.1.0-test",
	}
	if got := dkmsLog(t, root); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("%%post ran dkms as:\n%s\nwant:\n%s\nrpm output:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"), out)
	}
	os.Remove(filepath.Join(root, "dkms.log"))
	if err := os.WriteFile(filepath.Join(root, "fake/status"), []byte("foo/1.0: added\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	rpm("-e", "--nodeps", "foo-dkms")
	want = []string{"status -m foo -v 1.0", "remove -m foo -v 1.0 --all --rpm_safe_upgrade"}
	if got := dkmsLog(t, root); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("%%preun ran dkms as:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
