package tarball

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// Create archives the contents of srcDir into outPath like
// `tar -C srcDir -caf outPath .`: member names start with "./", the first
// member "./" carries srcDir's own mode, and the compression follows the
// suffix of outPath (gzip, bzip2, xz, zstd, or none for ".tar" and unknown
// suffixes). Members are written in lexical order so the same tree always
// gives the same member list. The archive appears at outPath only when it
// is complete; a failure leaves no partial file behind.
func Create(ctx context.Context, srcDir, outPath string) (err error) {
	root, err := os.Stat(srcDir)
	if err != nil {
		return fmt.Errorf("creating archive: %w", err)
	}
	if !root.IsDir() {
		return fmt.Errorf("creating archive: %s is not a directory", srcDir)
	}
	// dkms sweeps temporaries named .dkms-tmp-* (engine/recover.go).
	out, err := os.CreateTemp(filepath.Dir(outPath), ".dkms-tmp-"+filepath.Base(outPath)+"-*")
	if err != nil {
		return fmt.Errorf("creating archive: %w", err)
	}
	defer func() {
		if err != nil {
			out.Close()
			os.Remove(out.Name())
		}
	}()

	zw, wait, err := compressor(ctx, codecForName(outPath), out)
	if err != nil {
		return fmt.Errorf("creating archive %s: %w", outPath, err)
	}
	tw := tar.NewWriter(zw)
	werr := writeTree(ctx, tw, srcDir)
	if werr == nil {
		werr = tw.Close()
	}
	// The compressor must be closed (and bzip2 reaped) even when writing
	// failed, or the helper process would linger.
	cerr := zw.Close()
	waitErr := wait()
	if err := errors.Join(werr, cerr, waitErr); err != nil {
		return fmt.Errorf("creating archive %s: %w", outPath, err)
	}
	// tar creates archives with the usual 0666 &^ umask; CreateTemp's 0600
	// would make a tarball meant for other machines unreadable to others.
	if err := out.Chmod(0o644); err != nil {
		return fmt.Errorf("creating archive %s: %w", outPath, err)
	}
	if err := out.Close(); err != nil {
		return fmt.Errorf("creating archive %s: %w", outPath, err)
	}
	if err := os.Rename(out.Name(), outPath); err != nil {
		return fmt.Errorf("creating archive %s: %w", outPath, err)
	}
	return nil
}

// writeTree adds srcDir and everything below it to tw.
func writeTree(ctx context.Context, tw *tar.Writer, srcDir string) error {
	return filepath.WalkDir(srcDir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		rel, err := filepath.Rel(srcDir, path)
		if err != nil {
			return err
		}
		name := "./"
		if rel != "." {
			name = "./" + filepath.ToSlash(rel)
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		return writeMember(tw, path, name, fi)
	})
}

// writeMember writes one header (and body for regular files).
func writeMember(tw *tar.Writer, path, name string, fi fs.FileInfo) error {
	if fi.Mode()&fs.ModeSocket != 0 {
		// GNU tar skips sockets too ("socket ignored"): they cannot be
		// recreated from an archive.
		return nil
	}
	link := ""
	if fi.Mode()&fs.ModeSymlink != 0 {
		var err error
		if link, err = os.Readlink(path); err != nil {
			return err
		}
	}
	hdr, err := tar.FileInfoHeader(fi, link)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	hdr.Name = name
	if fi.IsDir() && name != "./" {
		hdr.Name += "/"
	}
	// Access and change times differ between otherwise identical trees;
	// leaving them out keeps archives reproducible.
	hdr.Format = tar.FormatUnknown
	hdr.AccessTime, hdr.ChangeTime = time.Time{}, time.Time{}
	if err := tw.WriteHeader(hdr); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if !fi.Mode().IsRegular() {
		return nil
	}
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	n, err := io.Copy(tw, f)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if n != hdr.Size {
		return fmt.Errorf("%s: file changed size while being archived", path)
	}
	return nil
}
