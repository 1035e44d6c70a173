package vm

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// migrationSet are the -dkms packages scenario 6 installs through dkms-go
// after v4l2loopback-dkms (installed by Debian's dkms): the package, the
// dkms module name, and one kernel module it installs.
var migrationSet = []struct{ pkg, name, module string }{
	{"acpi-call-dkms", "acpi-call", "acpi_call"},
	{"tp-smapi-dkms", "tp_smapi", "tp_smapi"},
	{"xtables-addons-dkms", "xtables-addons", "xt_ACCOUNT"},
}

func allMigrationPackages() []string {
	var pkgs []string
	for _, m := range migrationSet {
		pkgs = append(pkgs, m.pkg)
	}
	return pkgs
}

// defaultMigrationPackages are what a run installs unless DKMS_VM_PACKAGES
// says otherwise: acpi-call-dkms, whose module is loaded on both kernels, and
// tp-smapi-dkms (6.9 s of CPU natively), whose purge checks that the in-tree
// hdaps it shadows stays. xtables-addons-dkms (65 s natively, some 15 times
// that under TCG, built for two kernels) would double the scenario's time.
var defaultMigrationPackages = []string{"acpi-call-dkms", "tp-smapi-dkms"}

// migrationPackages are the packages this run installs: the default set,
// all of migrationSet with DKMS_VM_PACKAGES=all, or those DKMS_VM_PACKAGES
// names (to reproduce a failure, or to measure). acpi-call-dkms is always
// among them: its module is the one loaded on both kernels.
func migrationPackages(t *testing.T) (pkgs, names, modules []string) {
	t.Helper()
	want := map[string]bool{"acpi-call-dkms": true}
	only := strings.Fields(os.Getenv("DKMS_VM_PACKAGES"))
	switch {
	case len(only) == 0:
		only = defaultMigrationPackages
	case len(only) == 1 && only[0] == "all":
		only = allMigrationPackages()
	}
	for _, p := range only {
		want[p] = true
	}
	for _, m := range migrationSet {
		if want[m.pkg] {
			pkgs, names, modules = append(pkgs, m.pkg), append(names, m.name), append(modules, m.module)
			delete(want, m.pkg)
		}
	}
	for p := range want {
		t.Fatalf("DKMS_VM_PACKAGES names %s, which is not one of %s (or all)", p, strings.Join(allMigrationPackages(), " "))
	}
	return pkgs, names, modules
}

// migrationImage is the cached image plus what the scenario installs but
// does not test, installed on the host by deriveimage.sh: every dependency of
// dkms, of the -dkms packages and of the second kernel nk that is neither a
// dkms nor a -dkms package nor nk's image or headers package (dpkg-dev and
// perl, xtables-addons' user-space part, nk's arch-independent headers, whose
// unpacking took 141 s under TCG). The guest still installs nk's image and
// headers packages with apt, whose postinst run our hooks. The image is kept
// beside the base image and derived again when the base is newer or when it
// lacks one of these packages (another second kernel, say).
func migrationImage(t *testing.T, k, nk Kernel, kernelDebs string) string {
	t.Helper()
	base := debianImage(t, k)
	out := strings.TrimSuffix(base, ".raw") + "-migration.raw"
	if fi, err := os.Stat(out); err == nil {
		if bi, err := os.Stat(base); err == nil && !fi.ModTime().Before(bi.ModTime()) {
			if len(migrationDependencies(t, out, nk)) == 0 {
				return out
			}
		}
	}
	start := time.Now()
	pre := migrationDependencies(t, base, nk)
	if len(pre) == 0 {
		t.Fatal("nothing to pre-install: the image already has every dependency of dkms")
	}
	debs := fetchDebs(t, filepath.Join(CacheDir(), "debs-migration"), pre, kernelDebs)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	out2, err := exec.CommandContext(ctx, "sh", append([]string{"deriveimage.sh", base, out}, debs...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("deriveimage.sh: %v\n%s", err, out2)
	}
	t.Logf("%s made with %d packages in %s", out, len(debs), time.Since(start).Round(time.Second))
	return out
}

// migrationDependencies lists what migrationImage pre-installs that image
// lacks.
func migrationDependencies(t *testing.T, image string, nk Kernel) []debFile {
	t.Helper()
	tested := map[string]bool{"dkms": true, "linux-image-" + nk.Version: true, "linux-headers-" + nk.Version: true}
	want := append([]string{"dkms", "v4l2loopback-dkms", "linux-image-" + nk.Version, "linux-headers-" + nk.Version}, allMigrationPackages()...)
	var pre []debFile
	for _, d := range resolveForGuest(t, guestStatus(t, image), want...) {
		name, _, _ := strings.Cut(d.spec, "=")
		if !tested[name] && !strings.HasSuffix(name, "-dkms") {
			pre = append(pre, d)
		}
	}
	return pre
}

// migrationStage is the overlay of scenario 6: the local repository, an apt
// source naming only it, dpkg without fsync and a faster initramfs
// configuration.
func migrationStage(t *testing.T, image string, nk Kernel, kernelDebs string, pkgs []string) string {
	t.Helper()
	stage := t.TempDir()
	status := guestStatus(t, image)
	want := append([]string{"dkms", "v4l2loopback-dkms", "linux-image-" + nk.Version, "linux-headers-" + nk.Version}, pkgs...)
	debs := fetchDebs(t, filepath.Join(CacheDir(), "debs-migration"), resolveForGuest(t, status, want...), kernelDebs)
	for i, d := range debs {
		if strings.HasPrefix(filepath.Base(d), "linux-image-") {
			debs[i] = zstdDeb(t, d)
		}
	}
	debs = append(debs, dkmsGoDeb(t))
	writeRepo(t, filepath.Join(stage, "srv", "vmtest-repo"), debs)
	files := map[string]string{
		// The image's sources name a mirror the guest cannot reach.
		"etc/apt/sources.list": "deb [trusted=yes] file:/srv/vmtest-repo ./\n",
		// Every dpkg run, the ones the -dkms maintainer scripts make
		// included: nothing here needs to survive a power cut.
		"etc/dpkg/dpkg.cfg.d/vmtest-unsafe-io": "force-unsafe-io\n",
		// What matters is that update-initramfs runs after our hook, not
		// how small its image is.
		"etc/initramfs-tools/conf.d/vmtest": "MODULES=dep\nCOMPRESS=zstd\nCOMPRESSLEVEL=1\n",
	}
	for name, content := range files {
		p := filepath.Join(stage, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return stage
}

// The guest's helpers: apt without questions, dkms status in a
// stable order for comparing two implementations' views of one tree, and
// the guest time of each phase.
const migrationPrelude = sayFunc + `export DEBIAN_FRONTEND=noninteractive
apt() { apt-get -y -q --no-install-recommends "$@" 2>&1; }
# Status lines are stdout; Debian's dkms also prints shell noise on stderr
# ("echo: write error: Broken pipe") that is no part of the status.
st() { dkms status 2>/dev/null | sort; }
same() { if cmp -s "$1" "$2"; then say "$3"; else diff "$1" "$2"; fi; }
T0=$(cut -d. -f1 /proc/uptime); T=$T0
phase() { n=$(cut -d. -f1 /proc/uptime); say "time $1: $((n - T)) s (boot +$n s, load $(cut -d' ' -f1-3 /proc/loadavg))"; T=$n; }
`

// TestScenarioDebianMigration is scenario 6: Debian's dkms and a -dkms
// package built by it; apt install dkms-go replaces dkms with every module
// kept installed and loadable; further -dkms packages install through
// common.postinst and our dkms; a kernel installed with apt gets every module
// from our hook before its initramfs; the guest boots it with the modules
// loading; purging a -dkms package leaves nothing of it; purging dkms-go
// for Debian's dkms keeps the same status.
//
// On the new kernel, before dkms-go goes, it also checks what the
// kernel-upgrade scenario 5 did: `dkms initramfs-check` finds the new
// kernel's initramfs in order, and purging the old kernel's packages with apt
// leaves nothing of that kernel in the dkms tree or /lib/modules.
//
// See docs/VMTESTS.md for what each phase costs under TCG. It runs with
// DKMS_VMTEST=full unless DKMS_VM_MIGRATION=0.
func TestScenarioDebianMigration(t *testing.T) {
	k := requireFull(t)
	if os.Getenv("DKMS_VM_MIGRATION") == "0" {
		t.Skip("scenario 6 (apt migration): DKMS_VM_MIGRATION=0")
	}
	requireHeaders(t, k)
	logLoad(t)
	start := time.Now()
	pkgs, names, modules := migrationPackages(t)
	kernelDebs, nk := secondKernel(t, k)
	image := migrationImage(t, k, nk, kernelDebs)
	stage := migrationStage(t, image, nk, kernelDebs, pkgs)
	t.Logf("image, repository and package ready in %s", time.Since(start).Round(time.Second))
	disk := qcowOverlay(t, image)

	first := migrationPrelude + fmt.Sprintf(`NK=%s
phase boot
apt-get update -q || { say "apt-get update failed"; exit 1; }
phase "apt-get update"
apt install dkms v4l2loopback-dkms; say "debian dkms install exit $?"
phase "debian dkms and v4l2loopback-dkms"
dkms --version
st > /tmp/st-debian; cat /tmp/st-debian
grep -q "^v4l2loopback/.*, $K, x86_64: installed" /tmp/st-debian && say "debian dkms installed v4l2loopback"
modprobe v4l2loopback && say "upstream-built v4l2loopback loads"
rmmod v4l2loopback
apt install dkms-go; say "dkms-go install exit $?"
phase "dkms-go over debian dkms"
say "dkms package state $(dpkg-query -W -f='${db:Status-Abbrev}' dkms)"
dkms --version | grep -qx 'dkms-3.4.3' && say "dkms is dkms-go"
grep -q dkms-autoinstall /etc/kernel/postinst.d/dkms && say "kernel hook is ours"
st > /tmp/st-go; cat /tmp/st-go
same /tmp/st-debian /tmp/st-go "status unchanged by dkms-go"
modprobe v4l2loopback && say "v4l2loopback loads after the switch"
apt install %s; say "dkms packages install exit $?"
phase "-dkms packages through common.postinst"
st
for m in %s; do st | grep -q "^$m/.*, $K, x86_64: installed" && say "$m installed by dkms-go"; done
modprobe acpi_call && say "acpi_call loads"
apt install linux-image-$NK linux-headers-$NK; say "kernel install exit $?"
phase "kernel install"
st
newest=
for ko in v4l2loopback %s; do
	f=$(ls /lib/modules/$NK/updates/dkms/$ko.ko* 2>/dev/null | head -n 1)
	[ -n "$f" ] && say "$ko built for the new kernel"
	# dash's -nt is false when the second file does not exist.
	[ -n "$f" ] && { [ -z "$newest" ] || [ "$f" -nt "$newest" ]; } && newest=$f
done
[ -n "$newest" ] && [ /boot/initrd.img-$NK -nt "$newest" ] && say "initramfs made after the modules"
exit 0
`, nk.Version, strings.Join(pkgs, " "), strings.Join(names, " "), strings.Join(modules, " "))
	res := bootMigration(t, k, disk, stage, first)
	want := []string{"debian dkms install exit 0", "debian dkms installed v4l2loopback",
		"upstream-built v4l2loopback loads", "dkms-go install exit 0", "dkms package state rc",
		"dkms is dkms-go", "kernel hook is ours", "status unchanged by dkms-go",
		"v4l2loopback loads after the switch", "dkms packages install exit 0", "acpi_call loads",
		"kernel install exit 0", "initramfs made after the modules"}
	for _, m := range names {
		want = append(want, m+" installed by dkms-go")
	}
	for _, ko := range append([]string{"v4l2loopback"}, modules...) {
		want = append(want, ko+" built for the new kernel")
	}
	wantLines(t, res, prefixed(want)...)
	if t.Failed() {
		return
	}

	// tp-smapi-dkms is the one purged when installed: its hdaps replaces an
	// in-tree module, which must still be there afterwards.
	purge := `rmmod acpi_call
apt purge acpi-call-dkms; say "purge exit $?"
phase "purge acpi-call-dkms"
test -e /var/lib/dkms/acpi-call || say "purged module gone from the dkms tree"
test -e /usr/src/acpi-call-1.2.2 || say "purged module's source gone"
left=$(find /lib/modules/*/updates /lib/modules/*/extra -name 'acpi_call.ko*' 2>/dev/null)
[ -z "$left" ] && say "no purged modules left" || echo "left: $left"
`
	purged := []string{"purge exit 0", "purged module gone from the dkms tree", "purged module's source gone", "no purged modules left"}
	if slices.Contains(pkgs, "tp-smapi-dkms") {
		purge = `apt purge tp-smapi-dkms; say "purge exit $?"
phase "purge tp-smapi-dkms"
test -e /var/lib/dkms/tp_smapi || say "purged module gone from the dkms tree"
test -e /usr/src/tp_smapi-0.43 || say "purged module's source gone"
left=$(find /lib/modules/*/updates /lib/modules/*/extra \( -name 'thinkpad_ec.ko*' -o -name 'tp_smapi.ko*' -o -name 'hdaps.ko*' \) 2>/dev/null)
[ -z "$left" ] && say "no purged modules left" || echo "left: $left"
find /lib/modules/$K/kernel -name 'hdaps.ko*' | grep -q . && say "in-tree modules kept"
`
		purged = append(purged, "in-tree modules kept")
	}
	// The old kernel goes after the -dkms package, so that the package's
	// purge is checked on both kernels, and while dkms-go is installed:
	// our prerm hook is what removes the modules built for it.
	oldKernel := fmt.Sprintf(`OLD=%s
apt purge linux-image-$OLD linux-headers-$OLD; say "old kernel purge exit $?"
phase "purge the old kernel"
left=$(find /var/lib/dkms -name "*$OLD*")
[ -z "$left" ] && say "old kernel gone from the dkms tree" || echo "left: $left"
test -e /lib/modules/$OLD && ls -laR /lib/modules/$OLD || say "old kernel gone from /lib/modules"
`, k.Version)
	second := migrationPrelude + `say "running $K"
phase boot
modprobe v4l2loopback && grep -q '^v4l2loopback ' /proc/modules && say "v4l2loopback loaded on the new kernel"
modprobe acpi_call && grep -q '^acpi_call ' /proc/modules && say "acpi_call loaded on the new kernel"
dkms initramfs-check -k "$K"; say "initramfs check exit $?"
phase "initramfs-check"
` + purge + oldKernel + `st > /tmp/st-go
apt --purge install dkms; say "debian dkms reinstall exit $?"
phase "debian dkms over dkms-go"
dpkg-query -W -f='${db:Status-Abbrev}' dkms-go 2>/dev/null | grep -q . || say "dkms-go purged"
dpkg-query -W -f='${db:Status-Abbrev}\n' dkms-go 2>&1
dkms --version | grep -q '^dkms-3\.0\.' && say "dkms is Debian's again"
grep -q dkms_autoinstaller /etc/kernel/postinst.d/dkms && say "kernel hook is Debian's again"
st > /tmp/st-debian; cat /tmp/st-debian
same /tmp/st-go /tmp/st-debian "status unchanged by Debian's dkms"
grep -q "^v4l2loopback/.*, $K, x86_64: installed" /tmp/st-debian && say "v4l2loopback still installed"
exit 0
`
	res = bootMigration(t, nk, disk, "", second)
	want = append([]string{"running " + nk.Version, "v4l2loopback loaded on the new kernel",
		"acpi_call loaded on the new kernel", "initramfs check exit 0"}, purged...)
	want = append(want, "old kernel purge exit 0", "old kernel gone from the dkms tree", "old kernel gone from /lib/modules")
	wantLines(t, res, prefixed(append(want, "debian dkms reinstall exit 0", "dkms-go purged", "dkms is Debian's again",
		"kernel hook is Debian's again", "status unchanged by Debian's dkms",
		"v4l2loopback still installed"))...)
	t.Logf("scenario 6 took %s", time.Since(start).Round(time.Second))
}

func prefixed(lines []string) []string {
	out := make([]string, len(lines))
	for i, l := range lines {
		out[i] = "scenario: " + l
	}
	return out
}

// migrationCPUs is the guest's vCPU count: DKMS_VM_CPUS, else 2, as many
// as CI's cores: dkms builds the modules for a new kernel in parallel.
func migrationCPUs(t *testing.T) int {
	t.Helper()
	v := os.Getenv("DKMS_VM_CPUS")
	if v == "" {
		return 2
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		t.Fatalf("DKMS_VM_CPUS=%q: want a positive number", v)
	}
	return n
}

// bootMigration is bootDisk with room for apt and module builds under TCG:
// at load average 14-21 on two cores the first boot with acpi-call-dkms
// alone had not ended after 45 minutes (it was making the initramfs).
func bootMigration(t *testing.T, k Kernel, disk Disk, overlay, script string) Result {
	t.Helper()
	return bootDiskWithin(t, k, disk, overlay, script, 100*time.Minute, migrationCPUs(t))
}

// logLoad logs the host's load average every two minutes until the test
// ends, so that the guest's times in the log can be judged.
func logLoad(t *testing.T) {
	t.Helper()
	done := make(chan struct{})
	t.Cleanup(func() { close(done) })
	go func() {
		tick := time.NewTicker(2 * time.Minute)
		defer tick.Stop()
		for {
			if b, err := os.ReadFile("/proc/loadavg"); err == nil {
				t.Logf("host load average %s", strings.Join(strings.Fields(string(b))[:3], " "))
			}
			select {
			case <-done:
				return
			case <-tick.C:
			}
		}
	}()
}
