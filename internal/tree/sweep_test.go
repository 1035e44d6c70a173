package tree

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/dkms-go/dkms/internal/fsops"
	"github.com/dkms-go/dkms/internal/paths"
)

// TestSweep: what a killed run leaves is deleted in each place the
// temporaries are made, the pending markers are returned, a kernel or
// module directory a killed unbuild or remove emptied goes, and nothing
// else is touched (symlinks are not followed).
func TestSweep(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	l := &paths.Layout{DKMSTree: dir + "/dkms", SourceTree: dir + "/src", InstallTree: dir + "/modules", Root: dir}
	tmp := fsops.TmpPrefix
	gone := []string{
		"dkms/" + tmp + "status-1",
		"dkms/m/" + tmp + "link",
		"dkms/m/1.0/" + tmp + "add",
		"dkms/m/1.0/6.1.0-1/" + tmp + "x86_64",
		"dkms/m/1.0/6.1.0-1/.tmp_old",
		"dkms/m/1.0/tarball/" + tmp + "mk",
		"dkms/m/1.0/6.1.0-2",
		"dkms/e",
		"modules/6.1.0-1/" + tmp + "copy",
		"modules/6.1.0-1/updates/dkms/.dkms-copy-old",
		"src/" + tmp + "src",
	}
	kept := []string{
		"dkms/m/1.0/source",
		"dkms/m/1.0/6.1.0-1/x86_64/module/m.ko",
		"dkms/.dkms.lock",
		"modules/6.1.0-1/updates/dkms/m.ko",
		"dkms/m/1.0/6.1.0-1/x86_64/" + tmp + "not-looked-at",
		"src/m-1.0/" + tmp + "not-looked-at",
		"elsewhere/" + tmp + "through-link",
	}
	for _, p := range append(slices.Clone(gone), kept...) {
		switch {
		case strings.HasSuffix(p, "6.1.0-2"), p == "dkms/e":
			mkdir(t, dir+"/"+p)
		case p == "dkms/m/1.0/source":
			mkdir(t, dir+"/elsewhere")
			if err := os.Symlink(dir+"/elsewhere", dir+"/"+p); err != nil {
				t.Fatal(err)
			}
		default:
			mkdir(t, filepath.Dir(dir+"/"+p))
			if err := os.WriteFile(dir+"/"+p, []byte("x"), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	marker := l.PendingMarker("m", "6.1.0-1", "x86_64")
	if err := os.WriteFile(marker, []byte("1.0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	markers, errs := New(l).Sweep()
	if len(errs) != 0 {
		t.Errorf("errors: %v", errs)
	}
	if !slices.Equal(markers, []string{marker}) {
		t.Errorf("markers %q, want %q", markers, marker)
	}
	for _, p := range gone {
		if _, err := os.Lstat(dir + "/" + p); !os.IsNotExist(err) {
			t.Errorf("%s: still there (%v)", p, err)
		}
	}
	for _, p := range kept {
		if _, err := os.Lstat(dir + "/" + p); err != nil {
			t.Errorf("%s: %v", p, err)
		}
	}
	mk, ok := ReadMarker(marker)
	if want := (Target{Module: "m", Version: "1.0", Kernel: "6.1.0-1", Arch: "x86_64"}); !ok || mk.Target != want {
		t.Errorf("ReadMarker = %+v %v, want %+v", mk.Target, ok, want)
	}
	if _, ok := ReadMarker(filepath.Dir(marker) + "/" + paths.PendingPrefix + "nodash"); ok {
		t.Error("ReadMarker accepted a name without kernel-arch")
	}
}

// TestPendingMarkers: a marker is written with the version, found for its
// kernel and arch, and cleared with the others of that kernel.
func TestPendingMarkers(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	l := &paths.Layout{DKMSTree: dir}
	tr := New(l)
	for _, m := range []string{"a", "b"} {
		mkdir(t, l.ModuleDir(m))
		if err := tr.MarkPending(Target{Module: m, Version: "2.0", Kernel: "6.1.0-1", Arch: "x86_64"}); err != nil {
			t.Fatal(err)
		}
	}
	if b, err := os.ReadFile(l.PendingMarker("a", "6.1.0-1", "x86_64")); err != nil || string(b) != "2.0\n" {
		t.Errorf("marker holds %q, %v", b, err)
	}
	if !tr.Pending("6.1.0-1", "x86_64") || tr.Pending("6.1.0-2", "x86_64") {
		t.Error("Pending does not tell the kernels apart")
	}
	if err := tr.Unmark("a", "6.1.0-1", "x86_64"); err != nil {
		t.Fatal(err)
	}
	if errs := tr.ClearPending("6.1.0-1", "x86_64"); len(errs) != 0 || tr.Pending("6.1.0-1", "x86_64") {
		t.Errorf("ClearPending: %v, pending %v", errs, tr.Pending("6.1.0-1", "x86_64"))
	}
}

func mkdir(t *testing.T, p string) {
	t.Helper()
	if err := os.MkdirAll(p, 0o755); err != nil {
		t.Fatal(err)
	}
}
