package modscript

import (
	"os"
	"slices"
	"testing"
)

// TestGlob: a script's arguments are expanded as the shell does in the
// script's directory: sorted relative matches, dot files only for a
// pattern that spells the dot, and the word itself when nothing matches.
func TestGlob(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for _, f := range []string{"b.c", "a.c", ".h.c", "x.h"} {
		if err := os.WriteFile(dir+"/"+f, nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		pattern string
		want    []string
	}{
		{"*.c", []string{"a.c", "b.c"}},
		{".*.c", []string{".h.c"}},
		{"*.none", []string{"*.none"}},
		{"plain", []string{"plain"}},
		{dir + "/?.h", []string{dir + "/x.h"}},
		{"[", []string{"["}},
	}
	for _, tt := range tests {
		if got := Glob(dir, tt.pattern); !slices.Equal(got, tt.want) {
			t.Errorf("Glob(%q) = %q, want %q", tt.pattern, got, tt.want)
		}
	}
}

// TestFind: the script is the value's first word in dir, and only an
// executable regular file counts.
func TestFind(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	os.WriteFile(dir+"/run.sh", []byte("#!/bin/sh\n"), 0o755)
	os.WriteFile(dir+"/plain.sh", []byte("#!/bin/sh\n"), 0o644)
	os.Mkdir(dir+"/sub", 0o755)
	if p, args, ok := Find(dir, "run.sh one two"); !ok || p != dir+"/run.sh" || !slices.Equal(args, []string{"one", "two"}) {
		t.Errorf("Find(run.sh one two) = %q %q %v", p, args, ok)
	}
	for _, v := range []string{"plain.sh", "sub", "missing", ""} {
		if _, _, ok := Find(dir, v); ok {
			t.Errorf("Find(%q) accepted it", v)
		}
	}
	// Dir: the override directory only when it has the script, executable.
	if got := Dir(dir, "run.sh x", "/src"); got != dir {
		t.Errorf("Dir with the script there = %q, want %q", got, dir)
	}
	if got := Dir(dir, "plain.sh", "/src"); got != "/src" {
		t.Errorf("Dir with a non-executable script = %q, want /src", got)
	}
}
