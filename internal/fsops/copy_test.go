package fsops

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
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

// TestCopyTreePortableDiffers: the two copies differ only where a package
// needs them to. CopyTree keeps set-ID and sticky bits and (as root) the
// owner, and skips a FIFO; CopyTreePortable drops the bits and the owner
// and refuses the FIFO. Both keep permission bits, times and symlinks.
func TestCopyTreePortableDiffers(t *testing.T) {
	t.Parallel()
	src := t.TempDir()
	os.MkdirAll(filepath.Join(src, "d"), 0o755)
	os.WriteFile(filepath.Join(src, "d", "tool"), []byte("#!/bin/sh\n"), 0o755)
	os.Symlink("d/tool", filepath.Join(src, "l"))
	// The owner first: chown clears set-ID bits.
	root := os.Geteuid() == 0
	if root {
		if err := os.Lchown(filepath.Join(src, "d", "tool"), 4321, 4321); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(filepath.Join(src, "d", "tool"), 0o755|os.ModeSetuid|os.ModeSetgid); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Join(src, "d"), 0o755|os.ModeSticky); err != nil {
		t.Fatal(err)
	}
	old := time.Date(2021, 5, 6, 7, 8, 9, 0, time.UTC)
	os.Chtimes(filepath.Join(src, "d", "tool"), old, old)
	mode := func(p string) os.FileMode {
		st, err := os.Lstat(p)
		if err != nil {
			t.Fatal(err)
		}
		return st.Mode()
	}
	owner := func(p string) uint32 {
		st, err := os.Lstat(p)
		if err != nil {
			t.Fatal(err)
		}
		return st.Sys().(*syscall.Stat_t).Uid
	}
	for _, portable := range []bool{false, true} {
		dst := t.TempDir()
		copyFn := CopyTree
		if portable {
			copyFn = CopyTreePortable
		}
		if err := copyFn(src, dst); err != nil {
			t.Fatalf("portable=%v: %v", portable, err)
		}
		tool, dir := filepath.Join(dst, "d", "tool"), filepath.Join(dst, "d")
		wantTool, wantDir := 0o755|os.ModeSetuid|os.ModeSetgid, os.ModeDir|0o755|os.ModeSticky
		if portable {
			wantTool, wantDir = 0o755, os.ModeDir|0o755
		}
		if got := mode(tool); got != wantTool {
			t.Errorf("portable=%v: tool mode %v, want %v", portable, got, wantTool)
		}
		if got := mode(dir); got != wantDir {
			t.Errorf("portable=%v: d mode %v, want %v", portable, got, wantDir)
		}
		if st, err := os.Stat(tool); err != nil || !st.ModTime().Equal(old) {
			t.Errorf("portable=%v: tool mtime not kept: %v %v", portable, st, err)
		}
		if l, err := os.Readlink(filepath.Join(dst, "l")); err != nil || l != "d/tool" {
			t.Errorf("portable=%v: symlink %q %v", portable, l, err)
		}
		if root {
			want := uint32(4321)
			if portable {
				want = 0
			}
			if got := owner(tool); got != want {
				t.Errorf("portable=%v: tool owner %d, want %d", portable, got, want)
			}
		}
	}
	if err := syscall.Mkfifo(filepath.Join(src, "fifo"), 0o644); err != nil {
		t.Fatal(err)
	}
	dst := t.TempDir()
	if err := CopyTree(src, dst); err != nil {
		t.Errorf("CopyTree with a FIFO: %v", err)
	} else if _, err := os.Lstat(filepath.Join(dst, "fifo")); !os.IsNotExist(err) {
		t.Errorf("CopyTree copied the FIFO: %v", err)
	}
	if err := CopyTreePortable(src, t.TempDir()); err == nil || !strings.Contains(err.Error(), "special files cannot be packaged") {
		t.Errorf("CopyTreePortable with a FIFO: %v, want a refusal", err)
	}
}
