package pkgbuild

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"time"

	"github.com/dkms-go/dkms/internal/fsops"
	"github.com/dkms-go/dkms/internal/tarball"
)

// entry is one file system object of the package payload, with its
// absolute path on the target system.
type entry struct {
	path  string
	mode  fs.FileMode // type and permission bits
	body  []byte      // regular files
	link  string      // symbolic links
	mtime time.Time
}

// payload lists every entry the package installs, parents before
// children and in lexical order, so both formats come out reproducible.
func payload(ctx context.Context, s Spec) ([]entry, error) {
	now := time.Now()
	if fi, err := os.Stat(filepath.Join(s.SourceDir, "dkms.conf")); err == nil {
		// Directories we invent take the time of the dkms.conf, so two
		// builds of the same source give the same package.
		now = fi.ModTime()
	}
	dirs := func(paths ...string) []entry {
		var out []entry
		for _, p := range paths {
			out = append(out, entry{path: p, mode: fs.ModeDir | 0o755, mtime: now})
		}
		return out
	}
	ents := dirs("/usr", "/usr/src")
	src, err := treeEntries(s.SourceDir, s.srcDir())
	if err != nil {
		return nil, fmt.Errorf("reading module source: %w", err)
	}
	ents = append(ents, src...)
	if len(s.Binaries) > 0 {
		body, err := binariesArchive(ctx, s)
		if err != nil {
			return nil, err
		}
		ents = append(ents, dirs("/usr/share", s.shareDir())...)
		ents = append(ents, entry{path: s.archivePath(), mode: 0o644, body: body, mtime: now})
	}
	sort.SliceStable(ents, func(i, j int) bool { return ents[i].path < ents[j].path })
	return ents, nil
}

// treeEntries reads the tree at dir into entries rooted at dest. Set-ID
// bits are dropped: nothing in a module source needs them and a package
// must not install them behind the user's back.
func treeEntries(dir, dest string) ([]entry, error) {
	var out []entry
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		e := entry{path: path.Join(dest, filepath.ToSlash(rel)), mtime: fi.ModTime(), mode: fi.Mode() & (fs.ModeType | fs.ModePerm)}
		switch {
		case fi.IsDir():
		case fi.Mode().IsRegular():
			if e.body, err = os.ReadFile(p); err != nil {
				return err
			}
		case fi.Mode()&fs.ModeSymlink != 0:
			if e.link, err = os.Readlink(p); err != nil {
				return err
			}
		case fi.Mode()&fs.ModeSocket != 0:
			return nil
		default:
			return fmt.Errorf("%s: special files cannot be packaged", p)
		}
		out = append(out, e)
		return nil
	})
	return out, err
}

// binariesArchive builds the binaries-only mktarball archive (spec §9) of
// s.Binaries and returns its bytes. Binaries-only, because the package
// installs the source in /usr/src itself: ldtarball then finds it there,
// loads the modules and adds the module in one go.
func binariesArchive(ctx context.Context, s Spec) ([]byte, error) {
	tmp, err := os.MkdirTemp("", "dkms-pkgbuild-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	tree := filepath.Join(tmp, "tree")
	only := filepath.Join(tree, "dkms_binaries_only")
	if err := os.MkdirAll(only, 0o755); err != nil {
		return nil, err
	}
	// mktarball archives its private 0700 temp dir as "./".
	if err := os.Chmod(tree, 0o700); err != nil {
		return nil, err
	}
	for _, b := range s.Binaries {
		dst := filepath.Join(tree, "dkms_main_tree", b.Kernel, b.Arch)
		if err := fsops.CopyTreePortable(b.Dir, dst); err != nil {
			return nil, fmt.Errorf("copying binaries for %s (%s): %w", b.Kernel, b.Arch, err)
		}
	}
	conf, err := os.ReadFile(filepath.Join(s.SourceDir, "dkms.conf"))
	if err != nil {
		return nil, err
	}
	for name, body := range map[string][]byte{
		"PACKAGE_NAME":    []byte(s.Module + "\n"),
		"PACKAGE_VERSION": []byte(s.Version + "\n"),
		"dkms.conf":       conf,
	} {
		if err := os.WriteFile(filepath.Join(only, name), body, 0o644); err != nil {
			return nil, err
		}
	}
	out := filepath.Join(tmp, "binaries.dkms.tar.gz")
	if err := tarball.Create(ctx, tree, out); err != nil {
		return nil, fmt.Errorf("archiving binaries: %w", err)
	}
	return os.ReadFile(out)
}
