package pkgbuild

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/google/rpmpack"
)

// rpmRelease is fixed: each module version is packaged once.
const rpmRelease = "1"

// BuildRPM writes <package>-<version>-1.<arch>.rpm into outDir and returns
// its path. It holds the same files as the .deb, with %post doing what
// the Debian postinst does (add with --rpm_safe_upgrade, then build and
// install) and %preun removing the module as dkms 2.x RPMs did. RPM
// versions cannot contain '-', so one in the module version becomes '_'
// in the package metadata only; paths and scripts use the real version.
func BuildRPM(ctx context.Context, s Spec, outDir string) (string, error) {
	if err := s.validate(); err != nil {
		return "", fmt.Errorf("building .rpm: %w", err)
	}
	arch, err := s.rpmArch()
	if err != nil {
		return "", fmt.Errorf("building .rpm: %w", err)
	}
	ents, err := payload(ctx, s)
	if err != nil {
		return "", fmt.Errorf("building .rpm: %w", err)
	}
	version := strings.ReplaceAll(s.Version, "-", "_")
	name := packageName(s.Module)
	r, err := rpmpack.NewRPM(rpmpack.RPMMetaData{
		Name:        name,
		Summary:     oneLine(s.summary()),
		Description: s.longDescription(),
		Version:     version,
		Release:     rpmRelease,
		Arch:        arch,
		Packager:    oneLine(s.maintainer()),
		Group:       "System Environment/Kernel",
		Licence:     "see the module source",
		BuildTime:   ents[0].mtime,
		Compressor:  "gzip",
		Requires:    rpmpack.Relations{{Name: "dkms"}},
	})
	if err != nil {
		return "", fmt.Errorf("building .rpm: %w", err)
	}
	for _, e := range ents {
		// /usr, /usr/src and /usr/share belong to the base system; owning
		// them would make rpm remove or re-mode them with this package.
		switch e.path {
		case "/usr", "/usr/src", "/usr/share":
			continue
		}
		f := rpmpack.RPMFile{Name: e.path, Mode: uint(e.mode.Perm()), Owner: "root", Group: "root", MTime: uint32(e.mtime.Unix())}
		switch {
		case e.mode.IsDir():
			f.Mode |= 0o40000
		case e.mode&fs.ModeSymlink != 0:
			f.Mode |= 0o120000
			f.Body = []byte(e.link)
		default:
			f.Mode |= 0o100000
			f.Body = e.body
		}
		r.AddFile(f)
	}
	r.AddPostin(rpmPost(s))
	r.AddPreun(rpmPreun(s))

	out := filepath.Join(outDir, fmt.Sprintf("%s-%s-%s.%s.rpm", name, version, rpmRelease, arch))
	f, err := os.CreateTemp(outDir, "."+filepath.Base(out)+".tmp*")
	if err != nil {
		return "", fmt.Errorf("building .rpm: %w", err)
	}
	werr := r.Write(f)
	if werr == nil {
		werr = f.Chmod(0o644)
	}
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr == nil {
		werr = os.Rename(f.Name(), out)
	}
	if werr != nil {
		os.Remove(f.Name())
		return "", fmt.Errorf("building .rpm: %w", werr)
	}
	return out, nil
}
