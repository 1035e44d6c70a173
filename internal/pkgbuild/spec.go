package pkgbuild

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/dkms-go/dkms/internal/modname"
)

// Spec describes the package to build.
type Spec struct {
	Module, Version string
	SourceDir       string   // the module source, with dkms.conf at its top
	Binaries        []Binary // prebuilt modules to ship (optional)
	// Maintainer and Description default to generic values when empty.
	Maintainer, Description string
	// Arch is the package architecture as a machine name (x86_64, i686,
	// aarch64, ...), a Debian name (amd64) or "all"/"noarch". Empty means
	// architecture-independent without Binaries and the binaries' own
	// architecture with them.
	Arch string
}

// Binary is one built module set, as dkms leaves it after a build.
type Binary struct {
	Kernel, Arch string
	// Dir is a built <dkms_tree>/<m>/<v>/<k>/<a> directory (module/,
	// log/, .dep_* files), copied as is into the binaries archive.
	Dir string
}

const defaultMaintainer = "Dynamic Kernel Module Support <root@localhost>"

// machineToDeb maps kernel machine names to Debian architectures; the
// reverse lookup gives RPM names.
var machineToDeb = map[string]string{
	"x86_64":  "amd64",
	"i386":    "i386",
	"i486":    "i386",
	"i586":    "i386",
	"i686":    "i386",
	"aarch64": "arm64",
	"armv7l":  "armhf",
	"ppc64le": "ppc64el",
	"s390x":   "s390x",
	"riscv64": "riscv64",
	"mips64":  "mips64el",
}

var debToRPM = map[string]string{
	"amd64": "x86_64", "i386": "i686", "arm64": "aarch64", "armhf": "armv7hl",
	"ppc64el": "ppc64le", "s390x": "s390x", "riscv64": "riscv64", "mips64el": "mips64el",
}

// packageName is <module>-dkms, folded into the characters both dpkg
// and rpm accept in a name (Debian forbids '_' and capitals).
func packageName(module string) string {
	return strings.ReplaceAll(strings.ToLower(module), "_", "-") + "-dkms"
}

var (
	validDebName    = regexp.MustCompile(`^[a-z0-9][a-z0-9.+-]+$`)
	validDebVersion = regexp.MustCompile(`^[0-9][A-Za-z0-9.+~-]*$`)
	validPathPart   = regexp.MustCompile(`^[A-Za-z0-9._+~-]+$`)
)

// validate checks what every package format needs.
func (s Spec) validate() error {
	if s.Module == "" || s.Version == "" {
		return errors.New("module and version must be set")
	}
	for _, n := range []struct{ what, value string }{{"module name", s.Module}, {"module version", s.Version}} {
		if err := modname.Check(n.value); err != nil {
			return fmt.Errorf("%s %w", n.what, err)
		}
	}
	for _, v := range []string{s.Module, s.Version} {
		if !validPathPart.MatchString(v) || v == "." || v == ".." {
			return fmt.Errorf("%q cannot be used in a package file name", v)
		}
	}
	if !validDebName.MatchString(packageName(s.Module)) {
		return fmt.Errorf("module name %q gives an invalid package name %q", s.Module, packageName(s.Module))
	}
	if fi, err := os.Stat(filepath.Join(s.SourceDir, "dkms.conf")); err != nil {
		return fmt.Errorf("module source: %w", err)
	} else if !fi.Mode().IsRegular() {
		return fmt.Errorf("module source: %s/dkms.conf is not a regular file", s.SourceDir)
	}
	for _, b := range s.Binaries {
		if !validPathPart.MatchString(b.Kernel) || !validPathPart.MatchString(b.Arch) || b.Kernel == ".." || b.Arch == ".." {
			return fmt.Errorf("binary for kernel %q arch %q: invalid name", b.Kernel, b.Arch)
		}
		if fi, err := os.Stat(filepath.Join(b.Dir, "module")); err != nil || !fi.IsDir() {
			return fmt.Errorf("no modules built for %s (%s): %s has no module directory", b.Kernel, b.Arch, b.Dir)
		}
	}
	return nil
}

// machineArch is the architecture the package is for, as a machine name,
// or "" when it is architecture-independent.
func (s Spec) machineArch() (string, error) {
	switch a := s.Arch; a {
	case "all", "noarch":
		return "", nil
	case "":
	default:
		if m, ok := debToRPM[a]; ok && machineToDeb[a] == "" {
			return m, nil
		}
		return a, nil
	}
	arch := ""
	for _, b := range s.Binaries {
		if arch != "" && b.Arch != arch {
			return "", fmt.Errorf("binaries for both %s and %s: set the package architecture", arch, b.Arch)
		}
		arch = b.Arch
	}
	return arch, nil
}

func (s Spec) debArch() (string, error) {
	m, err := s.machineArch()
	if err != nil || m == "" {
		return "all", err
	}
	if d, ok := machineToDeb[m]; ok {
		return d, nil
	}
	return "", fmt.Errorf("no Debian architecture known for %q", m)
}

func (s Spec) rpmArch() (string, error) {
	m, err := s.machineArch()
	if err != nil || m == "" {
		return "noarch", err
	}
	return m, nil
}

func (s Spec) maintainer() string {
	if s.Maintainer != "" {
		return s.Maintainer
	}
	return defaultMaintainer
}

// summary is the one-line description, as dkms 2.x's templates wrote it.
func (s Spec) summary() string {
	if s.Description != "" {
		first, _, _ := strings.Cut(s.Description, "\n")
		return first
	}
	return s.Module + " driver in DKMS format."
}

// longDescription is the text after the summary line.
func (s Spec) longDescription() string {
	if _, rest, ok := strings.Cut(s.Description, "\n"); ok && strings.TrimSpace(rest) != "" {
		return strings.TrimSpace(rest)
	}
	text := fmt.Sprintf("This package provides the source of the %s %s kernel module; DKMS builds\nand installs it for the installed kernels and rebuilds it for new ones.", s.Module, s.Version)
	if len(s.Binaries) > 0 {
		text += "\nIt also carries modules prebuilt for some kernels, used as they are\nwhen one of those kernels is installed."
	}
	return text
}

// srcDir is where the source lands on the target system.
func (s Spec) srcDir() string { return "/usr/src/" + s.Module + "-" + s.Version }

// shareDir holds the binaries archive, where dkms 2.x mkdeb put it.
func (s Spec) shareDir() string { return "/usr/share/" + packageName(s.Module) }

// archivePath is the binaries archive on the target system; the name
// matches what common.postinst looks for.
func (s Spec) archivePath() string {
	return s.shareDir() + "/" + s.Module + "-" + s.Version + ".dkms.tar.gz"
}
