// Package distro names the distribution dkms runs on (§2.5), as read from
// os-release under the system root; the name selects distribution-specific
// behaviour such as the default module location (§4.6).
package distro

import (
	"bufio"
	"os"
	"strings"

	"github.com/dkms-go/dkms/internal/paths"
)

// Detect implements §2.5: "ubuntu" for ID=ubuntu, else ID_LIKE when it
// is defined (even empty), else ID.
func Detect(l paths.Layout) (string, bool) {
	for _, f := range []string{"/etc/os-release", "/usr/lib/os-release"} {
		vars, ok := readOSRelease(l.Sys(f))
		if !ok {
			continue
		}
		if vars["ID"] == "ubuntu" {
			return "ubuntu", true
		}
		if like, ok := vars["ID_LIKE"]; ok {
			return like, true
		}
		return vars["ID"], true
	}
	return "", false
}

func readOSRelease(path string) (map[string]string, bool) {
	f, err := os.Open(path)
	if err != nil {
		return nil, false
	}
	defer f.Close()
	vars := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		k, v, ok := strings.Cut(line, "=")
		if !ok || strings.HasPrefix(line, "#") {
			continue
		}
		if len(v) >= 2 && (v[0] == '"' || v[0] == '\'') && v[len(v)-1] == v[0] {
			v = v[1 : len(v)-1]
		}
		vars[k] = v
	}
	return vars, true
}
