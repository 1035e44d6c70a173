package fsops

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestCopyTreeKeepsTimes: like cp -a (spec 6.1 add-from-path, 6.2 step 10),
// files and directories keep their modification times and modes, also
// directories whose contents are written after they were created.
func TestCopyTreeKeepsTimes(t *testing.T) {
	t.Parallel()
	src, dst := t.TempDir(), t.TempDir()
	os.MkdirAll(filepath.Join(src, "sub", "deep"), 0o755)
	os.WriteFile(filepath.Join(src, "sub", "deep", "f.c"), []byte("x\n"), 0o640)
	os.Symlink("deep/f.c", filepath.Join(src, "sub", "l"))
	old := time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, p := range []string{"sub/deep/f.c", "sub/deep", "sub"} {
		if err := os.Chtimes(filepath.Join(src, p), old, old); err != nil {
			t.Fatal(err)
		}
	}
	os.Chmod(filepath.Join(src, "sub"), 0o750)
	if err := CopyTree(src, dst); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"sub/deep/f.c", "sub/deep", "sub"} {
		st, err := os.Stat(filepath.Join(dst, p))
		if err != nil {
			t.Fatal(err)
		}
		if !st.ModTime().Equal(old) {
			t.Errorf("%s: mtime %v, want %v", p, st.ModTime(), old)
		}
	}
	if st, _ := os.Stat(filepath.Join(dst, "sub")); st == nil || st.Mode().Perm() != 0o750 {
		t.Errorf("sub: mode %v, want 0750", st.Mode())
	}
	if st, _ := os.Stat(filepath.Join(dst, "sub", "deep", "f.c")); st == nil || st.Mode().Perm() != 0o640 {
		t.Errorf("f.c: mode %v, want 0640", st.Mode())
	}
	if l, err := os.Readlink(filepath.Join(dst, "sub", "l")); err != nil || l != "deep/f.c" {
		t.Errorf("symlink: %q %v", l, err)
	}
}
