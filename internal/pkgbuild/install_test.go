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

// fakeDkms records its arguments in /dkms.log inside the chroot; the exit
// status of an action comes from /fake/<action>-<kernel>-once-rc (used
// once), /fake/<action>-<kernel>-rc or /fake/<action>-rc when one exists, and
// `status` prints /fake/status.
const fakeDkms = `#!/bin/sh
echo "$*" >> /dkms.log
if [ "$1" = status ] && [ -f /fake/status ]; then
	while read -r line; do echo "$line"; done < /fake/status
fi
k=
prev=
for a in "$@"; do
	[ "$prev" = -k ] && k=$a
	prev=$a
done
for f in "/fake/$1-$k-once-rc" "/fake/$1-$k-rc" "/fake/$1-rc"; do
	if [ -f "$f" ]; then
		read -r rc < "$f"
		case "$f" in *-once-rc) rm "$f" ;; esac
		exit "$rc"
	fi
done
exit 0
`

// fakeUname pins the "running" kernel inside the chroot.
const fakeUname = `#!/bin/sh
case "$1" in
-r) echo 6.1.0-test ;;
-m) echo x86_64 ;;
*) echo Linux ;;
esac
`

// chrootRoot builds a minimal system for `dpkg --root`: a dpkg database
// where dkms is installed, busybox as /bin/sh, a fake dkms and uname, and
// four kernels: 6.1.0-test (running, headers), 6.1.0-hdr2 (headers),
// 6.1.0-pre and 6.1.0-nohdr (no headers).
func chrootRoot(t *testing.T, fake map[string]string) string {
	t.Helper()
	root := t.TempDir()
	for _, d := range []string{"var/lib/dpkg/info", "var/lib/dpkg/updates", "var/lib/dpkg/triggers",
		"bin", "usr/sbin", "usr/bin", "sbin", "tmp", "fake", "etc/dkms",
		"lib/modules/6.1.0-test/build/include", "lib/modules/6.1.0-hdr2/build/include",
		"lib/modules/6.1.0-pre/kernel", "lib/modules/6.1.0-nohdr/kernel"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	busybox, err := exec.LookPath("busybox")
	if err != nil {
		t.Skipf("busybox-static not installed: %v", err)
	}
	files := map[string]string{
		"var/lib/dpkg/status": "Package: dkms\nStatus: install ok installed\nPriority: optional\nSection: kernel\n" +
			"Maintainer: Test <test@localhost>\nArchitecture: all\nVersion: 3.2.2\nDescription: fake dkms\n\n",
		"var/lib/dpkg/available": "",
		"usr/sbin/dkms":          fakeDkms,
		"bin/uname":              fakeUname,
	}
	for name, body := range fake {
		files["fake/"+name] = body
	}
	for rel, body := range files {
		if err := os.WriteFile(filepath.Join(root, rel), []byte(body), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	bb, err := os.ReadFile(busybox)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "bin/busybox"), bb, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, applet := range []string{"sh", "rm", "cat", "mkdir", "mv", "ln", "chmod", "true", "false"} {
		if err := os.Symlink("busybox", filepath.Join(root, "bin", applet)); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

// dpkg runs dpkg against root with a PATH that finds the chroot's tools.
func dpkg(root string, args ...string) (string, error) {
	cmd := exec.Command("dpkg", append([]string{"--root=" + root, "--log=/dev/null"}, args...)...)
	cmd.Env = append(os.Environ(), "PATH=/usr/sbin:/usr/bin:/sbin:/bin")
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func TestDebInstallRunsDkms(t *testing.T) {
	t.Parallel()
	testenv.RequireRoot(t)
	testenv.RequireTools(t, "dpkg", "dpkg-deb")
	srcOnly := []string{
		"build -m foo -v 1.0 -k 6.1.0-hdr2",
		"install -m foo -v 1.0 -k 6.1.0-hdr2",
		"build -m foo -v 1.0 -k 6.1.0-test",
		"install -m foo -v 1.0 -k 6.1.0-test",
	}
	tests := []struct {
		name     string
		binaries bool
		fake     map[string]string
		wantFail bool
		want     []string // the dkms calls of the postinst, in order
	}{
		{"source only", false, nil, false, append([]string{"add -m foo -v 1.0"}, srcOnly...)},
		{"prebuilt for a kernel without headers", true, nil, false, []string{
			"ldtarball /usr/share/foo-dkms/foo-1.0.dkms.tar.gz",
			"build -m foo -v 1.0 -k 6.1.0-hdr2",
			"install -m foo -v 1.0 -k 6.1.0-hdr2",
			"install -m foo -v 1.0 -k 6.1.0-pre",
			"build -m foo -v 1.0 -k 6.1.0-test",
			"install -m foo -v 1.0 -k 6.1.0-test",
		}},
		{"prebuilt archive refused falls back to source", true, map[string]string{"ldtarball-rc": "8\n"}, false,
			append([]string{"ldtarball /usr/share/foo-dkms/foo-1.0.dkms.tar.gz", "add -m foo -v 1.0"}, srcOnly...)},
		{"prebuilt install failure without headers is skipped", true, map[string]string{"install-6.1.0-pre-rc": "6\n"}, false, []string{
			"ldtarball /usr/share/foo-dkms/foo-1.0.dkms.tar.gz",
			"build -m foo -v 1.0 -k 6.1.0-hdr2",
			"install -m foo -v 1.0 -k 6.1.0-hdr2",
			"install -m foo -v 1.0 -k 6.1.0-pre",
			"build -m foo -v 1.0 -k 6.1.0-test",
			"install -m foo -v 1.0 -k 6.1.0-test",
		}},
		{"prebuilt install failure with headers compiles", true, map[string]string{"install-6.1.0-pre-once-rc": "6\n", "pre-has-headers": ""}, false, []string{
			"ldtarball /usr/share/foo-dkms/foo-1.0.dkms.tar.gz",
			"build -m foo -v 1.0 -k 6.1.0-hdr2",
			"install -m foo -v 1.0 -k 6.1.0-hdr2",
			"install -m foo -v 1.0 -k 6.1.0-pre",
			"build -m foo -v 1.0 -k 6.1.0-pre",
			"install -m foo -v 1.0 -k 6.1.0-pre",
			"build -m foo -v 1.0 -k 6.1.0-test",
			"install -m foo -v 1.0 -k 6.1.0-test",
		}},
		{"already added is tolerated", false, map[string]string{"add-rc": "3\n"}, false, append([]string{"add -m foo -v 1.0"}, srcOnly...)},
		{"add failure fails the configure", false, map[string]string{"add-rc": "1\n"}, true, []string{"add -m foo -v 1.0"}},
		{"build excluded for a kernel", false, map[string]string{"build-rc": "77\n"}, false, []string{
			"add -m foo -v 1.0", "build -m foo -v 1.0 -k 6.1.0-hdr2", "build -m foo -v 1.0 -k 6.1.0-test"}},
		{"build failure fails the configure", false, map[string]string{"build-rc": "10\n"}, true, []string{
			"add -m foo -v 1.0", "build -m foo -v 1.0 -k 6.1.0-hdr2"}},
		{"autoinstall disabled", false, map[string]string{}, false, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			root := chrootRoot(t, tc.fake)
			if _, ok := tc.fake["pre-has-headers"]; ok {
				if err := os.MkdirAll(filepath.Join(root, "lib/modules/6.1.0-pre/build/include"), 0o755); err != nil {
					t.Fatal(err)
				}
			}
			if tc.name == "autoinstall disabled" {
				if err := os.WriteFile(filepath.Join(root, "etc/dkms/no-autoinstall"), nil, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			s := Spec{Module: "foo", Version: "1.0", SourceDir: moduleSource(t, "foo", "1.0")}
			if tc.binaries {
				s.Binaries = []Binary{builtDir(t, "foo", "6.1.0-pre", "x86_64")}
			}
			deb, err := BuildDeb(context.Background(), s, t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			out, err := dpkg(root, "-i", deb)
			if (err != nil) != tc.wantFail {
				t.Fatalf("dpkg -i: err %v, want failure %v\n%s", err, tc.wantFail, out)
			}
			if got := dkmsLog(t, root); strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("postinst ran dkms as:\n%s\nwant:\n%s\ndpkg output:\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"), out)
			}
			if _, err := os.Stat(filepath.Join(root, "usr/src/foo-1.0/dkms.conf")); err != nil {
				t.Errorf("source not unpacked: %v", err)
			}
			if tc.wantFail {
				return
			}

			// Removal: prerm removes the module from every kernel.
			os.Remove(filepath.Join(root, "dkms.log"))
			if err := os.WriteFile(filepath.Join(root, "fake/status"), []byte("foo/1.0: added\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			if out, err := dpkg(root, "-r", "foo-dkms"); err != nil {
				t.Fatalf("dpkg -r: %v\n%s", err, out)
			}
			want := []string{"status -m foo -v 1.0", "remove -m foo -v 1.0 --all"}
			if got := dkmsLog(t, root); strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Errorf("prerm ran dkms as:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
			if _, err := os.Stat(filepath.Join(root, "usr/src/foo-1.0")); err == nil {
				t.Error("source left behind after dpkg -r")
			}
		})
	}
}

func dkmsLog(t *testing.T, root string) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, "dkms.log"))
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
}
