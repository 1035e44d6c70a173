package pkgbuild

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dkms-go/dkms/internal/tarball"
	"github.com/dkms-go/dkms/internal/testenv"
)

func TestBuildDebReadByDpkgDeb(t *testing.T) {
	t.Parallel()
	testenv.RequireTools(t, "dpkg-deb")
	tests := []struct {
		name         string
		binaries     bool
		wantFile     string
		wantArch     string
		wantContents []string
		absent       []string
	}{
		{"source only", false, "foo-dkms_1.0_all.deb", "all",
			[]string{"./usr/src/foo-1.0/dkms.conf", "./usr/src/foo-1.0/foo.c", "./usr/src/foo-1.0/Makefile",
				"./usr/src/foo-1.0/patches/fix.sh", "./usr/src/foo-1.0/link.c -> foo.c"},
			[]string{"/usr/share/foo-dkms"}},
		{"with binaries", true, "foo-dkms_1.0_amd64.deb", "amd64",
			[]string{"./usr/src/foo-1.0/dkms.conf", "./usr/share/foo-dkms/foo-1.0.dkms.tar.gz"}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := Spec{Module: "foo", Version: "1.0", SourceDir: moduleSource(t, "foo", "1.0")}
			if tc.binaries {
				s.Binaries = []Binary{builtDir(t, "foo", "6.1.0-pre", "x86_64"), builtDir(t, "foo", "6.1.0-other", "x86_64")}
			}
			out := t.TempDir()
			deb, err := BuildDeb(context.Background(), s, out)
			if err != nil {
				t.Fatalf("BuildDeb: %v", err)
			}
			if deb != filepath.Join(out, tc.wantFile) {
				t.Errorf("path %s, want %s", deb, tc.wantFile)
			}
			info := run(t, "dpkg-deb", "--info", deb)
			for _, want := range []string{" Package: foo-dkms\n", " Version: 1.0\n", " Architecture: " + tc.wantArch + "\n",
				" Depends: dkms\n", " Description: foo driver in DKMS format.\n", "postinst", "prerm", "md5sums"} {
				if !strings.Contains(info, want) {
					t.Errorf("dpkg-deb --info lacks %q:\n%s", want, info)
				}
			}
			contents := run(t, "dpkg-deb", "--contents", deb)
			for _, want := range tc.wantContents {
				if !strings.Contains(contents, want) {
					t.Errorf("dpkg-deb --contents lacks %q:\n%s", want, contents)
				}
			}
			for _, no := range tc.absent {
				if strings.Contains(contents, no) {
					t.Errorf("dpkg-deb --contents has %q:\n%s", no, contents)
				}
			}
			if !strings.Contains(contents, "root/root") {
				t.Errorf("files not owned by root:\n%s", contents)
			}

			// The md5sums must match what dpkg unpacks.
			x := t.TempDir()
			run(t, "dpkg-deb", "-x", deb, x)
			ctl := t.TempDir()
			run(t, "dpkg-deb", "-e", deb, ctl)
			sums, err := os.ReadFile(filepath.Join(ctl, "md5sums"))
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(sums), "  usr/src/foo-1.0/dkms.conf\n") {
				t.Errorf("md5sums:\n%s", sums)
			}
			testenv.RequireTools(t, "md5sum")
			cmdOut := run(t, "sh", "-c", "cd "+x+" && md5sum -c "+filepath.Join(ctl, "md5sums"))
			if strings.Contains(cmdOut, "FAILED") {
				t.Errorf("md5sum -c: %s", cmdOut)
			}
			for _, script := range []string{"postinst", "prerm"} {
				run(t, "sh", "-n", filepath.Join(ctl, script))
			}
			if tc.binaries {
				checkBinariesArchive(t, filepath.Join(x, "usr/share/foo-dkms/foo-1.0.dkms.tar.gz"), s)
			}
		})
	}
}

// checkBinariesArchive proves the shipped archive has the binaries-only
// mktarball layout of spec §9 that ldtarball expects.
func checkBinariesArchive(t *testing.T, archive string, s Spec) {
	t.Helper()
	dest := t.TempDir()
	if err := tarball.Extract(context.Background(), archive, dest, tarball.Limits{}); err != nil {
		t.Fatalf("extracting the binaries archive: %v", err)
	}
	want := map[string]string{
		"dkms_binaries_only/PACKAGE_NAME":                 "foo\n",
		"dkms_binaries_only/PACKAGE_VERSION":              "1.0\n",
		"dkms_main_tree/6.1.0-pre/x86_64/module/foo.ko":   "\x7fELF prebuilt for 6.1.0-pre",
		"dkms_main_tree/6.1.0-other/x86_64/module/foo.ko": "\x7fELF prebuilt for 6.1.0-other",
		"dkms_main_tree/6.1.0-pre/x86_64/log/make.log":    "DKMS make.log for foo for kernel 6.1.0-pre\n",
		"dkms_binaries_only/dkms.conf":                    mustRead(t, filepath.Join(s.SourceDir, "dkms.conf")),
	}
	for rel, body := range want {
		got, err := os.ReadFile(filepath.Join(dest, rel))
		if err != nil || string(got) != body {
			t.Errorf("%s = %q, %v; want %q", rel, got, err, body)
		}
	}
	if _, err := os.Stat(filepath.Join(dest, "dkms_source_tree")); err == nil {
		t.Error("binaries archive also carries a dkms_source_tree")
	}
	list := run(t, "tar", "-tzf", archive)
	if !strings.HasPrefix(list, "./\n") {
		t.Errorf("archive does not start with ./:\n%s", list)
	}
}

func mustRead(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
