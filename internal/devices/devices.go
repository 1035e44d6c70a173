package devices

import (
	"bufio"
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
)

// Modaliases returns the sorted, de-duplicated, non-empty lines of every file
// named "modalias" below <sysRoot>/sys/devices. Symbolic links are never
// followed: sysfs links devices to their subsystems, drivers and parents, so
// following them loops. Unreadable entries are skipped, as with
// `find | xargs cat`, because some sysfs attributes fail to read on purpose.
func Modaliases(sysRoot string) ([]string, error) {
	root := filepath.Join(sysRoot, "sys", "devices")
	seen := map[string]bool{}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if path == root {
				return err
			}
			if d != nil && d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		if d.Name() != "modalias" || !d.Type().IsRegular() {
			return nil
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return nil
		}
		sc := bufio.NewScanner(bytes.NewReader(data))
		for sc.Scan() {
			if line := sc.Text(); line != "" {
				seen[line] = true
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("listing device modaliases: %w", err)
	}
	aliases := make([]string, 0, len(seen))
	for a := range seen {
		aliases = append(aliases, a)
	}
	sort.Strings(aliases)
	return aliases, nil
}

// Matching returns, sorted, the names of the modules (map from module name
// to its alias patterns) having a pattern that matches any of aliases.
func Matching(aliases []string, modules map[string][]string) []string {
	var names []string
	for name, patterns := range modules {
		if matchesAny(patterns, aliases) {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	return names
}

func matchesAny(patterns, aliases []string) bool {
	for _, p := range patterns {
		for _, a := range aliases {
			if Match(p, a) {
				return true
			}
		}
	}
	return false
}
