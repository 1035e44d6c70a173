package initramfs

import (
	"os"
	"testing"

	"github.com/dkms-go/dkms/internal/testenv"
)

var debianKernel = testenv.DebianKernelName()

// BenchmarkScanDebianInitramfs lists the installed Debian kernel's own
// initramfs (about 31 MB of zstd, 750 modules), the case the issue sets a
// target for: at most half of lsinitramfs's wall time, under 64 MB RSS.
func BenchmarkScanDebianInitramfs(b *testing.B) {
	img := "/boot/initrd.img-" + debianKernel
	if _, err := os.Stat(img); err != nil {
		b.Skipf("no Debian initramfs to scan: %v", err)
	}
	for b.Loop() {
		f, err := os.Open(img)
		if err != nil {
			b.Fatal(err)
		}
		var modules int
		err = List(f, func(e Entry) error {
			if e.IsModule() {
				modules++
			}
			return nil
		})
		f.Close()
		if err != nil {
			b.Fatal(err)
		}
		if modules == 0 {
			b.Fatal("no modules found in the Debian initramfs")
		}
	}
}
