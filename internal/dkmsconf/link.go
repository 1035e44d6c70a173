package dkmsconf

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// checkLink refuses a dkms.conf that is a symbolic link resolving outside
// the directory it is in, before a byte of it is read: a source tree or
// archive could otherwise point it at /etc/shadow, and the evaluator's
// parse error would quote the target's first line. Links within the
// directory (dkms.conf -> dkms.conf.in) and a path whose directory is a
// link (<dkms_tree>/<m>/<v>/source/dkms.conf) are fine.
func checkLink(path string) error {
	fi, err := os.Lstat(path)
	if err != nil || fi.Mode()&os.ModeSymlink == 0 {
		return nil
	}
	dir, err := filepath.EvalSymlinks(filepath.Dir(path))
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	target, err := filepath.EvalSymlinks(path)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if !strings.HasPrefix(target, dir+"/") {
		return &linkError{path}
	}
	return nil
}

// linkError is ErrLinkOutside for one file; its text names the file only.
type linkError struct{ path string }

func (e *linkError) Error() string {
	return e.path + ": a symbolic link leading out of its directory, not read"
}

func (e *linkError) Is(target error) bool { return target == ErrLinkOutside }
