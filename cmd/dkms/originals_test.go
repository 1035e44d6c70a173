package main

import (
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/dkms-go/dkms/internal/testenv"
)

// elfModule is a relocatable ELF object whose .modinfo section holds
// fields ("version=2.0"), enough for modinfo to read it like a module.
func elfModule(t *testing.T, fields ...string) string {
	t.Helper()
	d := t.TempDir()
	var c strings.Builder
	for i, f := range fields {
		c.WriteString("static const char f" + string(rune('a'+i)) + "[] __attribute__((section(\".modinfo\"),used)) = \"" + f + "\";\n")
	}
	c.WriteString("int dummy;\n")
	if err := os.WriteFile(d+"/m.c", []byte(c.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("gcc", "-c", "-o", d+"/m.ko", d+"/m.c").CombinedOutput(); err != nil {
		t.Fatalf("gcc: %v\n%s", err, out)
	}
	b, err := os.ReadFile(d + "/m.ko")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestVersionSanityChecks is §7.5 rule 5 with real modinfo fields: an
// older dkms copy is refused with an error block, an equal version and
// srcversion is refused with a plain line, and two different unversioned
// files pass.
func TestVersionSanityChecks(t *testing.T) {
	t.Parallel()
	testenv.RequireTools(t, "gcc", "modinfo")
	const built = "Creating symlink <root>/var/lib/dkms/foo/1.0/source -> <root>/usr/src/foo-1.0\n\n" + noSign + "Building module(s)... done.\n"
	const kcopy = "/lib/modules/" + fk + "/kernel/drivers/foo.ko"
	v2 := elfModule(t, "version=2.0", "srcversion=AAAA")
	cases := []struct {
		name         string
		dkms, kernel string
		step         step
	}{
		{"kernel copy newer", v2, elfModule(t, "version=3.0", "srcversion=BBBB"),
			step{[]string{"install", "foo/1.0", "-k", fk}, 6, built,
				"\nError! Module version 2.0 for foo.ko\nis not newer than what is already found in kernel 6.1.0-test (3.0).\nYou may override by specifying --force.\n" +
					"\nError! Installation aborted.\n"}},
		{"same version and srcversion", v2, elfModule(t, "version=2.0", "srcversion=AAAA", "author=other"),
			step{[]string{"install", "foo/1.0", "-k", fk}, 6, built,
				"Module <root>" + kcopy + " already installed at version 2.0, override by specifying --force\n" +
					"\nError! Installation aborted.\n"}},
		{"same version, other srcversion", v2, elfModule(t, "version=2.0", "srcversion=CCCC"),
			step{[]string{"install", "foo/1.0", "-k", fk}, 0, built +
				"Found pre-existing <root>" + kcopy + ", archiving for uninstallation\n" +
				"Installing <root>/lib/modules/6.1.0-test/updates/dkms/foo.ko\nRunning depmod... done.\n", ""}},
		{"two different unversioned files", elfModule(t, "license=GPL"), elfModule(t, "license=GPL", "author=x"),
			step{[]string{"install", "foo/1.0", "-k", fk}, 0, built +
				"Found pre-existing <root>" + kcopy + ", archiving for uninstallation\n" +
				"Installing <root>/lib/modules/6.1.0-test/updates/dkms/foo.ko\nRunning depmod... done.\n", ""}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			e := fakeEnv(t, "", map[string]string{"foo.bin": c.dkms, "Makefile": "all:\n\tcp foo.bin foo.ko\n"})
			e.write(kcopy, c.kernel)
			runSteps(t, e, []step{c.step})
		})
	}
}

// TestOriginalModules is §7.6 A and C: the first candidate is archived with
// its .origin and the other same-named copy stays; a later install while
// the kernel link exists reports the stored original; at uninstall a bad
// location is refused with a warning, the file is restored the legacy way
// into the raw DEST_MODULE_LOCATION and the surviving backup dir removed.
func TestOriginalModules(t *testing.T) {
	t.Parallel()
	testenv.RequireTools(t, "gcc", "modinfo")
	e := fakeEnv(t, "", map[string]string{"foo.bin": elfModule(t, "license=GPL"), "Makefile": "all:\n\tcp foo.bin foo.ko\n"})
	conf2, _ := os.ReadFile(e.src + "/foo-1.0/dkms.conf")
	e.module("foo", "2.0", strings.Replace(string(conf2), "PACKAGE_VERSION=1.0", "PACKAGE_VERSION=2.0", 1),
		map[string]string{"foo.bin": elfModule(t, "license=GPL", "description=two"), "Makefile": "all:\n\tcp foo.bin foo.ko\n"})
	original := elfModule(t, "license=GPL", "author=a")
	extra := e.write("/lib/modules/"+fk+"/extra/foo.ko", original)
	intree := elfModule(t, "license=GPL", "author=b")
	e.write("/lib/modules/"+fk+"/kernel/drivers/foo.ko", intree)
	backup := e.dkms + "/foo/original_module/" + fk + "/x86_64"
	built := func(v string) string {
		return "Creating symlink <root>/var/lib/dkms/foo/" + v + "/source -> <root>/usr/src/foo-" + v + "\n\n" + noSign + "Building module(s)... done.\n"
	}
	runSteps(t, e, []step{
		{[]string{"install", "foo/1.0", "-k", fk}, 0, built("1.0") +
			"Found pre-existing <root>/lib/modules/6.1.0-test/extra/foo.ko, archiving for uninstallation\n" +
			"Installing <root>/lib/modules/6.1.0-test/updates/dkms/foo.ko\nRunning depmod... done.\n", ""},
	})
	if b, err := os.ReadFile(backup + "/foo.ko.origin"); err != nil || string(b) != extra+"\n" {
		t.Errorf(".origin = %q %v, want %q", b, err, extra+"\n")
	}
	if b, err := os.ReadFile(e.inst + "/" + fk + "/kernel/drivers/foo.ko"); err != nil || string(b) != intree {
		t.Errorf("the second same-named copy must stay in place: %v", err)
	}
	runSteps(t, e, []step{
		{[]string{"install", "foo/2.0", "-k", fk}, 0, built("2.0") +
			"An original module was already stored during a previous install\n" +
			"Installing <root>/lib/modules/6.1.0-test/updates/dkms/foo.ko\nRunning depmod... done.\n", ""},
	})
	e.write("/var/lib/dkms/foo/original_module/"+fk+"/x86_64/foo.ko.origin", "/elsewhere/foo.ko\n")
	runSteps(t, e, []step{
		{[]string{"uninstall", "foo/2.0", "-k", fk}, 0, "Module foo/2.0 for kernel 6.1.0-test (x86_64):\n" +
			"Before uninstall, this module version was ACTIVE on this kernel.\n" +
			"Deleting <root>/lib/modules/6.1.0-test/updates/dkms/foo.ko\n" +
			"Restoring archived original module\nRunning depmod... done.\n" +
			"Removing original module(s) from DKMS tree for kernel 6.1.0-test (x86_64)\n",
			"Warning: Bad original location '/elsewhere/foo.ko' in <root>/var/lib/dkms/foo/original_module/6.1.0-test/x86_64/foo.ko.origin\n"},
	})
	if b, err := os.ReadFile(e.inst + "/" + fk + "/kernel/drivers/foo.ko"); err != nil || string(b) != original {
		t.Errorf("the archived original must be restored into /kernel/drivers: %v", err)
	}
	if _, err := os.Stat(e.dkms + "/foo/original_module"); !os.IsNotExist(err) {
		t.Errorf("original_module left: %v", err)
	}
}
