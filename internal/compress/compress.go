package compress

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"github.com/dkms-go/dkms/internal/proc"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"
	"github.com/ulikunitz/xz/lzma"
)

// The three suffixes dkms knows, in the order of preference used when a
// kernel tree mixes them.
const (
	Gz  = ".gz"
	Xz  = ".xz"
	Zst = ".zst"
)

// rank orders suffixes by precedence: a higher rank wins.
var rank = map[string]int{"": 0, Gz: 1, Xz: 2, Zst: 3}

// Suffix returns ".gz", ".xz" or ".zst" when name is a compressed kernel
// module (ends in .ko<suffix>), and "" otherwise.
func Suffix(name string) string {
	for _, s := range []string{Gz, Xz, Zst} {
		if strings.HasSuffix(name, ".ko"+s) {
			return s
		}
	}
	return ""
}

// Detect returns the compression suffix modules of kernel should get: the
// strongest kind of compressed module found anywhere below
// <installTree>/<kernel>/, or "" when there is none or the directory does not
// exist. Symbolic links inside the tree are not followed, because build/ and
// source/ point into the kernel headers and would make the walk both slow
// and wrong. The caller resolves an empty kernel (upstream uses uname -r).
func Detect(installTree, kernel string) (string, error) {
	if kernel == "" {
		return "", errors.New("detecting module compression: empty kernel version")
	}
	// The trailing slash makes a symlinked kernel directory itself count,
	// as it does for find <dir>/.
	root := filepath.Join(installTree, kernel) + "/"
	best := ""
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if path == root {
				return err
			}
			// find reports unreadable subdirectories and carries on; so do we.
			if d != nil && d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		if d.IsDir() {
			return nil
		}
		if s := Suffix(d.Name()); rank[s] > rank[best] {
			best = s
			if best == Zst {
				return fs.SkipAll
			}
		}
		return nil
	})
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return "", nil
		}
		return "", fmt.Errorf("detecting module compression: %w", err)
	}
	return best, nil
}

// Opts holds the option strings of framework.conf (compress_gzip_opts,
// compress_xz_opts, compress_zstd_opts); each is split on blanks when used.
type Opts struct {
	Gzip, Xz, Zstd string
	Env            []string // the tools' environment; nil = ours
}

// DefaultOpts returns the built-in defaults of upstream dkms.
func DefaultOpts() Opts {
	return Opts{
		Gzip: "",
		Xz:   "--check=crc32 --lzma2=dict=1MiB",
		Zstd: "-q --rm -T0",
	}
}

// CompressTo compresses file in place with the external tool for suffix
// (`gzip <opts> -f <file>` and so on) and returns the new path,
// <file><suffix>. When the tool fails the error carries its output, any
// partial output file is removed and file is left as it was, so the caller
// can store the uncompressed module instead. The tool's own output also goes
// to stdout and stderr (when not nil), as dkms runs the tool on the terminal.
func CompressTo(ctx context.Context, file, suffix string, o Opts, stdout, stderr io.Writer) (string, error) {
	var tool, opts string
	switch suffix {
	case Gz:
		tool, opts = "gzip", o.Gzip
	case Xz:
		tool, opts = "xz", o.Xz
	case Zst:
		tool, opts = "zstd", o.Zstd
	default:
		return "", fmt.Errorf("compressing %s: unknown suffix %q", file, suffix)
	}
	return run(ctx, tool, strings.Fields(opts), file, suffix, o.Env, stdout, stderr)
}

// run does the work of CompressTo with an explicit tool, so tests can
// substitute a misbehaving compressor.
func run(ctx context.Context, tool string, opts []string, file, suffix string, env []string, stdout, stderr io.Writer) (string, error) {
	if _, err := os.Lstat(file); err != nil {
		return "", fmt.Errorf("compressing %s: %w", file, err)
	}
	out := file + suffix

	// A tool may exit non-zero after it has already replaced the input (gzip
	// reports warnings with status 2, odd user options can do anything), so a
	// second name for the data is kept until the outcome is known.
	keep, err := keepCopy(file)
	if err != nil {
		return "", fmt.Errorf("compressing %s: %w", file, err)
	}
	defer os.Remove(keep)

	args := append(opts, "-f", file)
	cmd := proc.Command(ctx, false, tool, args...)
	cmd.Env = env
	// The two streams are copied by two goroutines, so each has its own
	// buffer; the error carries both.
	var output, errOutput bytes.Buffer
	cmd.Stdout = io.MultiWriter(orDiscard(stdout), &output)
	cmd.Stderr = io.MultiWriter(orDiscard(stderr), &errOutput)
	runErr := proc.Run(cmd)
	output.Write(errOutput.Bytes())
	if runErr == nil {
		if _, err := os.Stat(out); err != nil {
			runErr = fmt.Errorf("%s did not produce %s: %w", tool, out, err)
		}
	}
	if runErr == nil {
		return out, nil
	}

	os.Remove(out)
	if _, err := os.Lstat(file); errors.Is(err, fs.ErrNotExist) {
		if err := os.Rename(keep, file); err != nil {
			return "", fmt.Errorf("compressing %s: %w (restoring the module also failed: %v)", file, runErr, err)
		}
	}
	msg := strings.TrimSpace(output.String())
	if msg != "" {
		return "", fmt.Errorf("compressing %s: %w: %s", file, runErr, msg)
	}
	return "", fmt.Errorf("compressing %s: %w", file, runErr)
}

func orDiscard(w io.Writer) io.Writer {
	if w == nil {
		return io.Discard
	}
	return w
}

// keepCopy gives the data of file a second name in the same directory: a
// hard link where the file system allows it, a copy otherwise.
func keepCopy(file string) (string, error) {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	keep := filepath.Join(filepath.Dir(file), ".dkms-keep-"+hex.EncodeToString(b[:])+"-"+filepath.Base(file))
	if err := os.Link(file, keep); err == nil {
		return keep, nil
	}
	src, err := os.Open(file)
	if err != nil {
		return "", err
	}
	defer src.Close()
	fi, err := src.Stat()
	if err != nil {
		return "", err
	}
	dst, err := os.OpenFile(keep, os.O_WRONLY|os.O_CREATE|os.O_EXCL, fi.Mode().Perm())
	if err != nil {
		return "", err
	}
	if _, err := io.Copy(dst, src); err != nil {
		dst.Close()
		os.Remove(keep)
		return "", err
	}
	if err := dst.Close(); err != nil {
		os.Remove(keep)
		return "", err
	}
	return keep, nil
}

// Open opens path for reading and transparently decompresses it when its
// name ends in .gz, .xz or .zst.
func Open(path string) (io.ReadCloser, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	var r io.Reader
	var closeDec func()
	switch filepath.Ext(path) {
	case Gz:
		zr, err := gzip.NewReader(f)
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("opening %s: %w", path, err)
		}
		r, closeDec = zr, func() { zr.Close() }
	case Xz:
		// The dictionary the stream declares (the kernel compresses
		// modules with 1-2 MiB), not the library's 8 MiB minimum.
		xr, err := xz.ReaderConfig{DictCap: lzma.MinDictCap}.NewReader(f)
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("opening %s: %w", path, err)
		}
		r = xr
	case Zst:
		zr, err := zstd.NewReader(f, zstd.WithDecoderConcurrency(1))
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("opening %s: %w", path, err)
		}
		r, closeDec = zr, zr.Close
	default:
		return f, nil
	}
	return &decompressor{Reader: r, file: f, closeDec: closeDec}, nil
}

// decompressor closes both the decoder and the underlying file.
type decompressor struct {
	io.Reader
	file     *os.File
	closeDec func()
}

func (d *decompressor) Close() error {
	if d.closeDec != nil {
		d.closeDec()
	}
	return d.file.Close()
}
