package completion_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/dkms-go/dkms/internal/cli"
)

// fixture makes a DKMS tree with two modules (one with an original_module
// directory and an installed link, which are not versions) and a module
// tree with two kernels.
func fixture(t *testing.T) (tree, mods string) {
	t.Helper()
	root := t.TempDir()
	tree, mods = filepath.Join(root, "dkms"), filepath.Join(root, "modules")
	for _, d := range []string{"dkms/foo/1.0/source", "dkms/foo/2.0", "dkms/foo/original_module",
		"dkms/bar-x/3.1", "modules/6.1.0-9-amd64", "modules/6.1.0-10-amd64", "modules/6.12.0-1-amd64"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink("1.0/6.1.0-9-amd64/x86_64", filepath.Join(tree, "foo", "kernel-6.1.0-9-amd64-x86_64")); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(tree, ".status-cache"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	return tree, mods
}

// bashComplete sources dkms.bash in a real bash, sets COMP_WORDS as bash
// would split the line (COMP_WORDBREAKS puts "=" in a word of its own) and
// returns COMPREPLY, one entry per line.
func bashComplete(t *testing.T, fn string, words ...string) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	script := `source ./dkms.bash
COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1))
` + fn + `
printf '%s\n' "${COMPREPLY[@]}"`
	cmd := exec.CommandContext(ctx, "bash", append([]string{"--norc", "--noprofile", "-c", script, "bash"}, words...)...)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("bash %s %q: %v", fn, words, err)
	}
	return lines(string(out))
}

func lines(s string) []string {
	var r []string
	for _, l := range strings.Split(s, "\n") {
		if l != "" {
			r = append(r, l)
		}
	}
	sort.Strings(r)
	return r
}

func TestBashCompletion(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("bash not installed")
	}
	tree, mods := fixture(t)
	files := t.TempDir()
	for _, f := range []string{"a.tar.gz", "b.conf"} {
		if err := os.WriteFile(filepath.Join(files, f), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name  string
		fn    string
		words []string
		want  []string
	}{
		{"action prefix", "_dkms", []string{"dkms", "st"}, []string{"status"}},
		{"action prefix several", "_dkms", []string{"dkms", "un"}, []string{"unbuild", "uninstall"}},
		{"extension action", "_dkms", []string{"dkms", "init"}, []string{"initramfs-check"}},
		{"option after action", "_dkms", []string{"dkms", "build", "--force"}, []string{"--force", "--force-version-override"}},
		{"option before action", "_dkms", []string{"dkms", "--dkms"}, []string{"--dkmstree"}},
		{"modules and pairs", "_dkms", []string{"dkms", "status", "--dkmstree", tree, ""},
			[]string{"bar-x", "bar-x/3.1", "foo", "foo/1.0", "foo/2.0"}},
		{"-m value", "_dkms", []string{"dkms", "--dkmstree", tree, "remove", "-m", "f"},
			[]string{"foo", "foo/1.0", "foo/2.0"}},
		{"-m module/", "_dkms", []string{"dkms", "remove", "--dkmstree", "=", tree, "-m", "foo/"},
			[]string{"foo/1.0", "foo/2.0"}},
		{"--module= split at =", "_dkms", []string{"dkms", "remove", "--dkmstree", tree, "--module", "=", "b"},
			[]string{"bar-x", "bar-x/3.1"}},
		{"-v of the -m module", "_dkms", []string{"dkms", "remove", "--dkmstree", tree, "-m", "foo", "-v", ""},
			[]string{"1.0", "2.0"}},
		{"-v of --module=", "_dkms", []string{"dkms", "remove", "--dkmstree=" + tree, "--module=bar-x", "-v", ""},
			[]string{"3.1"}},
		{"kernels", "_dkms", []string{"dkms", "build", "--installtree", mods, "-k", ""},
			[]string{"6.1.0-10-amd64", "6.1.0-9-amd64", "6.12.0-1-amd64"}},
		{"kernel prefix", "_dkms", []string{"dkms", "build", "--installtree", mods, "-k", "6.12"},
			[]string{"6.12.0-1-amd64"}},
		{"--kernelver= split at =", "_dkms", []string{"dkms", "install", "--installtree", mods, "--kernelver", "=", "6.1.0-1"},
			[]string{"6.1.0-10-amd64"}},
		{"--templatekernel", "_dkms", []string{"dkms", "match", "--installtree", mods, "--templatekernel", "6.1.0-9"},
			[]string{"6.1.0-9-amd64"}},
		{"archive files", "_dkms", []string{"dkms", "ldtarball", "--archive", files + "/a"},
			[]string{files + "/a.tar.gz"}},
		{"no module names in an empty tree", "_dkms", []string{"dkms", "status", "--dkmstree", t.TempDir(), ""}, nil},
		{"autoinstall kernels", "_dkms_autoinstall", []string{"dkms-autoinstall", "--installtree", mods, "-k", "6.1.0-9"},
			[]string{"6.1.0-9-amd64"}},
		{"autoinstall hooks", "_dkms_autoinstall", []string{"dkms-autoinstall", "--hook", "p"},
			[]string{"postinst", "preinst", "prerm"}},
		{"autoinstall options", "_dkms_autoinstall", []string{"dkms-autoinstall", "--all"},
			[]string{"--all-kernels"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := bashComplete(t, tc.fn, tc.words...)
			if strings.Join(got, " ") != strings.Join(tc.want, " ") {
				t.Errorf("COMPREPLY for %q = %q, want %q", tc.words, got, tc.want)
			}
		})
	}
}

// TestBashCompletionActions: every action the command line accepts is
// offered, and nothing that it does not accept except doctor (an action
// another change adds).
func TestBashCompletionActions(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("bash not installed")
	}
	got := bashComplete(t, "_dkms", "dkms", "")
	offered := map[string]bool{}
	for _, a := range got {
		offered[a] = true
		if !cli.Actions[a] && a != "doctor" {
			t.Errorf("completion offers %q, which dkms does not accept", a)
		}
	}
	for a := range cli.Actions {
		if a != "dkms-autoinstall" && !offered[a] {
			t.Errorf("completion does not offer the action %q", a)
		}
	}
}

// TestZshCompletion runs the name helpers of _dkms in a real zsh with the
// completion system's _describe and _arguments replaced by recorders.
func TestZshCompletion(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("zsh"); err != nil {
		t.Skip("zsh not installed")
	}
	tree, mods := fixture(t)
	tests := []struct {
		name, fn string
		words    []string
		want     []string
	}{
		{"modules", "__dkms_modules", []string{"dkms", "status", "--dkmstree", tree, ""},
			[]string{"bar-x", "bar-x/3.1", "foo", "foo/1.0", "foo/2.0"}},
		{"versions of -m", "__dkms_versions", []string{"dkms", "remove", "--dkmstree=" + tree, "-m", "foo", "-v", ""},
			[]string{"1.0", "2.0"}},
		{"kernels", "__dkms_kernels", []string{"dkms", "build", "--installtree", mods, "-k", ""},
			[]string{"6.1.0-10-amd64", "6.1.0-9-amd64", "6.12.0-1-amd64"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			script := `_arguments() { :; }
_describe() { print -rl -- "${(@P)4}"; }
source ./_dkms
words=("$@"); CURRENT=$#
` + tc.fn
			out, err := exec.CommandContext(ctx, "zsh", append([]string{"-f", "-c", script, "zsh"}, tc.words...)...).Output()
			if err != nil {
				t.Fatalf("zsh %s: %v", tc.fn, err)
			}
			if got := lines(string(out)); strings.Join(got, " ") != strings.Join(tc.want, " ") {
				t.Errorf("%s for %q = %q, want %q", tc.fn, tc.words, got, tc.want)
			}
		})
	}
}
