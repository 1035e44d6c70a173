package initramfs

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestIndexCache: the first check writes the image's module index, the
// second answers from it (shown by planting a wrong hash in the index),
// and rewriting the image invalidates it.
func TestIndexCache(t *testing.T) {
	t.Parallel()
	other := append(slices0(moduleELF), "other build"...)
	f := newFixture(t, file{name: inTree + "foo.ko", body: moduleELF}, file{name: inTree + "bar.ko", body: other})
	m := f.install(t, "pkg", "foo.ko", moduleELF)
	cache := filepath.Join(t.TempDir(), "index")
	check := func() Status {
		t.Helper()
		rep, err := Check(context.Background(), Options{Kernel: kver, BootDir: f.boot, InstallTree: f.tree,
			Modules: []DKMSModule{m}, CacheDir: cache})
		if err != nil {
			t.Fatal(err)
		}
		return rep.Modules[0].Status
	}
	if got := check(); got != StatusIdentical {
		t.Fatalf("first check: %s", got)
	}
	idx, _ := filepath.Glob(cache + "/initrd.img-" + kver + ".*")
	if len(idx) != 1 {
		t.Fatalf("index files %q", idx)
	}
	b, err := os.ReadFile(idx[0])
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), "\n"+"bar\t") || !strings.HasSuffix(string(b), "end\n") {
		t.Errorf("the index lacks the other module or its end:\n%s", b)
	}
	// A wrong hash in the index is believed: the image was not read again.
	lines := strings.Split(string(b), "\n")
	for i, l := range lines {
		if strings.HasPrefix(l, "foo\t") {
			fs := strings.Split(l, "\t")
			fs[1] = strings.Repeat("0", len(fs[1]))
			lines[i] = strings.Join(fs, "\t")
		}
	}
	if err := os.WriteFile(idx[0], []byte(strings.Join(lines, "\n")), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := check(); got != StatusShadowed {
		t.Errorf("second check %s: the index was not used", got)
	}
	// A truncated index is ignored.
	os.WriteFile(idx[0], b[:len(b)-4], 0o644)
	if got := check(); got != StatusIdentical {
		t.Errorf("check with a truncated index: %s", got)
	}
	// Rewriting the image changes its identity: the planted index is stale.
	os.WriteFile(idx[0], []byte(strings.Join(lines, "\n")), 0o644)
	img, _ := os.ReadFile(f.image)
	if err := os.WriteFile(f.image, img, 0o644); err != nil {
		t.Fatal(err)
	}
	if got := check(); got != StatusIdentical {
		t.Errorf("check after the image was rewritten: %s", got)
	}
}
