package main

import "testing"

// TestScriptStatusesIgnored: a missing pre_install script counts as
// success, and failing post_install/post_remove scripts do not change the
// exit status (§7.1).
func TestScriptStatusesIgnored(t *testing.T) {
	t.Parallel()
	const built = "Creating symlink <root>/var/lib/dkms/foo/1.0/source -> <root>/usr/src/foo-1.0\n\n" + noSign + "Building module(s)... done.\n"
	const installed = "Installing <root>/lib/modules/" + fk + "/updates/dkms/foo.ko\n"
	const body = "Module foo/1.0 for kernel " + fk + " (x86_64):\nBefore uninstall, this module version was ACTIVE on this kernel.\n" +
		"Deleting <root>/lib/modules/" + fk + "/updates/dkms/foo.ko\n"
	cases := []struct {
		name, conf string
		steps      []step
	}{
		{"pre_install not executable", "PRE_INSTALL=missing.sh\n", []step{
			{[]string{"install", "foo/1.0", "-k", fk}, 0, built + "\n" + installed + "Running depmod... done.\n",
				"Warning: The pre_install script is not executable.\n"},
		}},
		{"post_install and post_remove fail", "POST_INSTALL=\"s.sh in\"\nPOST_REMOVE=\"s.sh rm\"\n", []step{
			{[]string{"install", "foo/1.0", "-k", fk}, 0, built + installed + "Running the post_install script:\nfailing in\nRunning depmod... done.\n", ""},
			{[]string{"uninstall", "foo/1.0", "-k", fk}, 0, body + "Running the post_remove script:\nfailing rm\nRunning depmod... done.\n", ""},
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			e := fakeEnv(t, c.conf, map[string]string{"s.sh": "#!/bin/sh\necho \"failing $1\"\nexit 5\n"})
			runSteps(t, e, c.steps)
		})
	}
}

// TestPostTransactionWhen: post_transaction runs after uninstall, unbuild
// and remove even when they changed nothing, never after add, build or
// autoinstall (§7.7).
func TestPostTransactionWhen(t *testing.T) {
	t.Parallel()
	e := fakeEnv(t, "AUTOINSTALL=yes\n", nil)
	e.write("/etc/dkms/framework.conf", "post_transaction=\"echo transaction\"\n")
	const pt = "Executing post-transaction command... done.\n"
	const notInstalled = "Module foo/1.0 is not installed for kernel " + fk + " (x86_64). Skipping...\n"
	runSteps(t, e, []step{
		{[]string{"add", "foo/1.0"}, 0, "Creating symlink <root>/var/lib/dkms/foo/1.0/source -> <root>/usr/src/foo-1.0\n", ""},
		{[]string{"uninstall", "foo/1.0", "-k", fk}, 0, notInstalled + pt, ""},
		{[]string{"unbuild", "foo/1.0", "-k", fk}, 0, notInstalled + "Module foo/1.0 is not built for kernel " + fk + " (x86_64). Skipping...\n" + pt, ""},
		{[]string{"build", "foo/1.0", "-k", fk}, 0, noSign + "Building module(s)... done.\n", ""},
		{[]string{"autoinstall", "-k", fk}, 0, "Autoinstall of module foo/1.0 for kernel " + fk + " (x86_64)\n" +
			"Installing <root>/lib/modules/" + fk + "/updates/dkms/foo.ko\nRunning depmod... done.\n\n" +
			"Autoinstall on " + fk + " succeeded for module(s) foo.\n", ""},
		{[]string{"install", "foo/1.0", "-k", fk}, 0, "Module foo/1.0 already installed on kernel " + fk + " (x86_64), skip. You may override by specifying --force.\n" + pt, ""},
	})
}
