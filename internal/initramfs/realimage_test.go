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

// Images made by the real mkinitramfs are built once per test binary, in
// a private configuration directory with a short module list so that each
// takes about two seconds instead of a minute.
var realImages struct {
	once sync.Once
	dir  string
	conf string
	imgs map[Compression]string
	err  error
	skip string
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
	realImages.once.Do(func() {
		dir, err := os.MkdirTemp("", "initramfs-test-")
		if err != nil {
			realImages.err = err
			return
		}
		realImages.dir = dir
		realImages.imgs = map[Compression]string{}
		var mu sync.Mutex
		var wg sync.WaitGroup
		sem := make(chan struct{}, 3)
		for _, c := range realCompressions {
			name := string(c)
			if _, err := exec.LookPath(name); err != nil {
				continue // mkinitramfs would silently fall back to gzip
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				sem <- struct{}{}
				defer func() { <-sem }()
				conf := filepath.Join(dir, "conf-"+name)
				out := filepath.Join(dir, "initrd-"+name)
				err := writeConf(conf, name, "loop", "e1000")
				if err == nil {
					err = runCmd(mkinitramfsCmd(conf, out), dir)
				}
				mu.Lock()
				defer mu.Unlock()
				if err != nil && realImages.err == nil {
					realImages.err = err
				}
				realImages.imgs[c] = out
			}()
		}
		wg.Wait()
	})
	if realImages.err != nil {
		t.Fatal(realImages.err)
	}
	img, ok := realImages.imgs[c]
	if !ok {
		t.Skipf("%s compressor not installed", c)
	}
	return img
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
