package initramfs

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/dkms-go/dkms/internal/testenv"
)

var zstdZeros = testenv.ZstdZeros

// listWithin runs List on img and fails the test unless it returned within
// the bound (generous: the machine is shared; unbounded, the images below
// take tens of seconds of CPU).
func listWithin(t *testing.T, img []byte) error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- List(bytes.NewReader(img), func(Entry) error { return nil }) }()
	select {
	case err := <-done:
		return err
	case <-time.After(60 * time.Second):
		t.Fatal("List still running after 60 s")
		return nil
	}
}

// TestListBoundsHostileImages: the decompression bombs of issue 12 stop
// with ErrTooLarge and a message naming the member or the image bound.
func TestListBoundsHostileImages(t *testing.T) {
	t.Parallel()
	const k = "usr/lib/modules/6.1.0-test/updates/dkms/"
	var members []file
	for _, n := range []string{"a", "b", "c", "d"} {
		members = append(members, file{name: k + n + ".ko.zst", body: zstdZeros(4 << 30)})
	}
	fourBombs := mkCPIO(t, members...)
	if len(fourBombs) > 600<<10 {
		t.Fatalf("the image is %d bytes, not the issue's ~540 KB", len(fourBombs))
	}
	tests := []struct {
		name string
		img  []byte
		want string
	}{
		{"four zstd members of 4 GiB of zeros", fourBombs,
			"reading " + k + "a.ko.zst: too large: decompresses to more than 512 MiB"},
		{"stored member claiming 1 GiB", nil, ""}, // made below
		// The xz decoder would allocate the 4 GiB dictionary up front.
		{"xz member asking for a 4 GiB dictionary", mkCPIO(t, file{name: k + "x.ko.xz", body: hugeXZDict(t, compress(t, XZ, moduleELF))}),
			"reading " + k + "x.ko.xz: xz: dictionary larger than 64 MiB"},
		{"segment of zeros beyond the image bound", zstdZeros(MaxImageSize + 1<<20),
			"too large: the image decompresses to more than 1024 MiB"},
	}
	// A header claiming a 1 GiB file (newc's filesize field is the 7th
	// of the 8-digit hex fields after the 6-byte magic): refused before a
	// byte of it is read.
	claimed := mkCPIO(t, file{name: "big.bin", body: []byte("x")})
	copy(claimed[6+6*8:], "40000000")
	tests[1].img = claimed
	tests[1].want = "big.bin: too large: 1073741824 bytes, more than 512 MiB"
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := listWithin(t, tc.img)
			if !(errors.Is(err, ErrTooLarge) || errors.Is(err, errDictTooLarge)) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("List = %v, want ErrTooLarge with %q", err, tc.want)
			}
		})
	}
}

// TestListBoundsKeepRealSizes: a module of 100 MiB, compressed, as big as
// the largest real ones, is read and hashed.
func TestListBoundsKeepRealSizes(t *testing.T) {
	t.Parallel()
	img := mkCPIO(t, file{name: "usr/lib/modules/6.1.0-test/updates/dkms/nvidia.ko.zst", body: zstdZeros(100 << 20)})
	var got []Entry
	if err := List(bytes.NewReader(img), func(e Entry) error { got = append(got, e); return nil }); err != nil || len(got) != 1 {
		t.Fatalf("List = %v, %d entries", err, len(got))
	}
}

// TestListEmptyImage: an empty file, or one of NULs, is no image.
func TestListEmptyImage(t *testing.T) {
	t.Parallel()
	for _, img := range [][]byte{nil, make([]byte, 4096)} {
		if err := List(bytes.NewReader(img), func(Entry) error { return nil }); !errors.Is(err, ErrEmptyImage) {
			t.Errorf("List(%d bytes) = %v, want ErrEmptyImage", len(img), err)
		}
	}
}
