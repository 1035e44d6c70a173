package pkgbuild

import (
	"fmt"
	"io"
)

// arWriter writes the common ar format that .deb files use: a global
// "!<arch>\n" magic, then per member a 60-byte header and the data padded
// to an even length. dpkg accepts only short names, which is all a .deb
// needs, so long-name extensions are left out.
type arWriter struct {
	w     io.Writer
	begun bool
}

func (a *arWriter) add(name string, mtime int64, mode uint32, data []byte) error {
	if len(name) > 16 {
		return fmt.Errorf("ar member name %q longer than 16 bytes", name)
	}
	if !a.begun {
		if _, err := io.WriteString(a.w, "!<arch>\n"); err != nil {
			return err
		}
		a.begun = true
	}
	hdr := fmt.Sprintf("%-16s%-12d%-6d%-6d%-8o%-10d`\n", name, mtime, 0, 0, mode, len(data))
	if len(hdr) != 60 {
		return fmt.Errorf("ar header for %q does not fit its fields", name)
	}
	if _, err := io.WriteString(a.w, hdr); err != nil {
		return err
	}
	if _, err := a.w.Write(data); err != nil {
		return err
	}
	if len(data)%2 == 1 {
		if _, err := io.WriteString(a.w, "\n"); err != nil {
			return err
		}
	}
	return nil
}
