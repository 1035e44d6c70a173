package tarball

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestExtractDecoderBombEndsAtDeadline: an archive in a format only an
// external program decodes, a few hundred KB to a few MB that decode to
// 3.75 GiB of zeros (four members just under the default 1 GiB member
// limit, so the first pass reads through all of it), ends at the context's
// deadline: the program is killed with its group, Extract returns the
// deadline's error, no decoder is left running and the destination is as
// it was. Before, the program ran to the end of its output (lzip spends
// about 6 s of CPU per GiB here) whatever the deadline.
func TestExtractDecoderBombEndsAtDeadline(t *testing.T) {
	for _, tt := range []struct {
		prog string
		args []string // compressing a stream to stdout
		// Whether concatenated streams decode to the concatenated data,
		// which makes the bomb cheap to build from one compressed chunk.
		// compress has no such thing, and building its stream takes
		// about 12 s of CPU: it is kept in testdata (-update-bomb).
		concat bool
	}{
		{"lzip", []string{"-0", "-c"}, true},
		{"lzop", []string{"-c"}, true},
		{"compress", []string{"-c"}, false},
	} {
		t.Run(tt.prog, func(t *testing.T) {
			path, err := exec.LookPath(tt.prog)
			if err != nil {
				t.Skipf("%s not installed", tt.prog)
			}
			var data []byte
			if tt.concat {
				data = concatBomb(t, path, tt.args)
			} else {
				stored := filepath.Join("testdata", "bomb.tar."+tt.prog)
				if *updateBomb {
					cmd := exec.Command(path, tt.args...)
					cmd.Stdin = bombTar(t)
					out, err := cmd.Output()
					if err != nil {
						t.Fatalf("%s: %v", tt.prog, err)
					}
					if err := os.WriteFile(stored, out, 0o644); err != nil {
						t.Fatal(err)
					}
				}
				if data, err = os.ReadFile(stored); err != nil {
					t.Fatal(err)
				}
			}
			file := writeFile(t, "bomb.tar", data)
			dest := freshDest(t)
			const deadline = 500 * time.Millisecond
			ctx, cancel := context.WithTimeout(context.Background(), deadline)
			defer cancel()
			start := time.Now()
			err = Extract(ctx, file, dest, Limits{})
			took := time.Since(start)
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("Extract = %v, want the deadline's error", err)
			}
			// Without the kill, lzip took 6.1 s and lzop 4.0 s here
			// (load 13); with it, 0.50 s, and up to 3.0 s while the whole
			// test suite ran at once.
			if took > deadline+4*time.Second {
				t.Errorf("Extract took %v, deadline %v", took, deadline)
			}
			if left := childrenNamed(t, filepath.Base(path)); len(left) > 0 {
				t.Errorf("%s still running: %v", tt.prog, left)
			}
			assertUntouched(t, dest)
			t.Logf("%d bytes of %s, ended after %v: %v", len(data), tt.prog, took, err)
		})
	}
}

var updateBomb = flag.Bool("update-bomb", false, "rebuild testdata/bomb.tar.compress")

const (
	bombChunk   = 64 << 20 // zeros compressed at once
	bombChunks  = 15       // per member: 960 MiB, under the default 1 GiB limit
	bombMembers = 4
)

// bombHeader is the tar header of member i of the bomb.
func bombHeader(t *testing.T, i int) []byte {
	var hdr bytes.Buffer
	tw := tar.NewWriter(&hdr)
	if err := tw.WriteHeader(&tar.Header{Name: fmt.Sprintf("./zeros%d", i), Typeflag: tar.TypeReg,
		Mode: 0o644, Size: bombChunks * bombChunk}); err != nil {
		t.Fatal(err)
	}
	return hdr.Bytes()
}

// bombTar is the bomb's tar stream: each header followed by its zeros.
func bombTar(t *testing.T) io.Reader {
	var parts []io.Reader
	for i := range bombMembers {
		parts = append(parts, bytes.NewReader(bombHeader(t, i)), io.LimitReader(zeroReader{}, bombChunks*bombChunk))
	}
	return io.MultiReader(parts...)
}

// concatBomb compresses each header and one chunk of zeros with prog and
// concatenates them into the bomb.
func concatBomb(t *testing.T, prog string, args []string) []byte {
	pack := func(data io.Reader) []byte {
		cmd := exec.Command(prog, args...)
		cmd.Stdin = data
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("%s: %v", prog, err)
		}
		return out
	}
	zeros := pack(io.LimitReader(zeroReader{}, bombChunk))
	var archive bytes.Buffer
	for i := range bombMembers {
		archive.Write(pack(bytes.NewReader(bombHeader(t, i))))
		for range bombChunks {
			archive.Write(zeros)
		}
	}
	return archive.Bytes()
}

type zeroReader struct{}

func (zeroReader) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

// childrenNamed lists the processes whose parent is this one and whose
// command name is name.
func childrenNamed(t *testing.T, name string) []string {
	t.Helper()
	stats, err := filepath.Glob("/proc/[0-9]*/stat")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, st := range stats {
		b, err := os.ReadFile(st)
		if err != nil {
			continue // ended meanwhile
		}
		// pid (comm) state ppid ...
		open, close := bytes.IndexByte(b, '('), bytes.LastIndexByte(b, ')')
		if open < 0 || close < open {
			continue
		}
		fields := strings.Fields(string(b[close+1:]))
		if len(fields) > 1 && string(b[open+1:close]) == name && fields[1] == fmt.Sprint(os.Getpid()) {
			out = append(out, strings.TrimSpace(string(b[:open])))
		}
	}
	return out
}
