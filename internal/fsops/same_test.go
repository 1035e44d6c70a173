package fsops

import (
	"os"
	"path/filepath"
	"testing"
)

func TestSameContent(t *testing.T) {
	t.Parallel()
	d := t.TempDir()
	big := make([]byte, 3<<20+17) // more than one block, not a multiple of it
	for i := range big {
		big[i] = byte(i * 7)
	}
	flipped := append([]byte{}, big...)
	flipped[len(flipped)-1] ^= 1
	files := map[string][]byte{
		"big": big, "big2": big, "flipped": flipped, "short": big[:len(big)-1],
		"empty": nil, "empty2": nil, "one": {1},
	}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(d, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink("big", filepath.Join(d, "link")); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(d, "dir"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		a, b string
		want bool
	}{
		{"big", "big2", true},
		{"big", "big", true},
		{"big", "link", true},
		{"big", "flipped", false},
		{"big", "short", false},
		{"short", "big", false},
		{"empty", "empty2", true},
		{"empty", "one", false},
		{"big", "missing", false},
		{"missing", "missing", false},
		{"dir", "dir", false},
		{"big", "dir", false},
		{"empty", "dir", false},
	} {
		if got := SameContent(filepath.Join(d, c.a), filepath.Join(d, c.b)); got != c.want {
			t.Errorf("SameContent(%s, %s) = %v, want %v", c.a, c.b, got, c.want)
		}
	}
}
