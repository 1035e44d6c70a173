package vm

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// migrationPackages are the -dkms packages scenario 6 installs through
// dkms-go, besides v4l2loopback-dkms (installed by Debian's dkms). Every
// module is built twice under TCG (running and new kernel), so the default
// is the smallest; DKMS_VM_MORE=1 adds tp-smapi-dkms (three modules, one
// of them replacing the in-tree hdaps), DKMS_VM_XTABLES=1 also
// xtables-addons-dkms (the largest build).
func migrationPackages() []string {
	pkgs := []string{"acpi-call-dkms"}
	if os.Getenv("DKMS_VM_MORE") == "1" || os.Getenv("DKMS_VM_XTABLES") == "1" {
		pkgs = append(pkgs, "tp-smapi-dkms")
	}
	if os.Getenv("DKMS_VM_XTABLES") == "1" {
		pkgs = append(pkgs, "xtables-addons-dkms")
	}
	return pkgs
}

// migrationStage is the overlay of scenario 6: the local repository, an apt
// source naming only it, and a faster initramfs configuration.
func migrationStage(t *testing.T, image string, nk Kernel, kernelDebs string, extra []string) string {
	t.Helper()
	stage := t.TempDir()
	status := guestStatus(t, image)
	want := append([]string{"dkms", "v4l2loopback-dkms", "linux-image-" + nk.Version, "linux-headers-" + nk.Version}, extra...)
	debs := fetchDebs(t, filepath.Join(CacheDir(), "debs-migration"), resolveForGuest(t, status, want...), kernelDebs)
	debs = append(debs, dkmsGoDeb(t))
	writeRepo(t, filepath.Join(stage, "srv", "vmtest-repo"), debs)
	files := map[string]string{
		// The image's sources name a mirror the guest cannot reach.
		"etc/apt/sources.list": "deb [trusted=yes] file:/srv/vmtest-repo ./\n",
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

// The guest's helpers: apt without questions or fsync, and dkms status in a
// stable order for comparing two implementations' views of one tree.
const migrationPrelude = sayFunc + `export DEBIAN_FRONTEND=noninteractive
apt() { apt-get -y -q --no-install-recommends -o Dpkg::Options::=--force-unsafe-io "$@" 2>&1; }
# Status lines are stdout; Debian's dkms also prints shell noise on stderr
# ("echo: write error: Broken pipe") that is no part of the status.
st() { dkms status 2>/dev/null | sort; }
same() { if cmp -s "$1" "$2"; then say "$3"; else diff "$1" "$2"; fi; }
`

// TestScenarioDebianMigration is scenario 6: Debian's dkms and a -dkms
// package built by it; apt install dkms-go replaces dkms with every module
// kept installed and loadable; further -dkms packages install through
// common.postinst and our dkms; a kernel installed with apt gets every module
// from our hook before its initramfs; the guest boots it with the modules
// loading; purging a -dkms package leaves nothing of it; purging dkms-go
// for Debian's dkms keeps the same status.
//
// It takes longer than CI's budget for all VM tests under TCG (see
// docs/VMTESTS.md), so it runs only with DKMS_VM_MIGRATION=1 as well as
// DKMS_VMTEST=full.
func TestScenarioDebianMigration(t *testing.T) {
	k := requireFull(t)
	if os.Getenv("DKMS_VM_MIGRATION") != "1" {
		t.Skip("scenario 6 (apt migration, about 30 minutes under TCG): set DKMS_VM_MIGRATION=1")
	}
	requireHeaders(t, k)
	image := debianImage(t, k)
	kernelDebs, nk := secondKernel(t, k)
	pkgs := migrationPackages()
	start := time.Now()
	stage := migrationStage(t, image, nk, kernelDebs, pkgs)
	t.Logf("repository and package ready in %s", time.Since(start).Round(time.Second))
	disk := qcowOverlay(t, image)
	modules, names := "v4l2loopback acpi_call", "v4l2loopback acpi-call"
	if len(pkgs) > 1 {
		modules, names = modules+" tp_smapi", names+" tp_smapi"
	}
	if len(pkgs) > 2 {
		modules, names = modules+" xt_ACCOUNT", names+" xtables-addons"
	}
	// Purged in the second boot: tp-smapi-dkms when present, whose hdaps
	// replaced an in-tree module that must come back; else acpi-call-dkms.
	purge := `rmmod acpi_call
apt purge acpi-call-dkms; say "purge exit $?"
test -e /var/lib/dkms/acpi-call || say "purged module gone from the dkms tree"
test -e /usr/src/acpi-call-1.2.2 || say "purged module's source gone"
left=$(find /lib/modules/*/updates /lib/modules/*/extra -name 'acpi_call.ko*' 2>/dev/null)
[ -z "$left" ] && say "no purged modules left" || echo "left: $left"
say "in-tree modules kept"
`
	if len(pkgs) > 1 {
		purge = `apt purge tp-smapi-dkms; say "purge exit $?"
test -e /var/lib/dkms/tp_smapi || say "purged module gone from the dkms tree"
test -e /usr/src/tp_smapi-0.43 || say "purged module's source gone"
left=$(find /lib/modules/*/updates /lib/modules/*/extra \( -name 'thinkpad_ec.ko*' -o -name 'tp_smapi.ko*' -o -name 'hdaps.ko*' \) 2>/dev/null)
[ -z "$left" ] && say "no purged modules left" || echo "left: $left"
find /lib/modules/$K/kernel -name 'hdaps.ko*' | grep -q . && say "in-tree modules kept"
`
	}

	first := migrationPrelude + fmt.Sprintf(`NK=%s
apt-get update -q || { say "apt-get update failed"; exit 1; }
apt install dkms v4l2loopback-dkms; say "debian dkms install exit $?"
dkms --version
st > /tmp/st-debian; cat /tmp/st-debian
grep -q "^v4l2loopback/.*, $K, x86_64: installed" /tmp/st-debian && say "debian dkms installed v4l2loopback"
modprobe v4l2loopback && say "upstream-built v4l2loopback loads"
rmmod v4l2loopback
apt install dkms-go; say "dkms-go install exit $?"
say "dkms package state $(dpkg-query -W -f='${db:Status-Abbrev}' dkms)"
dkms --version | grep -qx 'dkms-3.4.3' && say "dkms is dkms-go"
grep -q dkms-autoinstall /etc/kernel/postinst.d/dkms && say "kernel hook is ours"
st > /tmp/st-go; cat /tmp/st-go
same /tmp/st-debian /tmp/st-go "status unchanged by dkms-go"
modprobe v4l2loopback && say "v4l2loopback loads after the switch"
apt install %s; say "dkms packages install exit $?"
st
for m in %s; do st | grep -q "^$m/.*, $K, x86_64: installed" && say "$m installed by dkms-go"; done
modprobe acpi_call && say "acpi_call loads"
apt install linux-image-$NK linux-headers-$NK; say "kernel install exit $?"
st
newest=
for ko in %s; do
	f=$(ls /lib/modules/$NK/updates/dkms/$ko.ko* 2>/dev/null | head -n 1)
	[ -n "$f" ] && say "$ko built for the new kernel"
	# dash's -nt is false when the second file does not exist.
	[ -n "$f" ] && { [ -z "$newest" ] || [ "$f" -nt "$newest" ]; } && newest=$f
done
[ -n "$newest" ] && [ /boot/initrd.img-$NK -nt "$newest" ] && say "initramfs made after the modules"
exit 0
`, nk.Version, strings.Join(pkgs, " "), names, modules)
	res := bootMigration(t, k, disk, stage, first)
	want := []string{"debian dkms install exit 0", "debian dkms installed v4l2loopback",
		"upstream-built v4l2loopback loads", "dkms-go install exit 0", "dkms package state rc",
		"dkms is dkms-go", "kernel hook is ours", "status unchanged by dkms-go",
		"v4l2loopback loads after the switch", "dkms packages install exit 0", "acpi_call loads",
		"kernel install exit 0", "initramfs made after the modules"}
	for _, m := range strings.Fields(names)[1:] {
		want = append(want, m+" installed by dkms-go")
	}
	for _, ko := range strings.Fields(modules) {
		want = append(want, ko+" built for the new kernel")
	}
	wantLines(t, res, prefixed(want)...)
	if t.Failed() {
		return
	}

	second := migrationPrelude + `say "running $K"
modprobe v4l2loopback && grep -q '^v4l2loopback ' /proc/modules && say "v4l2loopback loaded on the new kernel"
modprobe acpi_call && grep -q '^acpi_call ' /proc/modules && say "acpi_call loaded on the new kernel"
` + purge + `st > /tmp/st-go
apt --purge install dkms; say "debian dkms reinstall exit $?"
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
	wantLines(t, res, prefixed([]string{"running " + nk.Version, "v4l2loopback loaded on the new kernel",
		"acpi_call loaded on the new kernel", "purge exit 0", "purged module gone from the dkms tree",
		"purged module's source gone", "no purged modules left", "in-tree modules kept",
		"debian dkms reinstall exit 0", "dkms-go purged", "dkms is Debian's again",
		"kernel hook is Debian's again", "status unchanged by Debian's dkms",
		"v4l2loopback still installed"})...)
	t.Logf("scenario 6 took %s", time.Since(start).Round(time.Second))
}

func prefixed(lines []string) []string {
	out := make([]string, len(lines))
	for i, l := range lines {
		out[i] = "scenario: " + l
	}
	return out
}

// bootMigration is bootDisk with room for apt and module builds under TCG.
func bootMigration(t *testing.T, k Kernel, disk Disk, overlay, script string) Result {
	t.Helper()
	return bootDiskWithin(t, k, disk, overlay, script, 45*time.Minute)
}
