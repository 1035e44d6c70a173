package main

import (
	"bytes"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"
)

func TestMedianOf(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   []int64
		want int64
	}{
		{[]int64{5}, 5},
		{[]int64{3, 1, 2}, 2},
		{[]int64{4, 1, 3, 2}, 2}, // (2+3)/2 in integer arithmetic
		{[]int64{10, 30}, 20},
		{[]int64{7, 7, 7, 1, 100}, 7},
	} {
		if got := medianOf(append([]int64(nil), tc.in...)); got != tc.want {
			t.Errorf("medianOf(%v) = %d, want %d", tc.in, got, tc.want)
		}
	}
}

func TestFmtRatio(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		r    float64
		want string
	}{
		{0, "-"},
		{0.01, "0.0100x (100x faster)"},
		{0.5, "0.50x (2.0x faster)"},
		{1.25, "1.25x"},
	} {
		if got := fmtRatio(tc.r); got != tc.want {
			t.Errorf("fmtRatio(%v) = %q, want %q", tc.r, got, tc.want)
		}
	}
}

func TestStatusTreeShape(t *testing.T) {
	t.Parallel()
	tr, err := statusTree(filepath.Join(t.TempDir(), "s"), 5, statusKernels[:2])
	if err != nil {
		t.Fatal(err)
	}
	links, _ := filepath.Glob(filepath.Join(tr.DKMS, "*", "kernel-*"))
	// mod0000 and mod0001 have 1.1 installed, mod0002 (odd count) its 1.0.
	if len(links) != 3*2 {
		t.Errorf("%d kernel links, want 6: %v", len(links), links)
	}
	if got := countFiles(filepath.Join(tr.Inst)); got != 3*2 {
		t.Errorf("%d installed files, want 6", got)
	}
	built, _ := filepath.Glob(filepath.Join(tr.DKMS, "*", "*", "*", arch, "module", "*.ko"))
	if len(built) != 5*2 {
		t.Errorf("%d built files, want 10", len(built))
	}
}

// headersKernel returns a kernel whose headers are installed, or "".
func headersKernel() string {
	ks, _ := filepath.Glob("/lib/modules/*/build/Makefile")
	sort.Strings(ks)
	if len(ks) == 0 {
		return ""
	}
	return filepath.Base(filepath.Dir(filepath.Dir(ks[len(ks)-1])))
}

// TestHarnessSmall runs every scenario once on tiny trees against the real
// upstream dkms, as CI does, and checks that each produced sane rows and a
// report; it says nothing about the numbers.
func TestHarnessSmall(t *testing.T) {
	if testing.Short() {
		t.Skip("runs upstream dkms and real module builds")
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root: upstream dkms and kernel_prerm refuse to run otherwise")
	}
	for _, tool := range []string{"apt-get", "dpkg-deb", "openssl", "bash", "go"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("needs %s: %v", tool, err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	dir := t.TempDir()
	bin := filepath.Join(dir, "bin")
	for _, c := range []string{"dkms", "dkms-autoinstall"} {
		build := exec.CommandContext(ctx, "go", "build", "-o", filepath.Join(bin, c), "github.com/dkms-go/dkms/cmd/"+c)
		build.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := build.CombinedOutput(); err != nil {
			t.Fatalf("building %s: %v\n%s", c, err, out)
		}
	}
	work := filepath.Join(dir, "work")
	if err := os.MkdirAll(work, 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := downloadUpstream(ctx, work); err != nil {
		t.Skipf("upstream dkms not available (no network or apt source?): %v", err)
	}
	debs, _ := filepath.Glob(filepath.Join(work, "dkms_*.deb"))
	o := options{Small: true, BinDir: bin, Work: work, Deb: debs[0],
		Out: filepath.Join(dir, "BENCHMARKS.md"), Plot: filepath.Join(dir, "plot.png"), Command: "go test ./bench"}
	want := []string{"1", "2", "3", "4", "5", "6", "7"}
	if o.Kernel = headersKernel(); o.Kernel == "" {
		t.Log("no kernel headers installed: skipping the build scenario (5) and the initramfs scan (6)")
		o.Kernel, o.Only, want = "6.1.0-0-amd64", "1,2,3,4", want[:4]
	} else if _, err := os.Stat("/boot/initrd.img-" + o.Kernel); err != nil {
		t.Logf("no initramfs for %s: scenarios 6 and 7 are reported as skipped", o.Kernel)
		want = want[:5]
	}
	var log bytes.Buffer
	res, err := run(ctx, o, io.MultiWriter(&log, testWriter{t}))
	if err != nil {
		t.Fatalf("harness: %v", err)
	}
	seen := map[string]bool{}
	for _, r := range res.Rows {
		seen[r.ID] = true
		sides := map[string]stats{"ours": r.Ours, "upstream": r.Up}
		if r.UpCmd == "(none)" {
			delete(sides, "upstream") // ours only (dkms doctor)
		}
		for side, s := range sides {
			if s.N < 1 || s.Wall <= 0 || (r.OursCmd != "dkmsconf.Read" && s.N != 1) {
				t.Errorf("row %s %q %s: %d runs, wall %v; want a positive wall time from 1 run (small mode)", r.ID, r.Name, side, s.N, s.Wall)
			}
			if r.OursCmd != "dkmsconf.Read" && (s.CPU <= 0 || s.MaxRSS <= 0) {
				t.Errorf("row %s %q %s: CPU %v, RSS %d KiB; want both positive for a child process", r.ID, r.Name, side, s.CPU, s.MaxRSS)
			}
		}
		if r.Up.Wall > 0 && r.Ours.Wall > time.Hour {
			t.Errorf("row %s: implausible wall time %v", r.ID, r.Ours.Wall)
		}
	}
	for _, id := range want {
		if !seen[id] {
			t.Errorf("no result row for scenario %s", id)
		}
	}
	if len(res.Sweep) != 2 || !res.Sweep[0].HasUp || res.Sweep[0].N >= res.Sweep[1].N {
		t.Errorf("status sweep = %+v, want two growing points with upstream", res.Sweep)
	}
	md, err := os.ReadFile(o.Out)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"## Results", "## Targets", "Upstream: Debian's `dkms` package", "go test ./bench", "Load average"} {
		if !strings.Contains(string(md), s) {
			t.Errorf("report lacks %q", s)
		}
	}
	if png, err := os.ReadFile(o.Plot); err == nil {
		if !bytes.HasPrefix(png, []byte("\x89PNG")) {
			t.Errorf("plot is not a PNG")
		}
	} else if _, lerr := exec.LookPath("gnuplot"); lerr == nil {
		t.Errorf("gnuplot is installed but no plot was written: %v", err)
	}
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
