package initramfs

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
)

// Images made by the real mkinitramfs are built once per test binary and
// compression, on first use, in a private configuration directory with a
// short module list so that each takes seconds instead of a minute.
var realImages struct {
	dirOnce sync.Once
	dir     string
	dirErr  error
	builds  sync.Map // Compression -> *imageBuild
}

type imageBuild struct {
	once sync.Once
	path string
	err  error
}

// realCompressions are the formats mkinitramfs offers that the Debian
// kernel accepts (lzop is not installed in CI and not readable by us).
var realCompressions = []Compression{Gzip, Zstd, XZ, LZ4, LZMA, Bzip2}

func TestMain(m *testing.M) {
	code := m.Run()
	if realImages.dir != "" {
		os.RemoveAll(realImages.dir)
	}
	os.Exit(code)
}

// needRealKernel skips unless mkinitramfs and the Debian kernel's modules
// are installed.
func needRealKernel(t testing.TB) {
	t.Helper()
	for _, tool := range []string{"mkinitramfs", "lsinitramfs", "depmod", "cpio"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed (Debian packages initramfs-tools, kmod, cpio)", tool)
		}
	}
	for _, p := range []string{"/lib/modules/" + debianKernel + "/modules.dep", "/boot/config-" + debianKernel} {
		if _, err := os.Stat(p); err != nil {
			t.Skipf("Debian kernel %s not installed (linux-image-amd64): %v", debianKernel, err)
		}
	}
}

// writeConf writes an initramfs-tools configuration directory.
func writeConf(dir, compression string, modules ...string) error {
	for _, d := range []string{"conf.d", "hooks", "scripts"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			return err
		}
	}
	conf := fmt.Sprintf("MODULES=list\nBUSYBOX=n\nCOMPRESS=%s\n", compression)
	if err := os.WriteFile(filepath.Join(dir, "initramfs.conf"), []byte(conf), 0o644); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "modules"), []byte(strings.Join(modules, "\n")+"\n"), 0o644)
}

// mkinitramfs runs the real generator; prefix wraps it (unshare for tests
// that swap the module tree).
func mkinitramfsCmd(conf, out string) []string {
	return []string{"mkinitramfs", "-d", conf, "-o", out, debianKernel}
}

func runCmd(argv []string, tmp string) error {
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), "TMPDIR="+tmp)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s: %w\n%s", strings.Join(argv, " "), err, out)
	}
	return nil
}

func realImage(t *testing.T, c Compression) string {
	t.Helper()
	needRealKernel(t)
	if _, err := exec.LookPath(string(c)); err != nil {
		// mkinitramfs would silently fall back to gzip.
		t.Skipf("%s compressor not installed", c)
	}
	realImages.dirOnce.Do(func() {
		realImages.dir, realImages.dirErr = os.MkdirTemp("", "initramfs-test-")
	})
	if realImages.dirErr != nil {
		t.Fatal(realImages.dirErr)
	}
	v, _ := realImages.builds.LoadOrStore(c, &imageBuild{})
	b := v.(*imageBuild)
	b.once.Do(func() {
		dir := realImages.dir
		conf := filepath.Join(dir, "conf-"+string(c))
		b.path = filepath.Join(dir, "initrd-"+string(c))
		b.err = writeConf(conf, string(c), "loop", "e1000")
		if b.err == nil {
			b.err = runCmd(mkinitramfsCmd(conf, b.path), dir)
		}
	})
	if b.err != nil {
		t.Fatal(b.err)
	}
	return b.path
}

// earlyMicrocode makes an uncompressed early cpio like the one
// intel-microcode's hook prepends, with the real cpio tool.
func earlyMicrocode(t *testing.T) []byte {
	t.Helper()
	dir := t.TempDir()
	ucode := filepath.Join(dir, "kernel/x86/microcode")
	if err := os.MkdirAll(ucode, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(ucode, "GenuineIntel.bin"), bytes.Repeat([]byte{0xa5, 0x5a, 1}, 3001), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("sh", "-c", "find . | LC_ALL=C sort | cpio --quiet -o -H newc")
	cmd.Dir = dir
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("making early cpio: %v", err)
	}
	return out
}

func lsinitramfs(t *testing.T, img string) []string {
	t.Helper()
	out, err := exec.Command("lsinitramfs", img).Output()
	if err != nil {
		t.Fatalf("lsinitramfs %s: %v", img, err)
	}
	return strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
}

func sha256File(t *testing.T, path string) string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// TestListMatchesLsinitramfs lists images made by the real mkinitramfs in
// each compression, with and without an early microcode segment, and
// compares the entries with lsinitramfs's output.
func TestListMatchesLsinitramfs(t *testing.T) {
	t.Parallel()
	for _, c := range realCompressions {
		for _, early := range []bool{false, true} {
			if early && (c == LZMA || c == Bzip2) {
				continue // slow in lsinitramfs, and covered by TestListConcatenated
			}
			t.Run(fmt.Sprintf("%s/early=%v", c, early), func(t *testing.T) {
				t.Parallel()
				img := realImage(t, c)
				data, err := os.ReadFile(img)
				if err != nil {
					t.Fatal(err)
				}
				if got, _ := detect(data); got != c {
					t.Fatalf("mkinitramfs made a %s image, want %s", got, c)
				}
				mainSeg := 0
				if early {
					data = append(earlyMicrocode(t), data...)
					img = filepath.Join(t.TempDir(), "initrd")
					if err := os.WriteFile(img, data, 0o644); err != nil {
						t.Fatal(err)
					}
					mainSeg = 1
				}
				want := lsinitramfs(t, img)
				got, err := listAll(data)
				if err != nil {
					t.Fatal(err)
				}
				if !slices.Equal(paths(got), want) {
					t.Fatalf("List differs from lsinitramfs:\n got %q\nwant %q", paths(got), want)
				}
				loop := "/lib/modules/" + debianKernel + "/kernel/drivers/block/loop.ko"
				var sawLoop, sawUcode bool
				for _, e := range got {
					switch {
					case e.Path == "kernel/x86/microcode/GenuineIntel.bin":
						sawUcode = true
						if e.Segment != 0 || e.Compression != None {
							t.Errorf("microcode in segment %d (%s), want 0 (none)", e.Segment, e.Compression)
						}
					case e.Path == "usr"+loop:
						sawLoop = true
						if e.Hash != sha256File(t, loop) {
							t.Errorf("loop.ko hash %s differs from the installed file", e.Hash)
						}
						if e.Segment != mainSeg || e.Compression != c {
							t.Errorf("loop.ko in segment %d (%s), want %d (%s)", e.Segment, e.Compression, mainSeg, c)
						}
					}
				}
				if !sawLoop || sawUcode != early {
					t.Errorf("saw loop.ko %v, microcode %v (early %v)", sawLoop, sawUcode, early)
				}
			})
		}
	}
}
