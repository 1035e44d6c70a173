package dkmsconf

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCheckNames: the conf's names go through modname's rule, and the
// error names the file and the directive. A newline is checked too,
// though the read-back of §4.2 turns one in a conf into a space.
func TestCheckNames(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, version, want string
	}{
		{"foo", "1.0", ""},
		{"", "", ""},
		{"foo", "../../../../tmp/x/pwn", `/s/dkms.conf: PACKAGE_VERSION "../../../../tmp/x/pwn" contains '/'`},
		{"../../tmp/x/victim", "1", `/s/dkms.conf: PACKAGE_NAME "../../tmp/x/victim" contains '/'`},
		{"foo", "1\nx", `/s/dkms.conf: PACKAGE_VERSION "1\nx" contains a newline`},
		{"..", "1", `/s/dkms.conf: PACKAGE_NAME ".." is a relative directory name`},
	} {
		c := &Conf{Path: "/s/dkms.conf", PackageName: tc.name, PackageVersion: tc.version}
		err := c.CheckNames()
		got := ""
		if err != nil {
			got = err.Error()
			var ne *NameError
			if !errors.As(err, &ne) {
				t.Errorf("%v is not a *NameError", err)
			}
		}
		if got != tc.want {
			t.Errorf("CheckNames(%q, %q) = %q, want %q", tc.name, tc.version, got, tc.want)
		}
	}
}

// TestReadRefusesConfLinkLeavingItsDirectory: a dkms.conf linking out of
// its directory is not read, so nothing of the target can show in a parse
// error; links inside the directory, and a directory that is a link, are
// read as before.
func TestReadRefusesConfLinkLeavingItsDirectory(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	secret := filepath.Join(root, "shadow")
	os.WriteFile(secret, []byte("root:SECRETHASH:19000::::::\n"), 0o600)
	src := filepath.Join(root, "src")
	os.Mkdir(src, 0o755)
	os.WriteFile(filepath.Join(src, "dkms.conf.in"), []byte("PACKAGE_NAME=foo\nPACKAGE_VERSION=1.0\n"), 0o644)
	linkDir := filepath.Join(root, "source")
	os.Symlink(src, linkDir)
	for _, tc := range []struct {
		link, target string
		refused      bool
	}{
		{"out/dkms.conf", "../shadow", true},
		{"abs/dkms.conf", secret, true},
		{"in/dkms.conf", "dkms.conf.in", false},
	} {
		dir := filepath.Join(root, filepath.Dir(tc.link))
		os.Mkdir(dir, 0o755)
		if !tc.refused {
			os.WriteFile(filepath.Join(dir, "dkms.conf.in"), []byte("PACKAGE_NAME=foo\nPACKAGE_VERSION=1.0\n"), 0o644)
		}
		p := filepath.Join(root, tc.link)
		if err := os.Symlink(tc.target, p); err != nil {
			t.Fatal(err)
		}
		var stderr strings.Builder
		_, err := Read(context.Background(), ReadOptions{Path: p, EtcDir: root + "/etc", Stderr: &stderr})
		if tc.refused != errors.Is(err, ErrLinkOutside) {
			t.Errorf("%s -> %s: Read = %v, refused want %v", tc.link, tc.target, err, tc.refused)
		}
		if err != nil && strings.Contains(err.Error()+stderr.String(), "SECRETHASH") {
			t.Errorf("%s: target content shown: %v %s", tc.link, err, stderr.String())
		}
	}
	os.WriteFile(filepath.Join(src, "dkms.conf"), []byte("PACKAGE_NAME=foo\nPACKAGE_VERSION=1.0\n"), 0o644)
	if _, err := Read(context.Background(), ReadOptions{Path: filepath.Join(linkDir, "dkms.conf"), EtcDir: root + "/etc"}); errors.Is(err, ErrLinkOutside) {
		t.Errorf("a conf below a linked directory was refused: %v", err)
	}
}
