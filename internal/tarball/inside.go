package tarball

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
)

// LinksStayInside checks, after extraction, that every symbolic link below
// dir is relative and resolves (through the tree's own links) to a place
// inside dir. Extract already keeps links inside its destination; a
// caller that then copies one part of the archive elsewhere (the source
// tree of a DKMS archive into /usr/src, one kernel's binaries into the
// dkms tree) needs this stricter check, because a link to a sibling part
// of the archive would point into the target tree once copied.
func LinksStayInside(dir string) error {
	root, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return err
	}
	return filepath.WalkDir(dir, func(p string, de os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if de.Type()&os.ModeSymlink == 0 {
			return nil
		}
		resolved, err := filepath.EvalSymlinks(p)
		if err != nil {
			// A dangling link is copied as it is: only its text matters.
			target, _ := os.Readlink(p)
			if filepath.IsAbs(target) {
				return errors.New("symbolic link " + relName(dir, p) + " points to an absolute path")
			}
			if !within(dir, filepath.Join(filepath.Dir(p), target)) {
				return errors.New("symbolic link " + relName(dir, p) + " points outside its directory")
			}
			return nil
		}
		if !within(root, resolved) {
			return errors.New("symbolic link " + relName(dir, p) + " points outside its directory")
		}
		return nil
	})
}

// within reports whether the clean path p is root or below it.
func within(root, p string) bool {
	rel, err := filepath.Rel(root, p)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, "../")
}

// relName names p for a message: relative to dir, prefixed by dir's
// last component (dkms_source_tree/..., <arch>/...).
func relName(dir, p string) string {
	rel, err := filepath.Rel(dir, p)
	if err != nil {
		return p
	}
	return filepath.Base(dir) + "/" + rel
}
