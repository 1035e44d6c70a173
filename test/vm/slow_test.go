package vm

import (
	"bufio"
	"context"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The slow scenarios of issue 8 boot a Debian image with systemd (made by
// mkimage.sh, cached) and run only with DKMS_VMTEST=full.

func requireFull(t *testing.T) Kernel {
	t.Helper()
	if vmTestMode() != "full" {
		t.Skip("slow VM scenario: set DKMS_VMTEST=full to run it")
	}
	return requireVM(t)
}

// debianImage returns the cached image for kernel k, building it with
// mkimage.sh on first use (several minutes, network needed).
func debianImage(t *testing.T, k Kernel) string {
	t.Helper()
	img := os.Getenv("DKMS_VM_IMAGE")
	if img == "" {
		img = filepath.Join(CacheDir(), "debian-bookworm-"+k.Version+".raw")
	}
	if _, err := os.Stat(img); err == nil {
		return img
	}
	if err := os.MkdirAll(filepath.Dir(img), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Logf("building %s with mkimage.sh (cached for later runs)", img)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, "sh", "mkimage.sh", img, k.Version).CombinedOutput()
	if err != nil {
		t.Fatalf("mkimage.sh: %v\n%s", err, out)
	}
	return img
}

// qcowOverlay makes a copy-on-write layer over the image, so that one test can
// boot several times with its state kept while the cached image stays pristine.
func qcowOverlay(t *testing.T, image string) Disk {
	t.Helper()
	p := filepath.Join(t.TempDir(), "disk.qcow2")
	out, err := exec.Command("qemu-img", "create", "-q", "-f", "qcow2", "-F", "raw", "-b", image, p).CombinedOutput()
	if err != nil {
		t.Fatalf("qemu-img create: %v\n%s", err, out)
	}
	return Disk{Path: p, Format: "qcow2"}
}

func copyTree(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		to := filepath.Join(dst, rel)
		switch {
		case d.IsDir():
			return os.MkdirAll(to, 0o755)
		case d.Type()&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			return os.Symlink(target, to)
		default:
			fi, err := d.Info()
			if err != nil {
				return err
			}
			return copyFile(p, to, fi.Mode().Perm())
		}
	})
	if err != nil {
		t.Fatalf("copying %s: %v", src, err)
	}
}

var wantedBy = regexp.MustCompile(`(?m)^\s*WantedBy\s*=\s*(.+)$`)

// bootStage is the dkms stage plus the boot units, enabled as systemctl
// enable would, the example source and a dkms tree where the example is added
// but built for no kernel: the state a package installation leaves behind.
func bootStage(t *testing.T) (dir string, units []string) {
	t.Helper()
	dir = t.TempDir()
	copyTree(t, dkmsStage(t), dir)
	unitDir := filepath.Join(dir, "usr", "lib", "systemd", "system")
	if os.Getenv("DKMS_VM_STAGE") == "" {
		ours, _ := filepath.Glob(filepath.Join(repoRoot(t), "systemd", "*.service"))
		for _, u := range ours {
			if err := copyFile(u, filepath.Join(unitDir, filepath.Base(u)), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	found, _ := filepath.Glob(filepath.Join(unitDir, "*.service"))
	if len(found) == 0 {
		if vmTestMode() == "full" && os.Getenv("DKMS_VM_STAGE") == "" {
			t.Fatal("no systemd/*.service in the repository: the boot unit is missing")
		}
		t.Skip("slow VM scenario skipped: no boot unit (systemd/*.service) to test")
	}
	for _, u := range found {
		data, err := os.ReadFile(u)
		if err != nil {
			t.Fatal(err)
		}
		name := filepath.Base(u)
		units = append(units, name)
		for _, m := range wantedBy.FindAllStringSubmatch(string(data), -1) {
			for _, target := range strings.Fields(m[1]) {
				link := filepath.Join(dir, "etc", "systemd", "system", target+".wants", name)
				if err := os.MkdirAll(filepath.Dir(link), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.Symlink("/usr/lib/systemd/system/"+name, link); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	sort.Strings(units)
	copyTree(t, filepath.Join(repoRoot(t), "examples", "dkms-hello"), filepath.Join(dir, "usr", "src", "dkms-hello-1.0"))
	// The example drives no hardware: like v4l2loopback and friends, it is
	// loaded at boot because the administrator listed it in modules-load.d.
	// On the first boot systemd-modules-load runs before our unit has built
	// it, so the unit loads it once built.
	if err := os.MkdirAll(filepath.Join(dir, "etc", "modules-load.d"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "etc", "modules-load.d", "dkms-hello.conf"), []byte("dkms_hello\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	added := filepath.Join(dir, "var", "lib", "dkms", "dkms-hello", "1.0")
	if err := os.MkdirAll(filepath.Join(added, "build"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/usr/src/dkms-hello-1.0", filepath.Join(added, "source")); err != nil {
		t.Fatal(err)
	}
	return dir, units
}

func bootDisk(t *testing.T, k Kernel, disk Disk, overlay, script string) Result {
	t.Helper()
	return bootDiskWithin(t, k, disk, overlay, script, 10*time.Minute, 1)
}

// bootDiskWithin boots the disk image with cpus vCPUs and fails the test
// unless the guest passed within timeout.
func bootDiskWithin(t *testing.T, k Kernel, disk Disk, overlay, script string, timeout time.Duration, cpus int) Result {
	t.Helper()
	res := boot(t, Boot{
		Guest:    Guest{Kernel: k, RootDisk: true, Overlay: overlay, Script: script},
		Disks:    []Disk{disk},
		MemoryMB: 1536,
		CPUs:     cpus,
		Timeout:  timeout,
	})
	if res.Verdict != VerdictPass {
		t.Fatalf("verdict %s; console tail:\n%s", res.Verdict, res.Tail(80))
	}
	return res
}

const sayFunc = "say() { echo \"scenario: $*\"; }\nK=$(uname -r)\n"

// TestScenarioFirstBoot is scenario 4: the module is added but not built for
// the running kernel; at boot our unit builds and loads it, and systemctl
// status shows its progress. A second boot finds nothing to do and the unit
// takes next to no time.
func TestScenarioFirstBoot(t *testing.T) {
	k := requireFull(t)
	requireHeaders(t, k)
	stage, units := bootStage(t)
	disk := qcowOverlay(t, debianImage(t, k))

	first := sayFunc + unitTimes + fmt.Sprintf(`
for u in %[1]s; do
	unit_time "$u"
	systemctl status --no-pager --full -n 40 "$u"
	say "unit $u result $(systemctl show -p Result --value "$u")"
	systemctl status --no-pager --full -n 40 "$u" | grep -q dkms-hello && say "unit $u shows progress"
done
dkms status
grep -q '^dkms_hello ' /proc/modules && say "loaded at boot"
exit 0
`, strings.Join(units, " "))
	res := bootDisk(t, k, disk, stage, first)
	if !res.Contains("scenario: loaded at boot") || !res.Contains(helloLine) {
		t.Error("first-boot loading: the unit built and installed dkms_hello but the module is not loaded after boot")
	}
	want := []string{"dkms-hello/1.0, " + k.Version + ", x86_64: installed"}
	shown := false
	for _, u := range units {
		want = append(want, "scenario: unit "+u+" result success")
		shown = shown || res.Contains("scenario: unit "+u+" shows progress")
	}
	wantLines(t, res, want...)
	if !shown {
		t.Error("no unit's status mentions the module it built")
	}

	second := sayFunc + unitTimes + fmt.Sprintf(`
for u in %[1]s; do
	unit_time "$u"
	# What the unit spent its time on, for the failure message.
	journalctl -b -o short-monotonic --no-pager -u "$u"
	journalctl -b -o cat -u "$u" | grep -Eq 'Building|Autoinstall of module' && say "unit $u rebuilt something"
done
exit 0
`, strings.Join(units, " "))
	built := unitTimesOf(res)
	// The overlay tree is only needed once: the disk keeps it.
	res = bootDisk(t, k, disk, "", second)
	for _, l := range res.Console {
		if strings.Contains(l, "rebuilt something") {
			t.Errorf("second boot: %s", l)
		}
	}
	idle := unitTimesOf(res)
	if len(built) != len(units) || len(idle) != len(units) {
		t.Fatalf("unit timings reported: first boot %v, second %v; want one per unit of %v", built, idle, units)
	}
	for _, u := range units {
		// The bound is relative to the same unit's first boot, which
		// built the module in the same emulated machine: under TCG the
		// guest's speed follows the host's load (nothing to do took 2.2-5.2 s
		// at load 1-3 and 18 s at load 13, the build a minute or more), so
		// a fixed number of seconds fails on load and a rebuild is what
		// must not pass. A quarter of the building boot's time is far above
		// nothing to do and far below any build. Speed itself is
		// benchmark row 3.
		if idle[u]*4 > built[u] {
			t.Errorf("second boot: unit %s took %d ms with nothing to do, more than a quarter of the first boot's %d ms that built the module", u, idle[u], built[u])
		}
	}
}

// unitTimes defines unit_time, which prints how long a unit's main process
// ran, for unitTimesOf.
const unitTimes = `unit_time() {
	start=$(systemctl show -p ExecMainStartTimestampMonotonic --value "$1")
	end=$(systemctl show -p ExecMainExitTimestampMonotonic --value "$1")
	say "unit $1 took $(( (end - start) / 1000 )) ms"
}
`

var unitTook = regexp.MustCompile(`scenario: unit (\S+) took (\d+) ms`)

// unitTimesOf returns the unit times (ms) that unit_time printed in res.
func unitTimesOf(res Result) map[string]int {
	times := map[string]int{}
	for _, l := range res.Console {
		if m := unitTook.FindStringSubmatch(l); m != nil {
			ms, err := strconv.Atoi(m[2])
			if err == nil {
				times[m[1]] = ms
			}
		}
	}
	return times
}

// secondKernel picks another ABI of the same Debian kernel series for scenario
// 6's kernel upgrade, fetches its packages into the cache with apt-get
// download, and unpacks the image on the host so the VM can be booted into it.
func secondKernel(t *testing.T, k Kernel) (debDir string, nk Kernel) {
	t.Helper()
	series, flavour, ok := strings.Cut(k.Version, "-")
	if !ok {
		t.Skipf("cannot parse kernel version %s", k.Version)
	}
	_, flavour, _ = strings.Cut(flavour, "-")
	out, err := exec.Command("apt-cache", "search", "--names-only", `^linux-image-`+regexp.QuoteMeta(series)+`-[0-9]+-`+flavour+`$`).Output()
	if err != nil {
		t.Skipf("apt-cache search: %v", err)
	}
	var candidates []string
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	for sc.Scan() {
		name, _, _ := strings.Cut(sc.Text(), " ")
		v := strings.TrimPrefix(name, "linux-image-")
		if v != k.Version {
			candidates = append(candidates, v)
		}
	}
	if len(candidates) == 0 {
		t.Skip("no second kernel ABI in the apt lists")
	}
	sort.Strings(candidates)
	nv := candidates[len(candidates)-1]
	debDir = filepath.Join(CacheDir(), "debs-"+nv)
	if err := os.MkdirAll(debDir, 0o755); err != nil {
		t.Fatal(err)
	}
	if m, _ := filepath.Glob(filepath.Join(debDir, "linux-image-*.deb")); len(m) == 0 {
		abi := strings.TrimSuffix(nv, "-"+flavour)
		cmd := exec.Command("apt-get", "download", "linux-image-"+nv, "linux-headers-"+nv, "linux-headers-"+abi+"-common")
		cmd.Dir = debDir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("apt-get download: %v\n%s", err, out)
		}
	}
	root := filepath.Join(CacheDir(), "root-"+nv)
	if _, err := os.Stat(filepath.Join(root, "boot")); err != nil {
		img, _ := filepath.Glob(filepath.Join(debDir, "linux-image-*.deb"))
		if out, err := exec.Command("dpkg-deb", "-x", img[0], root).CombinedOutput(); err != nil {
			t.Fatalf("dpkg-deb -x: %v\n%s", err, out)
		}
		// modules.dep is made by the package's postinst, so make it here.
		if out, err := exec.Command("depmod", "-b", root, nv).CombinedOutput(); err != nil {
			t.Fatalf("depmod: %v\n%s", err, out)
		}
	}
	nk, err = FindKernel(root, nv)
	if err != nil {
		t.Fatal(err)
	}
	return debDir, nk
}
