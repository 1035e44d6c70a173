package main

import (
	"os"
	"testing"
)

// Delta D7 (effective DEST_MODULE_LOCATION per distribution), D8
// (/etc/dkms/<m>/patches) and D9 (/etc/dkms/<m>/<script>) through the
// binary.

func TestDeltaDistributionLocation(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ osRelease, dir string }{
		{"ID=centos\n", "extra"},
		{"ID=rocky\nID_LIKE=\"centos rhel fedora\"\n", "extra"},
		{"ID=ol\nID_LIKE=\"ovm\"\n", "kernel/drivers"},
	} {
		t.Run(c.osRelease, func(t *testing.T) {
			t.Parallel()
			e := fakeEnv(t, "", nil)
			e.write("/etc/os-release", c.osRelease)
			runSteps(t, e, []step{{[]string{"install", "foo/1.0", "-k", fk}, 0,
				created + "\n" + noSign + buildingDone + "Installing <root>/lib/modules/6.1.0-test/" + c.dir + "/foo.ko\nRunning depmod... done.\n", ""}})
		})
	}
}

const patchOld = "--- a/fake.c\n+++ b/fake.c\n@@ -1 +1 @@\n-/* stand-in */\n"

// patchedBuild is a module whose built foo.ko is its fake.c, so the stored
// module shows which patch was applied.
func patchedBuild(t *testing.T, conf string) *testEnv {
	t.Helper()
	return fakeEnv(t, conf, map[string]string{
		"Makefile":             "all:\n\tcat fake.c > foo.ko\n",
		"patches/p.patch":      patchOld + "+/* from the module */\n",
		"patches/keep.patch":   patchOld + "+/* kept */\n",
		"patches/sub/s.patch":  patchOld + "+/* module sub */\n",
		"patches/other.readme": "not a patch\n",
	})
}

func TestDeltaPatchOverrides(t *testing.T) {
	t.Parallel()
	applied := func(p string) string {
		return created + "\n" + noSign + "Applying patch " + p + "... done.\n" + buildingDone
	}
	cases := []struct {
		name, conf, patch, overlay, want string
	}{
		{"override wins", "PATCH[0]=p.patch\n", "p.patch", "+/* from /etc */\n", "/* from /etc */\n"},
		{"module's patch kept when not overridden", "PATCH[0]=keep.patch\n", "keep.patch", "", "/* kept */\n"},
		{"only in /etc", "PATCH[0]=only.patch\n", "only.patch", "+/* only /etc */\n", "/* only /etc */\n"},
		{"relative sub-path", "PATCH[0]=sub/s.patch\n", "sub/s.patch", "+/* etc sub */\n", "/* etc sub */\n"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			e := patchedBuild(t, c.conf)
			if c.overlay != "" {
				e.write("/etc/dkms/foo/patches/"+c.patch, patchOld+c.overlay)
			}
			e.write("/etc/dkms/foo/patches/unused.patch", "never applied\n")
			runSteps(t, e, []step{{[]string{"build", "foo/1.0", "-k", fk}, 0, applied(c.patch), ""}})
			b, err := os.ReadFile(e.dkms + "/foo/1.0/" + fk + "/x86_64/module/foo.ko")
			if err != nil || string(b) != c.want {
				t.Errorf("built module %q %v, want %q", b, err, c.want)
			}
		})
	}
	t.Run("error text still names build/patches", func(t *testing.T) {
		t.Parallel()
		e := patchedBuild(t, "PATCH[0]=nowhere.patch\n")
		runSteps(t, e, []step{{[]string{"build", "foo/1.0", "-k", fk}, 5, created + "\n" + noSign,
			"\nError! Patch nowhere.patch as specified in dkms.conf cannot be\nfound in <root>/var/lib/dkms/foo/1.0/build/patches/.\n"}})
	})
}

func TestDeltaScriptOverrides(t *testing.T) {
	t.Parallel()
	const pwdScript = "#!/bin/sh\necho \"override in $(pwd) with $*\"\n"
	cases := []envCase{
		// The module need not ship the script; it runs in /etc/dkms/<m>.
		{"post_add override", "POST_ADD=\"post.sh a1\"\n", nil, func(e *testEnv) {
			e.r.Write("/etc/dkms/foo/post.sh", pwdScript, 0o755)
		}, []step{{[]string{"add", "foo/1.0"}, 0, created + "Running the post_add script:\noverride in <root>/etc/dkms/foo with a1\n", ""}}, nil},
		// An override that is not executable is ignored.
		{"non-executable override ignored", "POST_ADD=\"post.sh\"\n", map[string]string{"post.sh": "#!/bin/sh\necho module copy\n"}, func(e *testEnv) {
			e.r.Write("/etc/dkms/foo/post.sh", pwdScript, 0o644)
		}, []step{{[]string{"add", "foo/1.0"}, 0, created + "Running the post_add script:\nmodule copy\n", ""}}, nil},
		{"non-executable override and no module copy", "POST_ADD=\"post.sh\"\n", nil, func(e *testEnv) {
			e.r.Write("/etc/dkms/foo/post.sh", pwdScript, 0o644)
		}, []step{{[]string{"add", "foo/1.0"}, 0, created + "\n", "Warning: The post_add script is not executable.\n"}}, nil},
		{"pre_install and post_install overrides", "PRE_INSTALL=pi.sh\nPOST_INSTALL=\"po.sh x\"\n", nil, func(e *testEnv) {
			e.r.Write("/etc/dkms/foo/pi.sh", pwdScript, 0o755)
			e.r.Write("/etc/dkms/foo/po.sh", pwdScript, 0o755)
		}, []step{{[]string{"install", "foo/1.0", "-k", fk}, 0, created + "\n" + noSign + buildingDone +
			"Running the pre_install script:\noverride in <root>/etc/dkms/foo with \n" +
			"Installing <root>/lib/modules/6.1.0-test/updates/dkms/foo.ko\n" +
			"Running the post_install script:\noverride in <root>/etc/dkms/foo with x\nRunning depmod... done.\n", ""}}, nil},
		// The delta's example: a failing override pre_build, run outside build/.
		{"failing pre_build override", "PRE_BUILD=\"pre.sh arg1\"\n", map[string]string{"pre.sh": "#!/bin/sh\nexit 0\n"}, func(e *testEnv) {
			e.r.Write("/etc/dkms/foo/pre.sh", "#!/bin/sh\nexit 3\n", 0o755)
		}, []step{{[]string{"build", "foo/1.0", "-k", fk}, 3, created + "\n" + noSign +
			"Running the pre_build script...(bad exit status: 3)\nFailed command:\ncd <root>/etc/dkms/foo/ && <root>/etc/dkms/foo/pre.sh arg1\n" +
			"Consult <root>/var/lib/dkms/foo/1.0/build/make.log for more information.\n", ""}}, nil},
	}
	runEnvCases(t, cases)
}
