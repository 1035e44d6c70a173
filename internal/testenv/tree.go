package testenv

import (
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"
)

// Tree describes everything below root, one sorted line per entry: the
// relative path and mode, then a regular file's content and modification
// time or a symlink's target. Two equal listings mean two trees a test
// cannot tell apart. Entries whose base name is in skip are left out (the
// tree lock, which every action takes before it looks at its input).
func Tree(t testing.TB, root string, skip ...string) string {
	t.Helper()
	s, err := List(root, true, skip...)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// List is Tree without the test: with contents false it leaves out what
// files hold and when they changed (paths, modes and link targets only,
// for expected output a person reads).
func List(root string, contents bool, skip ...string) (string, error) {
	var lines []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if slices.Contains(skip, d.Name()) && p != root {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		rel, _ := filepath.Rel(root, p)
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		line := rel + " " + fi.Mode().String()
		switch {
		case fi.Mode()&fs.ModeSymlink != 0:
			l, err := os.Readlink(p)
			if err != nil {
				return err
			}
			line += " -> " + l
		case fi.Mode().IsRegular() && contents:
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			line += " " + string(b) + " " + fi.ModTime().UTC().Format(time.RFC3339)
		}
		lines = append(lines, line)
		return nil
	})
	sort.Strings(lines)
	return strings.Join(lines, "\n"), err
}
