package cli

import (
	"io"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/dkms-go/dkms/internal/options"
)

type sink struct{ silenced bool }

func (s *sink) Stderr() io.Writer { return io.Discard }
func (s *sink) Silence()          { s.silenced = true }

func TestParse(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "dkms.conf"), []byte("x"), 0o644)
	archive := filepath.Join(dir, "foo.dkms.tar.gz")
	os.WriteFile(archive, []byte("x"), 0o644)
	str := func(s string) *string { return &s }
	cases := []struct {
		args []string
		want options.Options
	}{
		{[]string{"build", "foo/1.0/extra"}, options.Options{Action: "build", Module: "foo", Version: "1.0/extra"}},
		{[]string{"-m", "foo", "-v", "2"}, options.Options{Module: "foo", Version: "2"}},
		{[]string{"--module=foo/3", "status"}, options.Options{Action: "status", Module: "foo", Version: "3"}},
		{[]string{"--modulexyz=a/b"}, options.Options{Module: "a", Version: "b"}},
		{[]string{"--module", "-weird"}, options.Options{Module: "-weird"}},
		{[]string{"-k", "6.1/x86_64", "--kernelver=6.2", "-a", "i386"}, options.Options{Kernels: []string{"6.1", "6.2"}, Arches: []string{"x86_64", "i386"}}},
		{[]string{"--archive=x.tgz", "--arch", "arm64"}, options.Options{Archive: "x.tgz", Arches: []string{"arm64"}}},
		{[]string{"--dkmstree", "/d", "--sourcetree=/s", "--installtree", " /i "}, options.Options{DKMSTree: str("/d"), SourceTree: str("/s"), InstallTree: str("/i")}},
		{[]string{"--directive", "A=1", "--directive=B=2"}, options.Options{Directives: []string{"A=1", "B=2"}}},
		{[]string{"-j", "0", "--force", "--all", "--verbose"}, options.Options{Jobs: str("0"), Force: true, All: true, Verbose: true}},
		{[]string{"/x/y"}, options.Options{Module: "", Version: "x/y"}},
		{[]string{dir}, options.Options{SourceTreeToAdd: dir}},
		{[]string{filepath.Join(dir, "dkms.conf")}, options.Options{SourceTreeToAdd: dir + "/./"}},
		{[]string{archive}, options.Options{Archive: archive}},
		{[]string{"-k"}, options.Options{Kernels: []string{""}}},
	}
	for _, c := range cases {
		got, res := Parse(c.args, &sink{})
		if res.Event != Continue {
			t.Errorf("%v: event %v", c.args, res.Event)
		}
		if !reflect.DeepEqual(*got, Options{Options: c.want}) {
			t.Errorf("%v:\n got %+v\nwant %+v", c.args, *got, c.want)
		}
	}
}

func TestParseEvents(t *testing.T) {
	t.Parallel()
	cases := []struct {
		args []string
		ev   Event
		bad  string
	}{
		{[]string{"--version", "--bogus"}, ExitVersion, ""},
		{[]string{"--bogus", "--version"}, ExitUnknown, "--bogus"},
		{[]string{"-j4"}, ExitUnknown, "-j4"},
		{[]string{"-k=6.1"}, ExitUnknown, "-k=6.1"},
		{[]string{"add", "remove"}, ExitTwoActions, ""},
		{[]string{"--help"}, ExitHelp, ""},
	}
	for _, c := range cases {
		_, res := Parse(c.args, &sink{})
		if res.Event != c.ev || res.Bad != c.bad {
			t.Errorf("%v: %+v", c.args, res)
		}
	}
	s := &sink{}
	Parse([]string{"status", "-q"}, s)
	if !s.silenced {
		t.Error("-q must silence output")
	}
}

// TestCheckNames: names from every form of the command line go through
// one rule; a version without a module is left to the actions.
func TestCheckNames(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"add", "foo/1.0"}, ""},
		{[]string{"add", "-m", "foo", "-v", "1.0-rc1+dfsg"}, ""},
		{[]string{"status"}, ""},
		{[]string{"add", "/nonexistent-dkms-dir/y"}, ""}, // module "", version "nonexistent-dkms-dir/y" (§2.2 rule 5)
		{[]string{"add", "foo/1.0/6.1"}, `Invalid module version "1.0/6.1" on the command line: it contains '/'.`},
		{[]string{"add", "-m", "../x", "-v", "1"}, `Invalid module name ".." on the command line: it is a relative directory name.`}, // -m splits at the first /
		{[]string{"remove", "--module=../../tmp/x/victim/1"}, `Invalid module name ".." on the command line: it is a relative directory name.`},
		{[]string{"add", "-m", "foo", "-v", ".."}, `Invalid module version ".." on the command line: it is a relative directory name.`},
		{[]string{"add", "foo/1.0\nbar"}, `Invalid module version "1.0\nbar" on the command line: it contains a newline.`},
		{[]string{"add", "-m", "-x", "-v", "1"}, `Invalid module name "-x" on the command line: it starts with '-'.`},
	} {
		o, _ := Parse(c.args, &sink{})
		got := ""
		if err := o.CheckNames(); err != nil {
			got = err.Error()
		}
		if got != c.want {
			t.Errorf("%q: %q, want %q", c.args, got, c.want)
		}
	}
}
