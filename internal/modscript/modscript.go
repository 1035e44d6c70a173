// Package modscript locates the PRE_*/POST_* scripts a dkms.conf names
// (§7.1) and expands their arguments as the shell that upstream runs them
// from does.
package modscript

import (
	"os"
	"path/filepath"
	"strings"
)

// Find resolves a PRE_*/POST_* directive (§7.1) in dir: the script is
// the value up to the first space; ok is false when it is not executable.
func Find(dir, value string) (string, []string, bool) {
	fields := strings.Fields(value)
	if len(fields) == 0 {
		return "", nil, false
	}
	p := dir + "/" + fields[0]
	st, err := os.Stat(p)
	if err != nil || st.IsDir() || st.Mode()&0o111 == 0 {
		return p, nil, false
	}
	return p, fields[1:], true
}

// Glob expands pattern as the shell does in working directory dir: the
// sorted matches, relative patterns giving relative names, hidden files
// only for a component that starts with a dot; no match leaves the word.
func Glob(dir, pattern string) []string {
	if !strings.ContainsAny(pattern, "*?[") {
		return []string{pattern}
	}
	abs := pattern
	if !filepath.IsAbs(pattern) {
		abs = dir + "/" + pattern
	}
	matches, err := filepath.Glob(abs)
	var out []string
	for _, m := range matches {
		rel := m
		if !filepath.IsAbs(pattern) {
			rel = strings.TrimPrefix(m, dir+"/")
		}
		if !hiddenMatch(pattern, rel) {
			out = append(out, rel)
		}
	}
	if err != nil || len(out) == 0 {
		return []string{pattern}
	}
	return out
}

// hiddenMatch reports whether match has a dot file component that the
// pattern's component did not spell with a leading dot.
func hiddenMatch(pattern, match string) bool {
	pc, mc := strings.Split(pattern, "/"), strings.Split(match, "/")
	for i := range min(len(pc), len(mc)) {
		if strings.HasPrefix(mc[i], ".") && !strings.HasPrefix(pc[i], ".") {
			return true
		}
	}
	return false
}
