package tarball

import (
	"archive/tar"
	"bytes"
	"compress/bzip2"
	"context"
	"errors"
	"io"
	"os/exec"
	"strings"
	"testing"
)

// TestExtractCorruptCompressedArchive: an archive whose compressed stream
// is truncated or corrupt after the data that decodes to a clean tar
// stream (the decoder fails, yet what it put out ends at a member
// boundary, so a tar reader sees a shorter, valid archive) is an error
// naming the archive, and nothing is extracted. Before, the decoder's
// failure (the program's exit status, the in-process decoder's last read)
// was never looked at once the tar stream had ended, and such an archive
// was extracted with members missing. The archives are made by the real
// programs; the same archive intact extracts.
func TestExtractCorruptCompressedArchive(t *testing.T) {
	// Member a ends at 8192 bytes of tar stream: compress(1) writes its
	// output in blocks of that size and drops the last one when it finds
	// corrupt input, which leaves just member a.
	valid := rawTar(t, []ent{file("m/a", strings.Repeat("a", 7680)), file("m/b", "b\n")})
	truncate := func(n int) func([]byte) []byte {
		return func(z []byte) []byte { return z[:len(z)-n] }
	}
	secondStream := func(z []byte) []byte { return append(append([]byte{}, z...), z[:64]...) }
	junk := func(z []byte) []byte { return append(append([]byte{}, z...), bytes.Repeat([]byte{0xff}, 8)...) }
	for _, tt := range []struct {
		prog, ext, how string
		corrupt        func([]byte) []byte
	}{
		{"bzip2", ".tar.bz2", "a truncated second stream", secondStream},
		{"bzip2", ".tar.bz2", "the end-of-stream mark truncated", truncate(4)},
		{"lzip", ".tar.lz", "the trailer truncated", truncate(4)},
		{"lzip", ".tar.lz", "a truncated second member", secondStream},
		{"lzop", ".tar.lzo", "the end truncated", truncate(4)},
		{"lzop", ".tar.lzo", "a truncated second part", secondStream},
		{"compress", ".tar.Z", "invalid codes after the stream", junk},
		{"compress", ".tar.Z", "a second header after the stream", secondStream},
	} {
		t.Run(tt.prog+"/"+tt.how, func(t *testing.T) {
			path, err := exec.LookPath(tt.prog)
			if err != nil {
				t.Skipf("%s not installed: no %s archive can be made", tt.prog, tt.ext)
			}
			cmd := exec.Command(path, "-c")
			cmd.Stdin = bytes.NewReader(valid)
			z, err := cmd.Output()
			if err != nil {
				t.Fatalf("%s -c: %v", tt.prog, err)
			}
			bad := tt.corrupt(z)
			members, decodeErr := decodeReference(t, path, bad)
			if decodeErr == nil || members == 0 {
				t.Fatalf("not the case under test: %s decodes the corrupt archive with error %v to a clean tar stream of %d members (want an error and at least one member)",
					tt.prog, decodeErr, members)
			}

			good := writeFile(t, "good"+tt.ext, z)
			if err := Extract(context.Background(), good, freshDest(t), Limits{}); err != nil {
				t.Fatalf("the intact archive: %v", err)
			}
			archive := writeFile(t, "corrupt"+tt.ext, bad)
			dest := freshDest(t)
			err = Extract(context.Background(), archive, dest, Limits{})
			if err == nil || !strings.Contains(err.Error(), archive) {
				t.Errorf("Extract = %v, want an error naming %s (the decoder said: %v)", err, archive, decodeErr)
			}
			if errors.Is(err, ErrNotArchive) {
				t.Errorf("Extract = %v: an archive whose members were read is no ErrNotArchive", err)
			}
			assertUntouched(t, dest)
			t.Logf("%s: %v", tt.how, err)
		})
	}
}

// decodeReference decodes data as the package does, with the real program
// or, for bzip2, Go's decoder, and returns how many members of a tar stream
// that ends cleanly the decoded data holds (0 when it does not end cleanly)
// and the decoder's error.
func decodeReference(t *testing.T, prog string, data []byte) (int, error) {
	t.Helper()
	var out []byte
	var decodeErr error
	if strings.HasSuffix(prog, "/bzip2") {
		out, decodeErr = io.ReadAll(bzip2.NewReader(bytes.NewReader(data)))
	} else {
		cmd := exec.Command(prog, "-dc")
		cmd.Stdin = bytes.NewReader(data)
		out, decodeErr = cmd.Output()
	}
	tr := tar.NewReader(bytes.NewReader(out))
	n := 0
	for {
		_, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return n, decodeErr
		}
		if err != nil {
			return 0, decodeErr
		}
		n++
	}
}
