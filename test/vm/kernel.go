package vm

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/dkms-go/dkms/internal/kver"
	"github.com/klauspost/compress/zstd"
)

// ErrNoKernel reports that no bootable kernel with modules was found.
var ErrNoKernel = errors.New("no installed kernel found")

// Kernel is an installed kernel: its boot image, module tree and headers.
type Kernel struct {
	Version    string // e.g. 6.1.0-56-amd64
	Image      string // compressed bzImage, /boot/vmlinuz-<Version>
	ModulesDir string // /lib/modules/<Version>
	BuildDir   string // headers, /lib/modules/<Version>/build; empty when absent
}

// FindKernel locates the kernel version under root (usually "/"). An empty version
// picks the newest kernel that has both an image in /boot and a module tree; the
// running kernel is deliberately not preferred, because on CI hosts it is often a
// non-Debian kernel without an image in /boot.
func FindKernel(root, version string) (Kernel, error) {
	if version == "" {
		matches, err := filepath.Glob(filepath.Join(root, "boot", "vmlinuz-*"))
		if err != nil {
			return Kernel{}, fmt.Errorf("listing kernels: %w", err)
		}
		// Version order, so 6.1.0-10 counts as newer than 6.1.0-9.
		kver.SortV(matches)
		for i := len(matches) - 1; i >= 0; i-- {
			v := strings.TrimPrefix(filepath.Base(matches[i]), "vmlinuz-")
			if isDir(filepath.Join(root, "lib", "modules", v)) {
				version = v
				break
			}
		}
		if version == "" {
			return Kernel{}, fmt.Errorf("%w: no /boot/vmlinuz-* with a matching /lib/modules directory", ErrNoKernel)
		}
	}
	k := Kernel{
		Version:    version,
		Image:      filepath.Join(root, "boot", "vmlinuz-"+version),
		ModulesDir: filepath.Join(root, "lib", "modules", version),
	}
	if _, err := os.Stat(k.Image); err != nil {
		return Kernel{}, fmt.Errorf("%w: kernel %s: %w", ErrNoKernel, version, err)
	}
	if !isDir(k.ModulesDir) {
		return Kernel{}, fmt.Errorf("%w: kernel %s has no module tree %s", ErrNoKernel, version, k.ModulesDir)
	}
	if b := filepath.Join(k.ModulesDir, "build"); isDir(b) {
		k.BuildDir = b
	}
	return k, nil
}

func isDir(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.IsDir()
}

// CacheDir is where extracted kernels are kept between runs: $DKMS_VM_CACHE, else
// $XDG_CACHE_HOME/dkms-vmtest, else /var/cache/dkms-vmtest for root and the
// user cache directory otherwise.
func CacheDir() string {
	if d := os.Getenv("DKMS_VM_CACHE"); d != "" {
		return d
	}
	if d := os.Getenv("XDG_CACHE_HOME"); d != "" {
		return filepath.Join(d, "dkms-vmtest")
	}
	if os.Geteuid() == 0 {
		return "/var/cache/dkms-vmtest"
	}
	if d, err := os.UserCacheDir(); err == nil {
		return filepath.Join(d, "dkms-vmtest")
	}
	return filepath.Join(os.TempDir(), "dkms-vmtest")
}

// ExtractVmlinux returns the path of the uncompressed vmlinux inside the bzImage
// at image, decompressing it into cacheDir on first use. QEMU boots the ELF
// through its PVH entry point, which under TCG is several seconds faster than
// letting the guest decompress itself. The cache key includes a hash of the
// image, so an upgraded kernel package is never served a stale vmlinux.
func ExtractVmlinux(image, cacheDir string) (string, error) {
	data, err := os.ReadFile(image)
	if err != nil {
		return "", fmt.Errorf("reading kernel image: %w", err)
	}
	sum := sha256.Sum256(data)
	out := filepath.Join(cacheDir, fmt.Sprintf("vmlinux-%s-%s", filepath.Base(image), hex.EncodeToString(sum[:6])))
	if fi, err := os.Stat(out); err == nil && fi.Size() > 0 {
		return out, nil
	}
	payload, err := bzImagePayload(data)
	if err != nil {
		return "", fmt.Errorf("%s: %w", image, err)
	}
	if err := os.MkdirAll(cacheDir, 0o755); err != nil {
		return "", fmt.Errorf("creating cache: %w", err)
	}
	// Write to a private temporary name and rename, so parallel test
	// processes racing on a cold cache never see a half-written file.
	tmp, err := os.CreateTemp(cacheDir, ".vmlinux-*")
	if err != nil {
		return "", fmt.Errorf("creating cache file: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := decompressKernel(payload, tmp); err != nil {
		tmp.Close()
		return "", fmt.Errorf("decompressing %s: %w", image, err)
	}
	if err := tmp.Close(); err != nil {
		return "", fmt.Errorf("writing cache file: %w", err)
	}
	// CreateTemp makes 0600 files; the cache is shared with other users' runs.
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return "", fmt.Errorf("cache file mode: %w", err)
	}
	if err := checkELF(tmp.Name()); err != nil {
		return "", fmt.Errorf("decompressed %s: %w", image, err)
	}
	if err := os.Rename(tmp.Name(), out); err != nil {
		return "", fmt.Errorf("storing vmlinux: %w", err)
	}
	return out, nil
}

// bzImagePayload returns the compressed kernel inside a bzImage, located through
// the boot protocol header (Documentation/arch/x86/boot.rst): the protected-mode
// part starts after setup_sects+1 sectors and holds the payload at
// payload_offset/payload_length (protocol 2.08 and later).
func bzImagePayload(data []byte) ([]byte, error) {
	if len(data) < 0x250 || string(data[0x202:0x206]) != "HdrS" {
		return nil, errors.New("not a bzImage (no HdrS boot header)")
	}
	if proto := binary.LittleEndian.Uint16(data[0x206:]); proto < 0x208 {
		return nil, fmt.Errorf("boot protocol %#x too old for payload fields", proto)
	}
	setupSects := int(data[0x1f1])
	if setupSects == 0 {
		setupSects = 4
	}
	start := (setupSects + 1) * 512
	off := int(binary.LittleEndian.Uint32(data[0x248:]))
	n := int(binary.LittleEndian.Uint32(data[0x24c:]))
	if start+off+n > len(data) || n <= 0 {
		return nil, fmt.Errorf("payload %d+%d outside image of %d bytes", start+off, n, len(data))
	}
	return data[start+off : start+off+n], nil
}

// decompressKernel writes the decompressed payload to w. xz goes through the xz
// tool because kernel images use the x86 BCJ filter, which the Go xz package
// does not implement.
func decompressKernel(payload []byte, w io.Writer) error {
	switch {
	case bytes.HasPrefix(payload, []byte{0xfd, '7', 'z', 'X', 'Z', 0}):
		if _, err := exec.LookPath("xz"); err != nil {
			return fmt.Errorf("xz-compressed kernel needs the xz tool (xz-utils): %w", err)
		}
		cmd := exec.Command("xz", "--decompress", "--stdout", "--single-stream")
		cmd.Stdin = bytes.NewReader(payload)
		cmd.Stdout = w
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("xz: %w: %s", err, strings.TrimSpace(stderr.String()))
		}
		return nil
	case bytes.HasPrefix(payload, []byte{0x1f, 0x8b}):
		zr, err := gzip.NewReader(bytes.NewReader(payload))
		if err != nil {
			return fmt.Errorf("gzip: %w", err)
		}
		// The kernel appends the uncompressed size after the gzip member.
		zr.Multistream(false)
		_, err = io.Copy(w, zr)
		return err
	case bytes.HasPrefix(payload, []byte{0x28, 0xb5, 0x2f, 0xfd}):
		zr, err := zstd.NewReader(bytes.NewReader(payload), zstd.WithDecoderMaxWindow(1<<31))
		if err != nil {
			return fmt.Errorf("zstd: %w", err)
		}
		defer zr.Close()
		_, err = io.Copy(w, zr)
		if err != nil && errors.Is(err, zstd.ErrMagicMismatch) {
			// Trailing size word after the frame: the kernel itself ignores it.
			err = nil
		}
		return err
	case bytes.HasPrefix(payload, []byte{0x7f, 'E', 'L', 'F'}):
		_, err := w.Write(payload)
		return err
	}
	return fmt.Errorf("unsupported kernel compression (magic % x)", payload[:min(6, len(payload))])
}

func checkELF(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	magic := make([]byte, 4)
	if _, err := io.ReadFull(f, magic); err != nil {
		return fmt.Errorf("reading ELF header: %w", err)
	}
	if string(magic) != "\x7fELF" {
		return errors.New("result is not an ELF vmlinux")
	}
	return nil
}
