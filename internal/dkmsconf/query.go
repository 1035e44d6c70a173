package dkmsconf

import (
	"bufio"
	"os"
	"regexp"
	"strings"

	"github.com/dkms-go/dkms/internal/kver"
)

// matchERE reports whether s matches the unanchored POSIX ERE re. A pattern
// that does not compile matches nothing, as with a failing grep -E.
func matchERE(re, s string) bool {
	r, err := regexp.CompilePOSIX(re)
	if err != nil {
		return false
	}
	return r.MatchString(s)
}

// MakeCommand returns §4.7 steps 1-2: MAKE[0] unless MAKE_MATCH[0] is set,
// then the last MAKE[i] whose MAKE_MATCH[i] matches kernel. The result may
// be "" (the caller applies the default, LLVM=1 and the -j rewrite).
func (c *Conf) MakeCommand(kernel string) string {
	cand := ""
	if at(c.MakeMatch, 0) == "" {
		cand = at(c.Make, 0)
	}
	for i, m := range c.Make {
		if mm := at(c.MakeMatch, i); m != "" && mm != "" && matchERE(mm, kernel) {
			cand = m
		}
	}
	return cand
}

// Patches returns §4.8's patch list for kernel, in index order.
func (c *Conf) Patches(kernel string) []string {
	var out []string
	for i, p := range c.Patch {
		if pm := at(c.PatchMatch, i); p != "" && (pm == "" || matchERE(pm, kernel)) {
			out = append(out, p)
		}
	}
	return out
}

// Excludes applies the five rules of §4.9 to one element of the
// BUILD_EXCLUSIVE arrays. The config rule is skipped when the kernel
// config cannot be read; syms reads it at most once.
func (x Exclusive) Excludes(kernel, arch string, syms func() (map[string]bool, bool)) bool {
	if x.Kernel != "" && !matchERE(x.Kernel, kernel) {
		return true
	}
	if x.KernelMin != "" && kver.Less(kernel, x.KernelMin) {
		return true
	}
	if x.KernelMax != "" && kver.Less(x.KernelMax, kernel) {
		return true
	}
	if x.Arch != "" && !matchERE(x.Arch, arch) {
		return true
	}
	if x.Config != "" {
		set, ok := syms()
		if !ok {
			return false
		}
		for _, w := range strings.Fields(x.Config) {
			if neg, ok := strings.CutPrefix(w, "!"); ok {
				if set[neg] {
					return true
				}
			} else if !set[w] {
				return true
			}
		}
	}
	return false
}

// IsZero reports whether no BUILD_EXCLUSIVE directive has this element.
func (x Exclusive) IsZero() bool { return x == Exclusive{} }

// ExcludedRecords applies delta D5.1: record i is excluded when the global
// rules (record 0's element) or its own element exclude it. The result is
// nil when no record uses BUILD_EXCLUSIVE at all.
func ExcludedRecords(recs []Record, kernel, arch, kernelConfig string) []bool {
	if !UsesExclusive(recs) {
		return nil
	}
	var set map[string]bool
	read, readOK := false, false
	syms := func() (map[string]bool, bool) {
		if !read {
			var err error
			set, err = configSymbols(kernelConfig)
			read, readOK = true, err == nil
		}
		return set, readOK
	}
	out := make([]bool, len(recs))
	global := recs[0].Exclusive.Excludes(kernel, arch, syms)
	for i, r := range recs {
		out[i] = global || (i > 0 && r.Exclusive.Excludes(kernel, arch, syms))
	}
	return out
}

// UsesExclusive reports whether some record has a BUILD_EXCLUSIVE element
// (an OBSOLETE_BY used as maximum included), as the uninstall skip line
// test of delta D6 asks.
func UsesExclusive(recs []Record) bool {
	for _, r := range recs {
		if !r.Exclusive.IsZero() {
			return true
		}
	}
	return false
}

// Excluded reports whether the package as a whole is excluded for the
// pair: at least one record, and every record excluded (delta D5.1).
func (c *Conf) Excluded(kernel, arch, kernelConfig string) bool {
	ex := ExcludedRecords(c.Records, kernel, arch, kernelConfig)
	if ex == nil {
		return false
	}
	for _, x := range ex {
		if !x {
			return false
		}
	}
	return true
}

// configSymbols returns the symbols of lines matching ^CONFIG_X=[ym].
func configSymbols(path string) (map[string]bool, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	set := map[string]bool{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	for sc.Scan() {
		name, val, ok := strings.Cut(sc.Text(), "=")
		if ok && val != "" && (val[0] == 'y' || val[0] == 'm') {
			set[name] = true
		}
	}
	return set, sc.Err()
}

// EffectiveDestLocation applies §4.6 to a raw DEST_MODULE_LOCATION.
func EffectiveDestLocation(raw, distro, addonModulesDir string) string {
	hasPrefix := func(ps ...string) bool {
		for _, p := range ps {
			if strings.HasPrefix(distro, p) {
				return true
			}
		}
		return false
	}
	switch {
	case addonModulesDir != "":
		return "/" + addonModulesDir
	case hasPrefix("fedora", "centos", "rhel"):
		return "/extra"
	case hasPrefix("sles", "suse", "opensuse"):
		return "/updates"
	case hasPrefix("debian", "ubuntu", "arch"):
		return "/updates/dkms"
	}
	return raw
}

func at(s []string, i int) string {
	if i < len(s) {
		return s[i]
	}
	return ""
}

// ExclusiveDirectives names the BUILD_EXCLUSIVE_* settings of the conf
// (and OBSOLETE_BY), as `dkms doctor` shows them.
func (c *Conf) ExclusiveDirectives() string {
	var out []string
	// Record 0's element is the global restriction; its maximum may be
	// OBSOLETE_BY standing in (delta D4), which is named as such.
	var x Exclusive
	if len(c.Records) > 0 {
		x = c.Records[0].Exclusive
	}
	if x.KernelMax == c.ObsoleteBy {
		x.KernelMax = ""
	}
	for _, d := range []struct{ name, val string }{
		{"BUILD_EXCLUSIVE_KERNEL", x.Kernel}, {"BUILD_EXCLUSIVE_KERNEL_MIN", x.KernelMin},
		{"BUILD_EXCLUSIVE_KERNEL_MAX", x.KernelMax}, {"OBSOLETE_BY", c.ObsoleteBy},
		{"BUILD_EXCLUSIVE_ARCH", x.Arch}, {"BUILD_EXCLUSIVE_CONFIG", x.Config},
	} {
		if d.val != "" {
			out = append(out, d.name+"=\""+d.val+"\"")
		}
	}
	return strings.Join(out, " ")
}
