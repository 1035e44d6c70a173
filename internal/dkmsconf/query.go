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

// Excluded applies §4.9. The config rule is skipped when kernelConfig does
// not exist.
func (c *Conf) Excluded(kernel, arch, kernelConfig string) bool {
	if c.BuildExclusiveKernel != "" && !matchERE(c.BuildExclusiveKernel, kernel) {
		return true
	}
	if c.BuildExclusiveKernelMin != "" && kver.Less(kernel, c.BuildExclusiveKernelMin) {
		return true
	}
	maxV := c.BuildExclusiveKernelMax
	if maxV == "" {
		maxV = c.ObsoleteBy
	}
	if maxV != "" && kver.Less(maxV, kernel) {
		return true
	}
	if c.BuildExclusiveArch != "" && !matchERE(c.BuildExclusiveArch, arch) {
		return true
	}
	if c.BuildExclusiveConfig != "" {
		set, err := configSymbols(kernelConfig)
		if err != nil {
			return false
		}
		for _, w := range strings.Fields(c.BuildExclusiveConfig) {
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
	case hasPrefix("fedora", "rhel", "ovm"):
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
