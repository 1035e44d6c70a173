package tree

import (
	"syscall"

	"github.com/dkms-go/dkms/internal/fsops"
	"github.com/dkms-go/dkms/internal/statuscache"
)

// The module files of a build: which file is the built module of a name.

// BuiltFile is the file install takes for dest name d (§6.3 steps 6 and
// 10.3): <d>.ko, else <d>.ko<suffix> for the kernel's current suffix; ""
// when neither is there.
func BuiltFile(modDir, d, suffix string) string {
	for _, p := range []string{modDir + "/" + d + ".ko", modDir + "/" + d + ".ko" + suffix} {
		if fsops.IsRegular(p) {
			return p
		}
	}
	return ""
}

// FindKo returns dir/<name>.ko or dir/<name>.ko.<ext> when present.
func FindKo(dir, name string) string {
	p, _ := FindKoID(dir, name)
	return p
}

// FindKoID is FindKo that also returns the file's identity.
func FindKoID(dir, name string) (string, statuscache.FileID) {
	var st syscall.Stat_t
	for _, ext := range []string{".ko", ".ko.zst", ".ko.xz", ".ko.gz"} {
		p := dir + "/" + name + ext
		if syscall.Stat(p, &st) == nil && st.Mode&syscall.S_IFMT == syscall.S_IFREG {
			return p, statuscache.IDOf(&st)
		}
	}
	return "", statuscache.FileID{}
}
