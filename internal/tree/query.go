package tree

import (
	"strings"

	"github.com/dkms-go/dkms/internal/kver"
)

// LatestVersion returns the highest (sort -V) version of module dep present in
// the tree in any state for the pair (§7.9).
func (t *Tree) LatestVersion(dep string) string {
	vs := t.Versions(dep, "")
	if len(vs) == 0 {
		return ""
	}
	kver.SortV(vs)
	return vs[len(vs)-1]
}

// AnyInstalled reports whether some version of module dep is
// installed for the pair (§6.2 step 9).
func (t *Tree) AnyInstalled(dep, k, a string) bool {
	for _, v := range t.Versions(dep, "") {
		if t.IsInstalled(Target{Module: dep, Version: v, Kernel: k, Arch: a}) {
			return true
		}
	}
	return false
}

// AllBuilt returns the pairs for --all (§2.4): merely built pairs first,
// then installed ones, each group in sort -V order.
func (t *Tree) AllBuilt(m, v string) ([]string, []string) {
	if m == "" || v == "" || t.State(m, v) != Added {
		return nil, nil
	}
	var lines []string
	for _, p := range t.BuiltPairs(m, v) {
		st := "built "
		if t.LinkActive(Target{Module: m, Version: v, Kernel: p.K, Arch: p.A}) {
			st = "installed "
		}
		lines = append(lines, st+m+"/"+v+"/"+p.K+"/"+p.A)
	}
	kver.SortV(lines)
	var ks, as []string
	for _, l := range lines {
		_, rest, _ := strings.Cut(l, " ")
		parts := strings.Split(rest, "/")
		n := len(parts)
		ks = append(ks, parts[n-2])
		as = append(as, parts[n-1])
	}
	return ks, as
}
