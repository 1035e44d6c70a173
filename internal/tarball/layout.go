package tarball

import (
	"errors"
	"os"
	"path/filepath"
	"strings"

	"github.com/dkms-go/dkms/internal/fsops"
)

// The layout of a mktarball archive (§9): the built modules of each
// kernel under MainTree/<k>/<a>, and either the module source
// (SourceTree) or, for --binaries-only, the module's dkms.conf and its
// name and version (BinariesOnly).
const (
	MainTree     = "dkms_main_tree"
	SourceTree   = "dkms_source_tree"
	BinariesOnly = "dkms_binaries_only"
)

// manyKernelsLimit: a kernel component this long or longer in the archive
// name becomes "manykernels" (§6.10 step 5).
const manyKernelsLimit = 200

// Kernel names one <k>/<a> directory of MainTree.
type Kernel struct{ K, A string }

// Name is the default file name of module m version v's archive holding
// the builds of kernels (§6.10 step 5); none means a source-only archive.
func Name(m, v string, kernels []Kernel) string {
	component := "source-only"
	if kernels != nil {
		var parts []string
		for _, k := range kernels {
			parts = append(parts, "kernel"+k.K+"-"+k.A)
		}
		component = strings.Join(parts, "-")
	}
	if len(component) >= manyKernelsLimit {
		component = "manykernels"
	}
	return m + "-" + v + "-" + component + ".dkms.tar.gz"
}

// WriteBinariesOnly writes the BinariesOnly directory dir: the name and
// version files (informational) and a copy of the module's dkms.conf.
func WriteBinariesOnly(dir, m, v, conf string) error {
	if err := fsops.MkdirAll(dir); err != nil {
		return err
	}
	if err := fsops.WriteFile(dir+"/PACKAGE_NAME", []byte(m+"\n"), 0o644); err != nil {
		return err
	}
	if err := fsops.WriteFile(dir+"/PACKAGE_VERSION", []byte(v+"\n"), 0o644); err != nil {
		return err
	}
	return fsops.CopyFile(conf, dir+"/dkms.conf", 0o644)
}

// Part finds which part of an extracted archive in dir carries the
// dkms.conf (§6.11 step 5): SourceTree, else BinariesOnly; "" when neither.
func Part(dir string) (part, conf string) {
	for _, p := range []string{SourceTree, BinariesOnly} {
		if fsops.IsRegular(dir + "/" + p + "/dkms.conf") {
			return p, dir + "/" + p + "/dkms.conf"
		}
	}
	return "", ""
}

// FirstConf is the first dkms.conf in walk order below dir, the source of
// an archive not made by mktarball (§6.11 step 4); "" when there is none.
func FirstConf(dir string) string {
	found := ""
	filepath.WalkDir(dir, func(p string, de os.DirEntry, err error) error {
		if err != nil || found != "" {
			return filepath.SkipAll
		}
		if de.Name() == "dkms.conf" && fsops.IsRegular(p) {
			found = p
			return filepath.SkipAll
		}
		return nil
	})
	return found
}

// Binaries lists the <k>/<a> directories of an extracted MainTree in glob
// order. Symbolic links in their place, or links inside them that point
// out of their directory, are refused: each directory is copied on its
// own.
func Binaries(mainTree string) ([]Kernel, error) {
	var out []Kernel
	for _, k := range fsops.ReadDirNames(mainTree) {
		kd := mainTree + "/" + k
		if fsops.IsSymlink(kd) {
			return nil, errors.New(MainTree + "/" + k + " is a symbolic link")
		}
		if !fsops.IsDir(kd) {
			continue
		}
		for _, a := range fsops.ReadDirNames(kd) {
			ad := kd + "/" + a
			if fsops.IsSymlink(ad) {
				return nil, errors.New(MainTree + "/" + k + "/" + a + " is a symbolic link")
			}
			if !fsops.IsDir(ad) {
				continue
			}
			if err := LinksStayInside(ad); err != nil {
				return nil, err
			}
			out = append(out, Kernel{K: k, A: a})
		}
	}
	return out, nil
}
