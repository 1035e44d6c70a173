package tree

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/dkms-go/dkms/internal/paths"
)

func TestKernelCopiesIndexed(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	l := &paths.Layout{InstallTree: root}
	k := "6.1.0-1-amd64"
	files := []string{
		"kernel/a/foo.ko", "kernel/b/foo.ko.xz", "kernel/b/bar.ko", "kernel/c/foo.ko",
		"updates/dkms/foo.ko.xz", "updates/foo.ko.zst", "extra/foo.kox", "extra/foo.c",
	}
	for _, f := range files {
		p := filepath.Join(root, k, f)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// A directory of a module's name is no copy of it.
	if err := os.MkdirAll(filepath.Join(root, k, "kernel/d/foo.ko"), 0o755); err != nil {
		t.Fatal(err)
	}
	abs := func(rel ...string) []string {
		var out []string
		for _, r := range rel {
			out = append(out, filepath.Join(root, k, r))
		}
		return out
	}
	cases := []struct {
		d, suffix string
		want      []string
	}{
		{"foo", ".xz", abs("kernel/a/foo.ko", "kernel/b/foo.ko.xz", "kernel/c/foo.ko", "updates/dkms/foo.ko.xz")},
		{"foo", "", abs("kernel/a/foo.ko", "kernel/c/foo.ko")},
		{"foo", ".zst", abs("kernel/a/foo.ko", "kernel/c/foo.ko", "updates/foo.ko.zst")},
		{"bar", ".xz", abs("kernel/b/bar.ko")},
		{"baz", "", nil},
	}
	tr := New(l)
	for _, indexed := range []bool{false, true} {
		if indexed {
			tr.IndexKernel(k)
		}
		for _, c := range cases {
			if got := tr.KernelCopies(k, c.d, c.suffix); !slices.Equal(got, c.want) {
				t.Errorf("indexed %v: KernelCopies(%s, %q) = %q, want %q", indexed, c.d, c.suffix, got, c.want)
			}
		}
	}
	// The index is a snapshot: a file added after it shows only once the
	// kernel is indexed again, or the index dropped.
	added := filepath.Join(root, k, "extra/bar.ko")
	if err := os.WriteFile(added, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if got := tr.KernelCopies(k, "bar", ""); len(got) != 1 {
		t.Errorf("indexed before the change: %q", got)
	}
	tr.DropIndex()
	if got := tr.KernelCopies(k, "bar", ""); !slices.Equal(got, append(abs("extra/bar.ko"), abs("kernel/b/bar.ko")...)) {
		t.Errorf("after DropIndex: %q", got)
	}
	// Another kernel is never answered from this kernel's index.
	tr.IndexKernel(k)
	if got := tr.KernelCopies("6.1.0-2-amd64", "foo", ""); len(got) != 0 {
		t.Errorf("other kernel: %q", got)
	}
}
