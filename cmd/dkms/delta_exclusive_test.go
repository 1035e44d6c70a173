package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dkms-go/dkms/internal/testenv"
)

// Delta D4 (OBSOLETE_BY), D5 (BUILD_EXCLUSIVE per record, partial
// exclusion) and D6 (the uninstall skip line) through the binary.

const pmConf = `PACKAGE_NAME=pm
PACKAGE_VERSION=1.0
BUILT_MODULE_NAME=(mod0 mod1 mod2)
DEST_MODULE_LOCATION=(/updates /updates /updates)
MAKE[0]="make all"
`

const (
	pmCreated = "Creating symlink <root>/var/lib/dkms/pm/1.0/source -> <root>/usr/src/pm-1.0\n"
	pmInst    = "<root>/lib/modules/6.1.0-test/updates/dkms/"
)

// pmEnv is the delta's partial-exclusion example: three records, record 1
// for 5.x only and record 2 for 6.x only, on 6.1.0-test.
func pmEnv(t *testing.T, makes ...string) *testEnv {
	t.Helper()
	e := newEnv(t)
	e.fakeKernel(fk, "")
	if len(makes) == 0 {
		makes = []string{"mod0", "mod1", "mod2"}
	}
	e.module("pm", "1.0", pmConf+"BUILD_EXCLUSIVE_KERNEL[1]=\"^5\\.\"\nBUILD_EXCLUSIVE_KERNEL[2]=\"^6\\.\"\n", fakeBuildFiles(makes...))
	return e
}

func TestDeltaPartialExclusion(t *testing.T) {
	t.Parallel()
	e := pmEnv(t)
	runSteps(t, e, []step{
		// No message mentions the excluded record.
		{[]string{"build", "pm/1.0", "-k", fk}, 0, pmCreated + "\n" + noSign + buildingDone, ""},
		{[]string{"install", "pm/1.0", "-k", fk}, 0, "Installing " + pmInst + "mod0.ko\nInstalling " + pmInst + "mod2.ko\nRunning depmod... done.\n", ""},
		// No "(Built modules are missing ...)" for the excluded record.
		{[]string{"status"}, 0, "pm/1.0, 6.1.0-test, x86_64: installed\n", ""},
	})
	// Once the files are old enough to be cached, status answers from the
	// cache, which keeps the per-record values: the same line, twice.
	settle()
	runSteps(t, e, []step{
		{[]string{"status"}, 0, "pm/1.0, 6.1.0-test, x86_64: installed\n", ""},
	})
	if !exists(e.dkms + "/.status-cache") {
		t.Fatal("status wrote no cache")
	}
	runSteps(t, e, []step{
		{[]string{"status"}, 0, "pm/1.0, 6.1.0-test, x86_64: installed\n", ""},
		// The uninstall body is not exclusion-aware.
		{[]string{"uninstall", "pm/1.0", "-k", fk}, 0, "Module pm/1.0 for kernel 6.1.0-test (x86_64):\n" +
			"Before uninstall, this module version was ACTIVE on this kernel.\n" +
			"Deleting " + pmInst + "mod0.ko\nModule mod1.ko was not found within <root>/lib/modules/6.1.0-test/\n" +
			"Deleting " + pmInst + "mod2.ko\nRunning depmod... done.\n", ""},
	})
	ents, _ := os.ReadDir(e.dkms + "/pm/1.0/" + fk + "/x86_64/module")
	var names []string
	for _, de := range ents {
		names = append(names, de.Name())
	}
	if strings.Join(names, " ") != "mod0.ko mod2.ko" {
		t.Errorf("module/ holds %v, want only the records not excluded", names)
	}
}

// TestDeltaPartialExclusionMissingModule: make need not produce the
// excluded record's module (no die 7).
func TestDeltaPartialExclusionMissingModule(t *testing.T) {
	t.Parallel()
	e := pmEnv(t, "mod0", "mod2")
	runSteps(t, e, []step{{[]string{"build", "pm/1.0", "-k", fk}, 0, pmCreated + "\n" + noSign + buildingDone, ""}})
}

func TestDeltaExclusionCases(t *testing.T) {
	t.Parallel()
	const excl = "Warning: The <root>/var/lib/dkms/pm/1.0/6.1.0-test/x86_64/dkms.conf\nfor module pm/1.0 includes BUILD_EXCLUSIVE directives\n" +
		"which do not match this kernel/arch/config for any modules.\nThis indicates that it should not be built.\n"
	const srcNote = "Deprecated feature: OBSOLETE_BY (<root>/usr/src/pm-1.0/dkms.conf): use BUILD_EXCLUSIVE_KERNEL_MAX instead\n"
	const treeNote = "Deprecated feature: OBSOLETE_BY (<root>/var/lib/dkms/pm/1.0/source/dkms.conf): use BUILD_EXCLUSIVE_KERNEL_MAX instead\n"
	const zero = "dkms.conf: Warning! Zero modules specified.\n"
	cases := []struct {
		name, conf, addErr, stdout, stderr string
		code                               int
	}{
		// The man page's example does not work as documented: element 0
		// restricts record 1 too, so on 6.x everything is excluded.
		{"man page example on 6.x", pmConf + "BUILD_EXCLUSIVE_KERNEL[0]=\"^5\\.\"\nBUILD_EXCLUSIVE_KERNEL[1]=\"^6\\.\"\n",
			"", "", excl, 77},
		{"every record excluded", pmConf + "BUILD_EXCLUSIVE_KERNEL[1]=\"^5\\.\"\nBUILD_EXCLUSIVE_ARCH[0]=\"aarch64\"\n",
			"", "", excl, 77},
		{"obsolete_by as global maximum", pmConf + "OBSOLETE_BY=6.0\n", srcNote, "", treeNote + excl, 77},
		{"a record's own maximum disables obsolete_by", pmConf + "OBSOLETE_BY=6.0\nBUILD_EXCLUSIVE_KERNEL_MAX[2]=7.0\n",
			srcNote, noSign + buildingDone, treeNote, 0},
		// N = 0 is never excluded (3.2.2 said 77).
		{"zero records", "PACKAGE_NAME=pm\nPACKAGE_VERSION=1.0\nMAKE[0]=\"make all\"\nBUILD_EXCLUSIVE_KERNEL=\"^5\\.\"\n",
			zero, noSign + buildingDone, zero, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			e.fakeKernel(fk, "")
			e.module("pm", "1.0", c.conf, fakeBuildFiles("mod0", "mod1", "mod2"))
			runSteps(t, e, []step{
				{[]string{"add", "pm/1.0"}, 0, pmCreated, c.addErr},
				{[]string{"build", "pm/1.0", "-k", fk}, c.code, c.stdout, c.stderr},
			})
		})
	}
}

// TestDeltaObsoleteByNotices: the notice follows the six of 3.2.2 after
// each evaluated file of the chain, an empty value included, and is
// repeated for later files with their paths.
func TestDeltaObsoleteByNotices(t *testing.T) {
	t.Parallel()
	e := fakeEnv(t, "OBSOLETE_BY=\"\"\nREMAKE_INITRD=no\n", nil)
	e.write("/etc/dkms/foo.conf", "# nothing\n")
	note := func(f string) string {
		return "Deprecated feature: REMAKE_INITRD (" + f + ")\nDeprecated feature: OBSOLETE_BY (" + f + "): use BUILD_EXCLUSIVE_KERNEL_MAX instead\n"
	}
	runSteps(t, e, []step{{[]string{"add", "foo/1.0"}, 0, created, note("<root>/usr/src/foo-1.0/dkms.conf") + note("<root>/etc/dkms/foo.conf")}})
}

// TestDeltaInstallAllExcluded: a built pair whose every record is now
// excluded is not installed: Installation aborted. (die 6).
func TestDeltaInstallAllExcluded(t *testing.T) {
	t.Parallel()
	e := fakeEnv(t, "", nil)
	runSteps(t, e, []step{{[]string{"build", "foo/1.0", "-k", fk}, 0, created + "\n" + noSign + buildingDone, ""}})
	// The kernel's config changed after the build.
	conf := e.src + "/foo-1.0/dkms.conf"
	b, _ := os.ReadFile(conf)
	os.WriteFile(conf, append(b, "BUILD_EXCLUSIVE_CONFIG=CONFIG_GONE\n"...), 0o644)
	e.write("/lib/modules/"+fk+"/build/.config", "CONFIG_OTHER=y\n")
	runSteps(t, e, []step{
		{[]string{"install", "foo/1.0", "-k", fk}, 6, "", "\nError! Installation aborted.\n"},
		{[]string{"status"}, 0, "foo/1.0, 6.1.0-test, x86_64: built\n", ""},
	})
	if exists(e.inst + "/" + fk + "/updates/dkms/foo.ko") {
		t.Errorf("an excluded module was installed")
	}
}

// TestDeltaUninstallSkipLine is D6: the skip line for a pair that is not
// installed is hidden when the module uses BUILD_EXCLUSIVE at all.
func TestDeltaUninstallSkipLine(t *testing.T) {
	t.Parallel()
	skip := "Module foo/1.0 is not installed for kernel 6.1.0-test (x86_64). Skipping...\n"
	cases := []struct {
		name, conf string
		args       []string
		stdout     string
	}{
		{"plain module", "", []string{"uninstall", "foo/1.0", "-k", fk}, skip},
		{"exclusive that matches", "BUILD_EXCLUSIVE_KERNEL=\"^6\\.\"\n", []string{"uninstall", "foo/1.0", "-k", fk}, ""},
		{"per-record element", "BUILD_EXCLUSIVE_ARCH[0]=\"\"\nBUILD_EXCLUSIVE_CONFIG[0]=\"\"\nBUILD_EXCLUSIVE_KERNEL_MIN=\"1.0\"\n", []string{"uninstall", "foo/1.0", "-k", fk}, ""},
		{"obsolete_by as maximum", "OBSOLETE_BY=9.0\n", []string{"uninstall", "foo/1.0", "-k", fk}, ""},
		{"an element beyond the records does not count", "BUILD_EXCLUSIVE_KERNEL[3]=\"^6\\.\"\n", []string{"uninstall", "foo/1.0", "-k", fk}, skip},
		{"directives are echoed", "BUILD_EXCLUSIVE_KERNEL=\"^6\\.\"\n", []string{"uninstall", "foo/1.0", "-k", fk, "--directive", "X=1"}, "DIRECTIVE: X=\"1\"\n"},
		{"unbuild's own skip line is unaffected", "BUILD_EXCLUSIVE_KERNEL=\"^6\\.\"\n", []string{"unbuild", "foo/1.0", "-k", fk},
			"Module foo/1.0 is not built for kernel 6.1.0-test (x86_64). Skipping...\n"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			e := fakeEnv(t, c.conf, nil)
			if _, errOut, code := e.run("add", "foo/1.0"); code != 0 {
				t.Fatalf("add: %d %s", code, errOut)
			}
			runSteps(t, e, []step{{c.args, 0, c.stdout, ""}})
		})
	}
}

// TestDeltaUninstallSkipUnreadableConf: the check of D6 meeting a
// dkms.conf the user cannot read ends unbuild with status 4 and nothing
// printed (upstream's error block goes to the discarded stream).
func TestDeltaUninstallSkipUnreadableConf(t *testing.T) {
	t.Parallel()
	testenv.RequireRoot(t)
	e := fakeEnv(t, "", nil)
	if _, errOut, code := e.run("build", "foo/1.0", "-k", fk); code != 0 {
		t.Fatal(errOut)
	}
	// The tree belongs to the user; the module's dkms.conf stays root's only.
	err := filepath.Walk(e.dkms, func(p string, _ os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, 65534, 65534)
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(e.src+"/foo-1.0/dkms.conf", 0o600); err != nil {
		t.Fatal(err)
	}
	out, errOut, code := runAsNobody(t, e, "unbuild", "foo/1.0", "-k", fk)
	if code != 4 || out != "" || errOut != "" {
		t.Errorf("exit %d (want 4)\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
}
