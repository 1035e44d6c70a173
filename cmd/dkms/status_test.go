package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dkms-go/dkms/internal/testenv"
)

// statusTree builds a tree by hand (no builds needed for status, §5).
func statusTree(t *testing.T) *testEnv {
	e := newEnv(t)
	conf := func(m, v string) string {
		return "PACKAGE_NAME=" + m + "\nPACKAGE_VERSION=" + v + "\nBUILT_MODULE_NAME[0]=" + m + "\nDEST_MODULE_LOCATION[0]=/updates\n"
	}
	add := func(m, v string) {
		e.r.AddSource(m, v, e.module(m, v, conf(m, v), map[string]string{"Makefile": "all:\n"}))
		os.MkdirAll(e.dkms+"/"+m+"/"+v+"/build", 0o755)
	}
	built := func(m, v, k, a string) {
		dir := e.dkms + "/" + m + "/" + v + "/" + k + "/" + a
		os.MkdirAll(dir+"/module", 0o755)
		os.MkdirAll(dir+"/log", 0o755)
		os.WriteFile(dir+"/module/"+m+".ko", []byte("module "+m+" "+v+"\n"), 0o644)
	}
	installed := func(m, v, k, a string) {
		built(m, v, k, a)
		os.Symlink(v+"/"+k+"/"+a, e.dkms+"/"+m+"/kernel-"+k+"-"+a)
		os.MkdirAll(e.inst+"/"+k+"/updates/dkms", 0o755)
		b, _ := os.ReadFile(e.dkms + "/" + m + "/" + v + "/" + k + "/" + a + "/module/" + m + ".ko")
		os.WriteFile(e.inst+"/"+k+"/updates/dkms/"+m+".ko", b, 0o644)
	}
	add("crlf", "1.0")
	add("fake", "1.0")
	installed("fake", "1.0", "6.1.0-test", "x86_64")
	add("foo", "1.0")
	built("foo", "1.0", "6.1.0-test", "x86_64")
	add("foo", "2.0")
	installed("foo", "2.0", "6.2.0-test", "x86_64")
	os.MkdirAll(e.dkms+"/foo/original_module/6.2.0-test/x86_64", 0o755)
	add("bar", "1.0")
	installed("bar", "1.0", "6.1.0-test", "x86_64")
	os.WriteFile(e.inst+"/6.1.0-test/updates/dkms/bar.ko", []byte("changed"), 0o644)
	add("gone", "1.0")
	built("gone", "1.0", "6.1.0-test", "x86_64")
	os.Remove(e.dkms + "/gone/1.0/6.1.0-test/x86_64/module/gone.ko")
	// broken: dangling source link
	os.MkdirAll(e.dkms+"/broken/1.0", 0o755)
	os.Symlink("/nonexistent/broken-1.0", e.dkms+"/broken/1.0/source")
	// a leftover staging dir and a non-kernel dir are ignored
	os.MkdirAll(e.dkms+"/foo/1.0/6.1.0-test/.tmp_x86_64_abc/module", 0o755)
	os.MkdirAll(e.dkms+"/foo/1.0/notakernel/x86_64/module", 0o755)
	return e
}

func TestStatus(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		args []string
	}{
		{"all", nil},
		{"module", []string{"foo"}},
		{"module_version", []string{"foo/2.0"}},
		{"kernel", []string{"-k", "6.1.0-test"}},
		{"two_kernels", []string{"-k", "6.2.0-test", "-k", "6.1.0-test"}},
		{"kernel_arch", []string{"-k", "6.1.0-test/x86_64"}},
		{"other_arch", []string{"-a", "i386"}},
		{"directive", []string{"fake", "--directive", "FOO=bar"}},
	}
	e := statusTree(t)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out, errOut, code := e.run(append([]string{"status"}, c.args...)...)
			if code != 0 {
				t.Errorf("status exit %d", code)
			}
			golden(t, "status_"+c.name, "stdout:\n"+out+"stderr:\n"+errOut)
		})
	}
}

func TestStatusEmptyTree(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	out, errOut, code := e.run("status")
	if out != "" || errOut != "" || code != 0 {
		t.Errorf("empty tree: %q %q %d", out, errOut, code)
	}
}

// settle waits until files just written are older than the status cache's
// racy window (one second), so that the next run may cache what it reads.
func settle() { time.Sleep(1100 * time.Millisecond) }

// TestStatusCache: the records of pure confs are cached between runs, and a
// changed conf (or a changed variable it reads) is read again.
func TestStatusCache(t *testing.T) {
	t.Parallel()
	e := statusTree(t)
	settle()
	first, _, _ := e.run("status")
	if _, err := os.Stat(e.dkms + "/.status-cache"); err != nil {
		t.Fatalf("no cache written: %v", err)
	}
	second, _, _ := e.run("status")
	if first != second {
		t.Errorf("cached status differs:\n%s\n---\n%s", first, second)
	}
	// Change foo/1.0's conf: its module is now called foo2, which is not built.
	e.write("/usr/src/foo-1.0/dkms.conf", "PACKAGE_NAME=foo\nPACKAGE_VERSION=1.0\nBUILT_MODULE_NAME[0]=foo2\nDEST_MODULE_LOCATION[0]=/updates\n")
	out, _, _ := e.run("status", "foo/1.0")
	if out != "foo/1.0, 6.1.0-test, x86_64: built (Built modules are missing in the kernel modules folder)\n" {
		t.Errorf("stale cache used: %q", out)
	}
	// A conf depending on a variable: the cached answer follows the variable.
	e.write("/usr/src/foo-1.0/dkms.conf", "PACKAGE_NAME=foo\nPACKAGE_VERSION=1.0\nBUILT_MODULE_NAME[0]=$FOO_NAME\nDEST_MODULE_LOCATION[0]=/updates\n")
	e.extraEnv = []string{"FOO_NAME=foo"}
	out, _, _ = e.run("status", "foo/1.0")
	e.extraEnv = []string{"FOO_NAME=other"}
	out2, _, _ := e.run("status", "foo/1.0")
	if out != "foo/1.0, 6.1.0-test, x86_64: built\n" || out2 != "foo/1.0, 6.1.0-test, x86_64: built (Built modules are missing in the kernel modules folder)\n" {
		t.Errorf("variable change not seen: %q / %q", out, out2)
	}
}

// TestStatusLargeTree: a tree large enough for the two-worker walk prints
// exactly what the single walk prints, in the same order.
func TestStatusLargeTree(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	var want strings.Builder
	for i := range 90 {
		m := fmt.Sprintf("mod%03d", i)
		src := e.module(m, "1.0", "PACKAGE_NAME="+m+"\nPACKAGE_VERSION=1.0\nBUILT_MODULE_NAME[0]="+m+"\nDEST_MODULE_LOCATION[0]=/updates\n", map[string]string{"Makefile": "all:\n"})
		vd := e.dkms + "/" + m + "/1.0"
		os.MkdirAll(vd+"/build", 0o755)
		switch {
		case i == 50:
			os.Symlink("/nonexistent", vd+"/source")
			want.WriteString(m + "/1.0: broken\n")
			continue
		default:
			os.Symlink(src, vd+"/source")
		}
		if i%3 == 0 {
			want.WriteString(m + "/1.0: added\n")
			continue
		}
		os.MkdirAll(vd+"/6.1.0-test/x86_64/module", 0o755)
		os.WriteFile(vd+"/6.1.0-test/x86_64/module/"+m+".ko", []byte(m), 0o644)
		want.WriteString(m + "/1.0, 6.1.0-test, x86_64: built\n")
	}
	for range 2 { // cold and warm cache
		out, errOut, code := e.run("status")
		if code != 0 || out != want.String() {
			t.Errorf("status:\n%s\nwant:\n%s", out, want.String())
		}
		if errOut != "\nError! mod050/1.0: Missing the module source directory or the symbolic link pointing to it.\nManual intervention is required!\n" {
			t.Errorf("stderr: %q", errOut)
		}
	}
}

// TestStatusCachePruned: a full status drops the cache entries of module
// versions that are gone.
func TestStatusCachePruned(t *testing.T) {
	t.Parallel()
	e := statusTree(t)
	settle()
	e.run("status")
	full, _ := os.ReadFile(e.dkms + "/.status-cache")
	os.RemoveAll(e.dkms + "/foo")
	e.run("status", "bar") // a filtered run keeps everything
	kept, _ := os.ReadFile(e.dkms + "/.status-cache")
	e.run("status")
	pruned, _ := os.ReadFile(e.dkms + "/.status-cache")
	if len(kept) != len(full) || len(pruned) >= len(full) {
		t.Errorf("cache sizes: full %d, after filtered run %d, after full run without foo %d", len(full), len(kept), len(pruned))
	}
}

// TestStatusCacheFollowsTree: with every listing of the tree cached, each
// kind of change to the tree shows in the very next status.
func TestStatusCacheFollowsTree(t *testing.T) {
	t.Parallel()
	e := statusTree(t)
	settle()
	want, _, _ := e.run("status")
	if _, err := os.Stat(e.dkms + "/.status-cache"); err != nil {
		t.Fatalf("no cache written: %v", err)
	}
	if again, _, _ := e.run("status"); again != want {
		t.Fatalf("warm status differs:\n%s\n---\n%s", again, want)
	}
	line := func(out, prefix string) string {
		for _, l := range strings.Split(out, "\n") {
			if strings.HasPrefix(l, prefix) {
				return l
			}
		}
		return ""
	}
	steps := []struct {
		name   string
		change func()
		prefix string // the line that must change
		want   string
	}{
		{"new kernel", func() {
			os.MkdirAll(e.dkms+"/foo/1.0/6.3.0-test/x86_64/module", 0o755)
			os.WriteFile(e.dkms+"/foo/1.0/6.3.0-test/x86_64/module/foo.ko", []byte("x"), 0o644)
		}, "foo/1.0, 6.3.0-test", "foo/1.0, 6.3.0-test, x86_64: built"},
		{"new arch", func() {
			os.MkdirAll(e.dkms+"/foo/1.0/6.3.0-test/i386/module", 0o755)
			os.WriteFile(e.dkms+"/foo/1.0/6.3.0-test/i386/module/foo.ko", []byte("x"), 0o644)
		}, "foo/1.0, 6.3.0-test, i386", "foo/1.0, 6.3.0-test, i386: built"},
		{"module dir removed", func() { os.RemoveAll(e.dkms + "/foo/1.0/6.3.0-test/i386/module") }, "foo/1.0, 6.3.0-test, i386", ""},
		{"installed copy changed", func() {
			os.WriteFile(e.inst+"/6.1.0-test/updates/dkms/fake.ko", []byte("module fake 1.0 rebuilt\n"), 0o644)
		}, "fake/1.0", "fake/1.0, 6.1.0-test, x86_64: installed (Differences between built and installed modules)"},
		{"installed copy restored", func() {
			os.WriteFile(e.inst+"/6.1.0-test/updates/dkms/fake.ko", []byte("module fake 1.0\n"), 0o644)
		}, "fake/1.0", "fake/1.0, 6.1.0-test, x86_64: installed"},
		{"built module changed", func() {
			os.WriteFile(e.dkms+"/fake/1.0/6.1.0-test/x86_64/module/fake.ko", []byte("module fake 1.0 again\n"), 0o644)
		}, "fake/1.0", "fake/1.0, 6.1.0-test, x86_64: installed (Differences between built and installed modules)"},
		{"kernel link retargeted", func() {
			os.Remove(e.dkms + "/fake/kernel-6.1.0-test-x86_64")
			os.Symlink("9.9/6.1.0-test/x86_64", e.dkms+"/fake/kernel-6.1.0-test-x86_64")
		}, "fake/1.0", "fake/1.0, 6.1.0-test, x86_64: built"},
		{"kernel dir replaced by a symlink", func() {
			os.Rename(e.dkms+"/foo/1.0/6.1.0-test", e.dkms+"/foo/1.0/elsewhere")
			os.Symlink("elsewhere", e.dkms+"/foo/1.0/6.1.0-test")
		}, "foo/1.0, 6.1.0-test", "foo/1.0, 6.1.0-test, x86_64: built"},
		{"symlinked kernel dir emptied", func() { os.RemoveAll(e.dkms + "/foo/1.0/elsewhere/x86_64") }, "foo/1.0, 6.1.0-test", ""},
		{"source link broken", func() {
			os.Remove(e.dkms + "/crlf/1.0/source")
			os.Symlink("/nonexistent", e.dkms+"/crlf/1.0/source")
		}, "crlf/1.0", "crlf/1.0: broken"},
		{"version removed", func() { os.RemoveAll(e.dkms + "/gone/1.0") }, "gone/1.0", ""},
		{"version added", func() {
			src := e.module("gone", "2.0", "PACKAGE_NAME=gone\nPACKAGE_VERSION=2.0\n", nil)
			os.MkdirAll(e.dkms+"/gone/2.0", 0o755)
			os.Symlink(src, e.dkms+"/gone/2.0/source")
		}, "gone/2.0", "gone/2.0: added"},
	}
	for _, s := range steps {
		s.change()
		out, _, _ := e.run("status")
		if got := line(out, s.prefix); got != s.want {
			t.Errorf("after %s: line %q, want %q; status:\n%s", s.name, got, s.want, out)
		}
	}
}

// TestStatusCacheKernelDependentConf: a conf whose modules depend on the
// kernel gets one cached answer per kernel, and runs that change nothing
// do not rewrite the cache.
func TestStatusCacheKernelDependentConf(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	conf := "PACKAGE_NAME=kd\nPACKAGE_VERSION=1.0\ncase \"$kernelver\" in 6.1.*) n=kd ;; *) n=other ;; esac\n" +
		"BUILT_MODULE_NAME[0]=$n\nDEST_MODULE_LOCATION[0]=/updates\n"
	src := e.module("kd", "1.0", conf, nil)
	vd := e.dkms + "/kd/1.0"
	os.MkdirAll(vd, 0o755)
	os.Symlink(src, vd+"/source")
	for _, k := range []string{"6.1.0-test", "6.2.0-test"} {
		os.MkdirAll(vd+"/"+k+"/x86_64/module", 0o755)
		os.WriteFile(vd+"/"+k+"/x86_64/module/kd.ko", []byte(k), 0o644)
	}
	want := "kd/1.0, 6.1.0-test, x86_64: built\n" +
		"kd/1.0, 6.2.0-test, x86_64: built (Built modules are missing in the kernel modules folder)\n"
	settle()
	var stamps []time.Time
	for i := range 3 {
		if out, _, _ := e.run("status"); out != want {
			t.Errorf("run %d:\n%s\nwant:\n%s", i, out, want)
		}
		st, err := os.Stat(e.dkms + "/.status-cache")
		if err != nil {
			t.Fatalf("run %d: no cache: %v", i, err)
		}
		stamps = append(stamps, st.ModTime())
	}
	if !stamps[1].Equal(stamps[2]) {
		t.Errorf("a run that changed nothing rewrote the cache (%v, %v)", stamps[1], stamps[2])
	}
}

// TestStatusGlobOrder: module/versions come in the order of the shell glob
// <dkms_tree>/*/* and kernel/arches in that of <k>/<a> (§5.3), which sorts
// whole paths: "a-b/1" before "a/1" ('-' < '/'), "6.1.0-1/x86_64" before
// "6.1.0/x86_64".
func TestStatusGlobOrder(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for _, mv := range []string{"a/1", "a/1-rc", "a-b/1", "a.b/1", "A/1"} {
		m, v, _ := strings.Cut(mv, "/")
		src := e.module(m, v, "PACKAGE_NAME="+m+"\nPACKAGE_VERSION="+v+"\nBUILT_MODULE_NAME[0]=x\nDEST_MODULE_LOCATION[0]=/updates\n", nil)
		os.MkdirAll(e.dkms+"/"+m+"/"+v, 0o755)
		os.Symlink(src, e.dkms+"/"+m+"/"+v+"/source")
	}
	for _, ka := range []string{"6.1.0/x86_64", "6.1.0-1/x86_64", "6.1.0/i386"} {
		os.MkdirAll(e.dkms+"/a-b/1/"+ka+"/module", 0o755)
		os.WriteFile(e.dkms+"/a-b/1/"+ka+"/module/x.ko", []byte("x"), 0o644)
	}
	want := "A/1: added\n" +
		"a-b/1, 6.1.0-1, x86_64: built\n" +
		"a-b/1, 6.1.0, i386: built\n" +
		"a-b/1, 6.1.0, x86_64: built\n" +
		"a.b/1: added\n" +
		"a/1: added\n" +
		"a/1-rc: added\n"
	settle()
	for i := range 2 { // cold and warm status cache
		if out, _, _ := e.run("status"); out != want {
			t.Errorf("run %d:\n%s\nwant:\n%s", i, out, want)
		}
	}
}

// TestStatusRelativeTree: "installed" needs the kernel link to resolve to
// the literal <dkms_tree>/<m>/<v>/<k>/<a>; the resolved path is absolute,
// so a relative --dkmstree never shows "installed" (§5.2).
func TestStatusRelativeTree(t *testing.T) {
	t.Parallel()
	e := statusTree(t)
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	rel, err := filepath.Rel(wd, e.dkms)
	if err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	args := []string{"/usr/sbin/dkms", "status", "fake", "--dkmstree", rel, "--sourcetree", e.src, "--installtree", e.inst}
	env := append(testenv.CleanEnv(), "DKMS_SYSROOT="+e.root, "TMPDIR="+e.root+"/tmp")
	code := runWithRoot(context.Background(), args, env, &out, &errb, e.root)
	if want := "fake/1.0, 6.1.0-test, x86_64: built\n"; code != 0 || out.String() != want {
		t.Errorf("exit %d, stdout %q, want %q; stderr %q", code, out.String(), want, errb.String())
	}
}
