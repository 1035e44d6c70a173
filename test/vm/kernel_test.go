package vm

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fakeBzImage builds the smallest image the boot protocol parser accepts, with
// payload placed where a real bzImage's header says.
func fakeBzImage(t *testing.T, setupSects byte, payload []byte) []byte {
	t.Helper()
	sects := int(setupSects)
	if sects == 0 {
		sects = 4
	}
	start := (sects + 1) * 512
	const off = 0x40
	img := make([]byte, start+off+len(payload)+4)
	img[0x1f1] = setupSects
	copy(img[0x202:], "HdrS")
	binary.LittleEndian.PutUint16(img[0x206:], 0x20f)
	binary.LittleEndian.PutUint32(img[0x248:], off)
	binary.LittleEndian.PutUint32(img[0x24c:], uint32(len(payload)))
	copy(img[start+off:], payload)
	return img
}

func gz(t *testing.T, data []byte) []byte {
	t.Helper()
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	if _, err := w.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	// The kernel's build appends the uncompressed size after the stream.
	return binary.LittleEndian.AppendUint32(b.Bytes(), uint32(len(data)))
}

func TestExtractVmlinuxSynthetic(t *testing.T) {
	t.Parallel()
	vmlinux := append([]byte("\x7fELF"), bytes.Repeat([]byte{0x90}, 5000)...)
	tests := []struct {
		name    string
		image   []byte
		wantErr string
	}{
		{"gzip payload", fakeBzImage(t, 27, gz(t, vmlinux)), ""},
		{"setup_sects zero means four", fakeBzImage(t, 0, gz(t, vmlinux)), ""},
		{"uncompressed payload", fakeBzImage(t, 1, vmlinux), ""},
		{"not elf inside", fakeBzImage(t, 1, gz(t, []byte("MZ not a kernel"))), "not an ELF"},
		{"unknown compression", fakeBzImage(t, 1, []byte("LZO?????")), "unsupported kernel compression"},
		{"no header", make([]byte, 4096), "not a bzImage"},
		{"truncated", fakeBzImage(t, 1, vmlinux)[:2000], "outside image"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			img := filepath.Join(dir, "vmlinuz-6.1.0-test")
			if err := os.WriteFile(img, tt.image, 0o644); err != nil {
				t.Fatal(err)
			}
			cache := filepath.Join(dir, "cache")
			out, err := ExtractVmlinux(img, cache)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want containing %q", err, tt.wantErr)
				}
				if left, _ := filepath.Glob(filepath.Join(cache, "*")); len(left) > 0 {
					t.Errorf("failed extraction left %q in the cache", left)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got, err := os.ReadFile(out)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, vmlinux) {
				t.Fatalf("extracted %d bytes, want %d", len(got), len(vmlinux))
			}
			// A second call must be served from the cache, even if the
			// cached file is the only thing that could answer.
			if err := os.WriteFile(out, append([]byte("\x7fELF"), "cached"...), 0o644); err != nil {
				t.Fatal(err)
			}
			again, err := ExtractVmlinux(img, cache)
			if err != nil || again != out {
				t.Fatalf("second extraction = %q, %v; want cached %q", again, err, out)
			}
			if b, _ := os.ReadFile(again); !bytes.HasSuffix(b, []byte("cached")) {
				t.Error("cache was not used")
			}
		})
	}
}

func TestFindKernel(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	mk := func(p string) {
		if err := os.MkdirAll(filepath.Join(root, p), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	touch := func(p string) {
		mk(filepath.Dir(p))
		if err := os.WriteFile(filepath.Join(root, p), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	touch("boot/vmlinuz-6.1.0-9-amd64")
	mk("lib/modules/6.1.0-9-amd64/build")
	touch("boot/vmlinuz-6.1.0-10-amd64")
	mk("lib/modules/6.1.0-10-amd64")
	touch("boot/vmlinuz-6.9.0-orphan") // image without modules: never picked

	tests := []struct {
		version, want, wantErr string
		headers                bool
	}{
		{"6.1.0-9-amd64", "6.1.0-9-amd64", "", true},
		{"6.1.0-10-amd64", "6.1.0-10-amd64", "", false},
		{"", "6.1.0-10-amd64", "", false}, // version order, not string order
		{"6.9.0-orphan", "", "no module tree", false},
		{"5.0.0-none", "", "no installed kernel", false},
	}
	for _, tt := range tests {
		k, err := FindKernel(root, tt.version)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("FindKernel(%q) err = %v, want %q", tt.version, err, tt.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("FindKernel(%q): %v", tt.version, err)
			continue
		}
		if k.Version != tt.want || (k.BuildDir != "") != tt.headers {
			t.Errorf("FindKernel(%q) = %+v, want version %s headers %v", tt.version, k, tt.want, tt.headers)
		}
	}
	if _, err := FindKernel(t.TempDir(), ""); err == nil {
		t.Error("empty root: want an error")
	}
}
