package hook

import (
	"bytes"
	"strings"
	"testing"

	"github.com/cavaliergopher/cpio"

	"github.com/dkms-go/dkms/internal/testenv"
)

// oldImage is an uncompressed newc initramfs holding an older copy of the
// module "good" for fk: it would load at boot instead of the new one.
func oldImage(t *testing.T) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := cpio.NewWriter(&buf)
	body := []byte("an older build of good\n")
	h := &cpio.Header{Name: "usr/lib/modules/" + fk + "/updates/dkms/good.ko", Mode: cpio.TypeReg | 0o644,
		Size: int64(len(body)), Inode: 1, Links: 1}
	if err := w.WriteHeader(h); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(body); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestInitramfsCheck: after installing, the boot unit warns about an
// initramfs that shadows the new module; hooks leave the image to the
// initramfs hook that runs after them; initramfs_check=off is silent.
func TestInitramfsCheck(t *testing.T) {
	t.Parallel()
	testenv.RequireRoot(t)
	testenv.RequireTools(t, "make")
	const warning = "warning: the initramfs holds other copies of DKMS modules; they load first (see dkms initramfs-check -k " + fk + ")\n"
	cases := []struct {
		name      string
		framework string
		o         Options
		warns     bool
	}{
		{"boot", "", Options{Boot: true}, true},
		{"command line", "initramfs_check=warn\n", Options{}, true},
		{"postinst hook", "", Options{Hook: "postinst"}, false},
		{"off", "initramfs_check=off\n", Options{Boot: true}, false},
		{"bad policy", "initramfs_check=sometimes\n", Options{Boot: true}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			s := newSystem(t, c.framework)
			s.fakeModule("good")
			s.write("/boot/initrd.img-"+fk, string(oldImage(t)))
			c.o.Kernels = []string{fk}
			r := s.run(c.o, nil)
			if r.code != 0 {
				t.Fatalf("exit %d\n%s%s", r.code, r.err, r.messages())
			}
			got := strings.Contains(r.messages(), warning)
			if got != c.warns {
				t.Errorf("warned %v, want %v\n%s", got, c.warns, r.messages())
			}
			if c.warns && !strings.Contains(r.err, "good/1.0 good: SHADOWED") {
				t.Errorf("the report naming the module is missing:\n%s", r.err)
			}
			if c.name == "bad policy" && !strings.Contains(r.messages(), "warning: framework.conf: ") {
				t.Errorf("bad policy not reported:\n%s", r.messages())
			}
		})
	}
}
