package pkgbuild

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/md5"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/klauspost/compress/gzip"
	"github.com/ulikunitz/xz"
)

// BuildDeb writes <package>_<version>_<arch>.deb into outDir and returns
// its path. The package is <module>-dkms (lower case, '_' as '-', which is
// what Debian allows); the architecture is "all" unless prebuilt modules
// tie it to theirs.
func BuildDeb(ctx context.Context, s Spec, outDir string) (string, error) {
	if err := s.validate(); err != nil {
		return "", fmt.Errorf("building .deb: %w", err)
	}
	if !validDebVersion.MatchString(s.Version) {
		return "", fmt.Errorf("building .deb: %q is not a valid Debian version", s.Version)
	}
	arch, err := s.debArch()
	if err != nil {
		return "", fmt.Errorf("building .deb: %w", err)
	}
	ents, err := payload(ctx, s)
	if err != nil {
		return "", fmt.Errorf("building .deb: %w", err)
	}
	mtime := ents[0].mtime

	data, md5sums, size, err := dataTar(ents)
	if err != nil {
		return "", fmt.Errorf("building .deb: %w", err)
	}
	control, err := controlTar(s, arch, md5sums, size, mtime)
	if err != nil {
		return "", fmt.Errorf("building .deb: %w", err)
	}

	var deb bytes.Buffer
	ar := &arWriter{w: &deb}
	// dpkg requires exactly this member order.
	for _, m := range []struct {
		name string
		data []byte
	}{{"debian-binary", []byte("2.0\n")}, {"control.tar.gz", control}, {"data.tar.xz", data}} {
		if err := ar.add(m.name, mtime.Unix(), 0o100644, m.data); err != nil {
			return "", fmt.Errorf("building .deb: %w", err)
		}
	}
	out := filepath.Join(outDir, packageName(s.Module)+"_"+s.Version+"_"+arch+".deb")
	if err := writeAtomic(out, deb.Bytes()); err != nil {
		return "", fmt.Errorf("building .deb: %w", err)
	}
	return out, nil
}

// dataTar builds data.tar.xz from the payload and returns it with the
// md5sums control file and the installed size in KiB.
func dataTar(ents []entry) (data, md5sums []byte, kib int64, err error) {
	var tarBuf bytes.Buffer
	tw := tar.NewWriter(&tarBuf)
	var sums strings.Builder
	if err := tw.WriteHeader(debHeader(entry{path: "/", mode: fs.ModeDir | 0o755, mtime: ents[0].mtime})); err != nil {
		return nil, nil, 0, err
	}
	for _, e := range ents {
		if err := tw.WriteHeader(debHeader(e)); err != nil {
			return nil, nil, 0, err
		}
		// Installed-Size counts every object as at least one block, as
		// dpkg-gencontrol does.
		kib += (int64(len(e.body)) + 1023) / 1024
		if e.mode.IsDir() || e.mode&fs.ModeSymlink != 0 {
			kib++
			continue
		}
		if _, err := tw.Write(e.body); err != nil {
			return nil, nil, 0, err
		}
		fmt.Fprintf(&sums, "%x  %s\n", md5.Sum(e.body), strings.TrimPrefix(e.path, "/"))
	}
	if err := tw.Close(); err != nil {
		return nil, nil, 0, err
	}
	var xzBuf bytes.Buffer
	zw, err := xz.NewWriter(&xzBuf)
	if err != nil {
		return nil, nil, 0, err
	}
	if _, err := zw.Write(tarBuf.Bytes()); err != nil {
		return nil, nil, 0, err
	}
	if err := zw.Close(); err != nil {
		return nil, nil, 0, err
	}
	return xzBuf.Bytes(), []byte(sums.String()), kib, nil
}

// debHeader makes the tar header of one payload entry the way
// dpkg-deb writes them: "./"-relative names, owned by root.
func debHeader(e entry) *tar.Header {
	h := &tar.Header{
		Name:    "." + e.path,
		Mode:    int64(e.mode.Perm()),
		ModTime: e.mtime.Truncate(time.Second),
		Uname:   "root",
		Gname:   "root",
		Format:  tar.FormatGNU,
	}
	switch {
	case e.mode.IsDir():
		h.Typeflag = tar.TypeDir
		if !strings.HasSuffix(h.Name, "/") {
			h.Name += "/"
		}
	case e.mode&fs.ModeSymlink != 0:
		h.Typeflag = tar.TypeSymlink
		h.Linkname = e.link
	default:
		h.Typeflag = tar.TypeReg
		h.Size = int64(len(e.body))
	}
	return h
}

// controlTar builds control.tar.gz: control, md5sums and the maintainer
// scripts.
func controlTar(s Spec, arch string, md5sums []byte, kib int64, mtime time.Time) ([]byte, error) {
	var control strings.Builder
	fmt.Fprintf(&control, "Package: %s\n", packageName(s.Module))
	fmt.Fprintf(&control, "Version: %s\n", s.Version)
	fmt.Fprintf(&control, "Architecture: %s\n", arch)
	fmt.Fprintf(&control, "Maintainer: %s\n", oneLine(s.maintainer()))
	fmt.Fprintf(&control, "Installed-Size: %d\n", kib)
	control.WriteString("Depends: dkms\n")
	control.WriteString("Section: kernel\nPriority: optional\n")
	fmt.Fprintf(&control, "Description: %s\n", oneLine(s.summary()))
	for _, line := range strings.Split(s.longDescription(), "\n") {
		// Control file continuation lines start with a space; an empty
		// line must be written as " .".
		if strings.TrimSpace(line) == "" {
			line = "."
		}
		control.WriteString(" " + line + "\n")
	}

	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	files := []struct {
		name string
		mode int64
		body string
	}{
		{"control", 0o644, control.String()},
		{"md5sums", 0o644, string(md5sums)},
		{"postinst", 0o755, postinst(s)},
		{"prerm", 0o755, prerm(s)},
	}
	hdr := &tar.Header{Name: "./", Typeflag: tar.TypeDir, Mode: 0o755, ModTime: mtime, Uname: "root", Gname: "root", Format: tar.FormatGNU}
	if err := tw.WriteHeader(hdr); err != nil {
		return nil, err
	}
	for _, f := range files {
		hdr := &tar.Header{Name: "./" + f.name, Typeflag: tar.TypeReg, Mode: f.mode, Size: int64(len(f.body)),
			ModTime: mtime, Uname: "root", Gname: "root", Format: tar.FormatGNU}
		if err := tw.WriteHeader(hdr); err != nil {
			return nil, err
		}
		if _, err := tw.Write([]byte(f.body)); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// oneLine keeps a user-supplied value from breaking the control format.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// writeAtomic writes data to path through a temporary file, so a failed
// build never leaves a truncated package where a good one is expected.
func writeAtomic(path string, data []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	_, werr := f.Write(data)
	if werr == nil {
		werr = f.Chmod(0o644)
	}
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr == nil {
		werr = os.Rename(f.Name(), path)
	}
	if werr != nil {
		os.Remove(f.Name())
	}
	return werr
}
