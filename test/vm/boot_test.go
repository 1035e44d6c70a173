package vm

import (
	"testing"
	"time"
)

// TestBootInsmodHello is the harness's own proof: the installed Debian kernel
// boots from a generated initramfs, loads the example module built on the
// host, and its printk line comes back over the serial console.
func TestBootInsmodHello(t *testing.T) {
	k := requireVM(t)
	ko := helloModule(t, k)
	res := boot(t, Boot{
		Guest: Guest{
			Kernel: k,
			Files:  map[string]string{"dkms_hello.ko": ko},
			Script: "insmod /vm/dkms_hello.ko || exit 1\ngrep -q '^dkms_hello ' /proc/modules\n",
		},
		Timeout: 90 * time.Second,
	})
	if res.Verdict != VerdictPass {
		t.Fatalf("verdict %s, console tail:\n%s", res.Verdict, res.Tail(30))
	}
	if !res.Contains(helloLine) {
		t.Errorf("console lacks %q", helloLine)
	}
}

// TestBootVerdictChannels proves that the harness cannot mistake a failing or
// panicking guest for a passing one: each channel is exercised in a real boot.
func TestBootVerdictChannels(t *testing.T) {
	k := requireVM(t)
	tests := []struct {
		name   string
		script string
		want   Verdict
		marker string
	}{
		{"script fails", "echo about to fail; exit 3\n", VerdictFail, "script exited with status 3"},
		// sysrq-c panics the kernel; pvpanic turns that into a QEMU failure
		// instead of the exit status 0 that -no-reboot alone would give.
		{"guest panics", "echo c > /proc/sysrq-trigger\nsleep 30\n", VerdictPanic, "Kernel panic"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := boot(t, Boot{
				Guest:   Guest{Kernel: k, Script: tt.script},
				Timeout: 90 * time.Second,
			})
			if res.Verdict != tt.want {
				t.Fatalf("verdict %s, want %s; console tail:\n%s", res.Verdict, tt.want, res.Tail(30))
			}
			if !res.Contains(tt.marker) {
				t.Errorf("console lacks %q", tt.marker)
			}
		})
	}
}

// TestBootHostRoot checks the fast-scenario environment: the host root over
// 9p, writable through the overlay, with the host's compiler visible.
func TestBootHostRoot(t *testing.T) {
	k := requireVM(t)
	res := boot(t, Boot{
		Guest: Guest{
			Kernel:   k,
			HostRoot: true,
			Script: `set -e
test "$(uname -r)" = "` + k.Version + `"
test -d /lib/modules/$(uname -r)/kernel
echo scratch > /lib/modules/overlay-write-test
grep -q scratch /lib/modules/overlay-write-test
command -v gcc
echo "hostroot: ok"
`,
		},
		Timeout: 90 * time.Second,
	})
	if res.Verdict != VerdictPass {
		t.Fatalf("verdict %s, console tail:\n%s", res.Verdict, res.Tail(30))
	}
	if !res.Contains("hostroot: ok") {
		t.Error("guest script did not finish")
	}
}
