package main

import (
	"archive/tar"
	"compress/gzip"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dkms-go/dkms/internal/testenv"
)

const (
	tarK1 = "6.1.0-test"
	tarK2 = "6.2.0-test"
)

const fakeFooConf = "PACKAGE_NAME=foo\nPACKAGE_VERSION=1.0\nBUILT_MODULE_NAME[0]=foo\n" +
	"DEST_MODULE_LOCATION[0]=/updates\nMAKE[0]=\"make all\"\nAUTOINSTALL=yes\n"

// fakeTree is an env with fake kernels (headers, no compiler needed) and
// module foo/1.0 whose build writes a stand-in foo.ko. With build, foo is
// added and built for every kernel.
func fakeTree(t *testing.T, build bool, kernels ...string) *testEnv {
	t.Helper()
	e := newEnv(t)
	for _, k := range kernels {
		e.fakeKernel(k, "")
	}
	e.module("foo", "1.0", fakeFooConf, fakeBuildFiles("foo"))
	if !build {
		return e
	}
	for _, k := range kernels {
		if out, errOut, code := e.run("build", "foo/1.0", "-k", k); code != 0 {
			t.Fatalf("build for %s: %d\n%s\n%s", k, code, out, errOut)
		}
	}
	return e
}

// emptyTree is an env with fake kernels and nothing in its trees.
func emptyTree(t *testing.T, kernels ...string) *testEnv {
	t.Helper()
	e := newEnv(t)
	for _, k := range kernels {
		e.fakeKernel(k, "")
	}
	return e
}

// walkArchive calls fn for every member of a gzipped tar archive, in
// archive order, with the member's content as r.
func walkArchive(t *testing.T, path string, fn func(h *tar.Header, r io.Reader)) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(zr)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		fn(h, tr)
	}
}

// members lists the member names of a gzipped tar archive, with a "/"
// appended for directories, in archive order.
func members(t *testing.T, path string) []string {
	t.Helper()
	var out []string
	walkArchive(t, path, func(h *tar.Header, _ io.Reader) {
		name := h.Name
		if h.Typeflag == tar.TypeDir && !strings.HasSuffix(name, "/") {
			name += "/"
		}
		out = append(out, name)
	})
	return out
}

func TestMkTarballLdTarballRoundTrip(t *testing.T) {
	t.Parallel()
	testenv.RequireRoot(t)
	testenv.RequireTools(t, "make")
	a := fakeTree(t, true, tarK1, tarK2)
	out, errOut, code := a.run("mktarball", "foo/1.0", "-k", tarK1, "-k", tarK2)
	if code != 0 {
		t.Fatalf("mktarball: %d\n%s\n%s", code, out, errOut)
	}
	golden(t, "tarball_mktarball", out)
	archive := a.dkms + "/foo/1.0/tarball/foo-1.0-kernel" + tarK1 + "-x86_64-kernel" + tarK2 + "-x86_64.dkms.tar.gz"
	golden(t, "tarball_mktarball_members", strings.Join(members(t, archive), "\n")+"\n")

	b := emptyTree(t, tarK1, tarK2)
	out, errOut, code = b.run("ldtarball", archive)
	if code != 0 {
		t.Fatalf("ldtarball: %d\n%s\n%s", code, out, errOut)
	}
	golden(t, "tarball_ldtarball", out+"--- stderr\n"+errOut)
	st, _, _ := b.run("status")
	if want := "foo/1.0, " + tarK1 + ", x86_64: built\nfoo/1.0, " + tarK2 + ", x86_64: built\n"; st != want {
		t.Errorf("status after ldtarball %q, want %q (every kernel of the archive is loaded)", st, want)
	}
	if got, _ := os.ReadFile(b.src + "/foo-1.0/dkms.conf"); string(got) != fakeFooConf {
		t.Errorf("source not copied: %q", got)
	}
	out, errOut, code = b.run("install", "foo/1.0", "-k", tarK2)
	if code != 0 || !strings.Contains(out, "Installing <root>/lib/modules/"+tarK2+"/updates/dkms/foo.ko\n") {
		t.Fatalf("install from loaded binaries: %d\n%s\n%s", code, out, errOut)
	}
	if body, _ := os.ReadFile(b.inst + "/" + tarK2 + "/updates/dkms/foo.ko"); string(body) != "fake module foo\n" {
		t.Errorf("installed module %q", body)
	}

	// A second load is refused without --force, and refreshes with it.
	out, errOut, code = b.run("ldtarball", archive)
	if code != 8 || errOut != "\nError! foo/1.0 is already added!\nAborting.\n" {
		t.Errorf("second ldtarball: %d %q %q", code, out, errOut)
	}
	os.WriteFile(b.dkms+"/foo/1.0/"+tarK1+"/x86_64/module/foo.ko", []byte("stale"), 0o644)
	out, errOut, code = b.run("ldtarball", archive, "--force")
	if code != 3 || !strings.Contains(out, "Loading <root>/var/lib/dkms/foo/1.0/"+tarK1+"/x86_64...\n") ||
		!strings.HasSuffix(errOut, "Error! DKMS tree already contains: foo/1.0\nYou cannot add the same module/version combo more than once.\n") {
		t.Errorf("ldtarball --force: %d\n%s\n%s", code, out, errOut)
	}
	if body, _ := os.ReadFile(b.dkms + "/foo/1.0/" + tarK1 + "/x86_64/module/foo.ko"); string(body) != "fake module foo\n" {
		t.Errorf("--force did not reload the binaries: %q", body)
	}
}

func TestMkTarballVariants(t *testing.T) {
	t.Parallel()
	testenv.RequireRoot(t)
	testenv.RequireTools(t, "make")
	a := fakeTree(t, true, tarK1)
	out, errOut, code := a.run("mktarball", "foo/1.0", "-k", tarK1, "--binaries-only")
	if code != 0 {
		t.Fatalf("binaries-only: %d\n%s\n%s", code, out, errOut)
	}
	golden(t, "tarball_binaries_only", out)
	binArchive := a.dkms + "/foo/1.0/tarball/foo-1.0-kernel" + tarK1 + "-x86_64.dkms.tar.gz"
	golden(t, "tarball_binaries_only_members", strings.Join(members(t, binArchive), "\n")+"\n")

	out, errOut, code = a.run("mktarball", "foo/1.0", "--source-only")
	want := "\nMarking <root>/var/lib/dkms/foo/1.0/source for archiving...\n\n" +
		"Tarball location: <root>/var/lib/dkms/foo/1.0/tarball//foo-1.0-source-only.dkms.tar.gz\n"
	if code != 0 || out != want {
		t.Errorf("source-only: %d\n%s\nwant\n%s\n%s", code, out, want, errOut)
	}
	got := members(t, a.dkms+"/foo/1.0/tarball/foo-1.0-source-only.dkms.tar.gz")
	wantMembers := []string{"./", "./dkms_main_tree/", "./dkms_source_tree/", "./dkms_source_tree/Makefile",
		"./dkms_source_tree/dkms.conf", "./dkms_source_tree/fake.c"}
	if strings.Join(got, " ") != strings.Join(wantMembers, " ") {
		t.Errorf("source-only members %v, want %v", got, wantMembers)
	}

	dest := t.TempDir() + "/out"
	out, _, code = a.run("mktarball", "foo/1.0", "-k", tarK1, "--archive="+dest+"/foo.tar.xz")
	if code != 0 || !strings.HasSuffix(out, "Tarball location: "+dest+"/foo.tar.xz\n") {
		t.Errorf("--archive with a directory: %d %q", code, out)
	}
	if head, _ := os.ReadFile(dest + "/foo.tar.xz"); len(head) < 6 || string(head[1:5]) != "7zXZ" {
		t.Errorf("--archive .tar.xz is not xz-compressed")
	}
	out, _, code = a.run("mktarball", "foo/1.0", "-k", tarK1, "--archive=named.tgz")
	if code != 0 || !strings.HasSuffix(out, "Tarball location: <root>/var/lib/dkms/foo/1.0/tarball//named.tgz\n") {
		t.Errorf("--archive without a directory: %d %q", code, out)
	}

	// Binaries only into a tree that has no source: loaded, not added, exit 1;
	// install still works for the loaded kernel (§6.11 step 10).
	c := emptyTree(t, tarK1)
	out, errOut, code = c.run("ldtarball", binArchive)
	if code != 1 {
		t.Fatalf("binaries-only without source: %d\n%s\n%s", code, out, errOut)
	}
	golden(t, "tarball_ldtarball_binaries_only", out+"--- stderr\n"+errOut)
	if st, _, _ := c.run("status"); st != "" {
		t.Errorf("status must not show a module without source: %q", st)
	}
	out, errOut, code = c.run("install", "foo/1.0", "-k", tarK1)
	if code != 0 || !strings.Contains(out, "Installing <root>/lib/modules/"+tarK1+"/updates/dkms/foo.ko\n") {
		t.Errorf("install of binaries-only load: %d\n%s\n%s", code, out, errOut)
	}

	// Binaries only into a tree that has the source (what a package does).
	d := fakeTree(t, false, tarK1)
	out, errOut, code = d.run("ldtarball", binArchive)
	wantD := "\nLoading tarball for foo/1.0\nLoading <root>/var/lib/dkms/foo/1.0/" + tarK1 + "/x86_64...\n" +
		"Creating symlink <root>/var/lib/dkms/foo/1.0/source -> <root>/usr/src/foo-1.0\n"
	if code != 0 || out != wantD || errOut != "" {
		t.Errorf("binaries-only with source: %d\n%s\nwant\n%s\n%s", code, out, wantD, errOut)
	}
	if st, _, _ := d.run("status"); st != "foo/1.0, "+tarK1+", x86_64: built\n" {
		t.Errorf("status %q", st)
	}
}

func TestTarballErrors(t *testing.T) {
	t.Parallel()
	testenv.RequireRoot(t)
	testenv.RequireTools(t, "make")
	a := fakeTree(t, true, tarK1)
	plain := writeTar(t, []tarEnt{{Name: "./pkg/"}, {Name: "./pkg/dkms.conf", Body: strings.ReplaceAll(fakeFooConf, "foo", "bar")},
		{Name: "./pkg/Makefile", Body: "all:\n"}})
	noConf := writeTar(t, []tarEnt{{Name: "./pkg/"}, {Name: "./pkg/Makefile", Body: "all:\n"}})
	noMainConf := writeTar(t, []tarEnt{{Name: "./dkms_main_tree/"}, {Name: "./dkms_source_tree/"}, {Name: "./dkms_source_tree/Makefile", Body: "all:\n"}})
	// Longer than a file name may be, so that even an implementation that
	// wrongly wrote to / could not leave a file there.
	rootArchive := strings.Repeat("x", 300) + ".tgz"
	garbage := t.TempDir() + "/junk.tar.gz"
	os.WriteFile(garbage, []byte("this is not an archive at all"), 0o644)
	tests := []struct {
		name   string
		env    *testEnv
		args   []string
		code   int
		stdout string
		stderr string
	}{
		{"mktarball without module", a, []string{"mktarball"}, 1, "",
			"\nError! Arguments <module> and <module-version> are not specified.\nUsage: mktarball <module>/<module-version> or\n" +
				"       mktarball -m <module>/<module-version> or\n       mktarball -m <module> -v <module-version>\n"},
		{"mktarball not added", a, []string{"mktarball", "nope/1.0"}, 3, "",
			"\nError! The module/version combo: nope/1.0 is not located in the DKMS tree.\n"},
		{"mktarball not built", a, []string{"mktarball", "foo/1.0", "-k", tarK2}, 6, "",
			"\nError! No modules built for " + tarK2 + " (x86_64).\nModules must already be in the built state before using mktarball.\n"},
		{"mktarball unwritable dir", a, []string{"mktarball", "foo/1.0", "-k", tarK1, "--archive=" + a.root + "/etc/os-release/x.tgz"}, 9,
			"Marking modules for " + tarK1 + " (x86_64) for archiving...\n\nMarking <root>/var/lib/dkms/foo/1.0/source for archiving...\n\nTarball location: <root>/etc/os-release/x.tgz\n",
			"\nError! Missing write permissions for <root>/etc/os-release.\n"},
		// --archive=/<name>: the directory part is empty, which upstream's
		// mkdir -p "" refuses (§6.10 step 8); nothing is written to /.
		{"mktarball archive in the empty directory", a, []string{"mktarball", "foo/1.0", "-k", tarK1, "--archive=/" + rootArchive}, 9,
			"Marking modules for " + tarK1 + " (x86_64) for archiving...\n\nMarking <root>/var/lib/dkms/foo/1.0/source for archiving...\n\nTarball location: /" + rootArchive + "\n",
			"\nError! Missing write permissions for .\n"},
		// A failed archive write is the die block alone: upstream runs tar
		// with 2>/dev/null (§6.10 step 9).
		{"mktarball archive name empty", a, []string{"mktarball", "foo/1.0", "-k", tarK1, "--archive=" + a.root + "/tmp/sub/"}, 6,
			"Marking modules for " + tarK1 + " (x86_64) for archiving...\n\nMarking <root>/var/lib/dkms/foo/1.0/source for archiving...\n\nTarball location: <root>/tmp/sub/\n",
			"\nError! Failed to make tarball.\n"},
		{"ldtarball missing archive", emptyTree(t), []string{"ldtarball", "--archive=/nonexistent.tgz"}, 2, "",
			"\nError! /nonexistent.tgz does not exist.\n"},
		{"ldtarball generic tarball", fakeTree(t, false), []string{"ldtarball", plain}, 0,
			"Creating symlink <root>/var/lib/dkms/bar/1.0/source -> <root>/usr/src/bar-1.0\n", ""},
		{"ldtarball no dkms.conf", emptyTree(t), []string{"ldtarball", noConf}, 3, "",
			"\nError! Tarball does not appear to be a correctly formed DKMS archive. No dkms.conf found within it.\n"},
		{"ldtarball mktarball layout without conf", emptyTree(t), []string{"ldtarball", noMainConf}, 7, "",
			"\nError! No valid dkms.conf in dkms_source_tree or dkms_binaries_only.\n" + noMainConf + " is not a valid DKMS tarball.\n"},
		{"ldtarball not an archive", emptyTree(t), []string{"ldtarball", garbage}, 3, "", ""},
	}
	for _, tc := range tests {
		out, errOut, code := tc.env.run(tc.args...)
		if tc.name == "ldtarball not an archive" {
			// Our reason stands where tar's complaint would (§6.11 steps 3-4).
			if code != tc.code || out != "" || !strings.HasPrefix(errOut, "extracting "+garbage+": ") ||
				!strings.HasSuffix(errOut, "\n\nError! Tarball does not appear to be a correctly formed DKMS archive. No dkms.conf found within it.\n") {
				t.Errorf("%s: %d %q %q", tc.name, code, out, errOut)
			}
			continue
		}
		if code != tc.code || out != tc.stdout || errOut != tc.stderr {
			t.Errorf("%s: exit %d (want %d)\nstdout:\n%s\nwant:\n%s\nstderr:\n%s\nwant:\n%s", tc.name, code, tc.code, out, tc.stdout, errOut, tc.stderr)
		}
	}
}

// tarEnt is one crafted archive member (the builder is shared with
// internal/tarball's tests).
type tarEnt = testenv.TarEntry

func writeTar(t *testing.T, ents []tarEnt) string { return testenv.WriteTarGz(t, ents) }

// TestLdTarballRefusesHostileArchives: every crafted archive is refused
// by the real binary, within the attack bound and without crashing, with
// exit 3 and a message naming the problem, and nothing is written anywhere
// in the system root (trees, temp dir).
func TestLdTarballRefusesHostileArchives(t *testing.T) {
	t.Parallel()
	testenv.RequireRoot(t)
	conf := func(name string) tarEnt {
		return tarEnt{Name: name, Body: fakeFooConf}
	}
	layout := []tarEnt{{Name: "./"}, {Name: "./dkms_main_tree/"}, {Name: "./dkms_source_tree/"}, conf("./dkms_source_tree/dkms.conf")}
	with := func(extra ...tarEnt) []tarEnt { return append(append([]tarEnt{}, layout...), extra...) }
	tests := []struct {
		name   string
		ents   []tarEnt
		reason string
	}{
		{"dot-dot member", with(tarEnt{Name: "./dkms_source_tree/../../../../etc/evil", Body: "x"}), `".."`},
		{"absolute member", with(tarEnt{Name: "/etc/evil", Body: "x"}), "absolute"},
		{"absolute symlink", with(tarEnt{Name: "./dkms_source_tree/l", Link: "/etc/shadow", Type: tar.TypeSymlink}), "absolute"},
		{"symlink out of the archive", with(tarEnt{Name: "./dkms_source_tree/l", Link: "../../etc", Type: tar.TypeSymlink}), "outside"},
		{"write through a symlink", with(tarEnt{Name: "./dkms_source_tree/l", Link: ".", Type: tar.TypeSymlink},
			tarEnt{Name: "./dkms_source_tree/l/x", Body: "x"}), "symbolic link"},
		{"hard link out of the archive", with(tarEnt{Name: "./dkms_source_tree/h", Link: "../../etc/passwd", Type: tar.TypeLink}), "outside the archive"},
		{"hard link to an absolute path", with(tarEnt{Name: "./dkms_source_tree/h", Link: "/etc/passwd", Type: tar.TypeLink}), "outside the archive"},
		{"character device", with(tarEnt{Name: "./dkms_source_tree/null", Type: tar.TypeChar}), "device"},
		{"block device", with(tarEnt{Name: "./dkms_main_tree/sda", Type: tar.TypeBlock}), "device"},
		{"fifo", with(tarEnt{Name: "./dkms_source_tree/p", Type: tar.TypeFifo}), "pipe"},
		{"oversized member", with(tarEnt{Name: "./dkms_source_tree/big", Size: 2 << 30}), "exceeds"},
		{"duplicate member", with(conf("./dkms_source_tree/dkms.conf")), "duplicate"},
		// Checks of the DKMS layout, on top of the archive-level ones.
		{"source link into the binaries", with(tarEnt{Name: "./dkms_source_tree/l", Link: "../dkms_main_tree", Type: tar.TypeSymlink}),
			"dkms_source_tree/l points outside its directory"},
		{"symlinked kernel directory", with(tarEnt{Name: "./dkms_main_tree/" + tarK1, Link: "../dkms_source_tree", Type: tar.TypeSymlink}),
			"dkms_main_tree/" + tarK1 + " is a symbolic link"},
		{"binary link to the source", with(tarEnt{Name: "./dkms_main_tree/" + tarK1 + "/"}, tarEnt{Name: "./dkms_main_tree/" + tarK1 + "/x86_64/"},
			tarEnt{Name: "./dkms_main_tree/" + tarK1 + "/x86_64/module", Link: "../../../dkms_source_tree", Type: tar.TypeSymlink}),
			"x86_64/module points outside its directory"},
		{"package name with a slash", []tarEnt{{Name: "./"}, {Name: "./dkms_main_tree/"}, {Name: "./dkms_binaries_only/"},
			{Name: "./dkms_binaries_only/dkms.conf", Body: strings.Replace(fakeFooConf, "PACKAGE_NAME=foo", "PACKAGE_NAME=../../../../tmp/evil", 1)}},
			`dkms_binaries_only/dkms.conf: PACKAGE_NAME "../../../../tmp/evil" contains '/'`},
		{"version dot-dot", []tarEnt{{Name: "./"}, {Name: "./dkms_main_tree/"}, {Name: "./dkms_binaries_only/"},
			{Name: "./dkms_binaries_only/dkms.conf", Body: strings.Replace(fakeFooConf, "PACKAGE_VERSION=1.0", "PACKAGE_VERSION=..", 1)}},
			`dkms_binaries_only/dkms.conf: PACKAGE_VERSION ".." is a relative directory name`},
		{"generic tarball with an escaping link", []tarEnt{{Name: "./src/"}, conf("./src/dkms.conf"), {Name: "./other/"},
			{Name: "./src/l", Link: "../other", Type: tar.TypeSymlink}}, "src/l points outside its directory"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := emptyTree(t, tarK1)
			archive := writeTar(t, tc.ents)
			before := testenv.Tree(t, e.root, ".dkms.lock")
			for _, args := range [][]string{{"ldtarball", archive}, {"add", "--archive=" + archive}, {"ldtarball", archive, "--force"}} {
				out, errOut, code := e.attack(archive, args...)
				wantHead := "\nError! Refusing to load <archive>: it is not a safe DKMS archive.\n"
				if code != 3 || out != "" || !strings.HasPrefix(errOut, wantHead) ||
					!strings.HasSuffix(errOut, "\nNothing was written to the DKMS tree.\n") || !strings.Contains(errOut, tc.reason) {
					t.Errorf("%v: exit %d, stdout %q\nstderr:\n%s\nwant exit 3 and a refusal mentioning %q", args, code, out, errOut, tc.reason)
				}
				if after := testenv.Tree(t, e.root, ".dkms.lock"); after != before {
					t.Errorf("%v wrote to the system root:\n%s\nbefore:\n%s", args, after, before)
				}
			}
			if _, err := os.Lstat("/tmp/evil"); err == nil {
				t.Errorf("/tmp/evil exists")
			}
		})
	}
}

// TestTarballInteropWithGNUTar: our archives list the same with GNU tar,
// and an archive GNU tar made the way upstream's mktarball does loads.
func TestTarballInteropWithGNUTar(t *testing.T) {
	t.Parallel()
	testenv.RequireRoot(t)
	testenv.RequireTools(t, "make", "tar")
	a := fakeTree(t, true, tarK1)
	if _, errOut, code := a.run("mktarball", "foo/1.0", "-k", tarK1, "--archive=ours.tar.gz"); code != 0 {
		t.Fatalf("mktarball: %d %s", code, errOut)
	}
	ours := a.dkms + "/foo/1.0/tarball/ours.tar.gz"
	listed, err := exec.Command("tar", "-tzf", ours).Output()
	if err != nil {
		t.Fatalf("GNU tar cannot read our archive: %v", err)
	}
	if got, want := string(listed), strings.Join(members(t, ours), "\n")+"\n"; got != want {
		t.Errorf("tar -tzf:\n%s\nwant\n%s", got, want)
	}

	// Upstream's layout, written by GNU tar: tar -C <tmp> -caf <name> .
	up := t.TempDir()
	for rel, body := range map[string]string{
		"dkms_main_tree/" + tarK1 + "/x86_64/module/foo.ko":  "upstream module\n",
		"dkms_main_tree/" + tarK1 + "/x86_64/log/make.log":   "log\n",
		"dkms_source_tree/dkms.conf":                         fakeFooConf,
		"dkms_source_tree/Makefile":                          "all:\n",
		"dkms_main_tree/" + tarK2 + "/x86_64/module/foo.ko":  "upstream module 2\n",
		"dkms_main_tree/" + tarK2 + "/x86_64/.dep_something": "",
	} {
		os.MkdirAll(filepath.Dir(up+"/"+rel), 0o755)
		os.WriteFile(up+"/"+rel, []byte(body), 0o644)
	}
	archive := t.TempDir() + "/foo-1.0-upstream.dkms.tar.xz"
	if out, err := exec.Command("tar", "-C", up, "-caf", archive, ".").CombinedOutput(); err != nil {
		t.Fatalf("tar: %v %s", err, out)
	}
	b := emptyTree(t, tarK1, tarK2)
	out, errOut, code := b.run("ldtarball", archive)
	if code != 0 || !strings.HasSuffix(out, "Creating symlink <root>/var/lib/dkms/foo/1.0/source -> <root>/usr/src/foo-1.0\n") {
		t.Fatalf("ldtarball of a GNU tar archive: %d\n%s\n%s", code, out, errOut)
	}
	for k, want := range map[string]string{tarK1: "upstream module\n", tarK2: "upstream module 2\n"} {
		if body, _ := os.ReadFile(b.dkms + "/foo/1.0/" + k + "/x86_64/module/foo.ko"); string(body) != want {
			t.Errorf("%s module %q, want %q", k, body, want)
		}
	}
	if _, err := os.Stat(b.dkms + "/foo/1.0/" + tarK2 + "/x86_64/.dep_something"); err != nil {
		t.Errorf(".dep_ file not loaded: %v", err)
	}
}

// TestRealModuleTarballRoundTrip compiles the example module for the
// Debian kernel in one tree, ships it with mktarball, and installs it in
// two other trees: one with the source, one with binaries only.
func TestRealModuleTarballRoundTrip(t *testing.T) {
	testenv.RequireRoot(t)
	testenv.RequireTools(t, "make", "gcc", "modinfo")
	k := testenv.DebianKernel(t)
	a := newEnv(t)
	a.realKernel(k)
	a.write("/etc/dkms/framework.conf", "sign_file=/nonexistent\n")
	a.module("dkms-hello", "1.0", helloConf, testenv.ExampleModule(t))
	if out, errOut, code := a.run("build", "dkms-hello/1.0", "-k", k); code != 0 {
		t.Fatalf("build: %d\n%s\n%s", code, out, errOut)
	}
	for _, args := range [][]string{
		{"mktarball", "dkms-hello/1.0", "-k", k, "--archive=" + a.root + "/full.tar.gz"},
		{"mktarball", "dkms-hello/1.0", "-k", k, "--binaries-only", "--archive=" + a.root + "/bin.tar.gz"},
	} {
		if out, errOut, code := a.run(args...); code != 0 {
			t.Fatalf("%v: %d\n%s\n%s", args, code, out, errOut)
		}
	}
	built, err := os.ReadFile(a.dkms + "/dkms-hello/1.0/" + k + "/x86_64/module/dkms_hello.ko")
	if err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		archive  string
		loadCode int
	}{{"full.tar.gz", 0}, {"bin.tar.gz", 1}} {
		b := newEnv(t)
		os.MkdirAll(b.inst+"/"+k, 0o755) // the kernel, but no headers and no source
		out, errOut, code := b.run("ldtarball", a.root+"/"+tc.archive)
		if code != tc.loadCode {
			t.Fatalf("ldtarball %s: %d (want %d)\n%s\n%s", tc.archive, code, tc.loadCode, out, errOut)
		}
		out, errOut, code = b.run("install", "dkms-hello/1.0", "-k", k)
		if code != 0 || !strings.Contains(out, "Installing <root>/lib/modules/"+k+"/updates/dkms/dkms_hello.ko\n") {
			t.Fatalf("install from %s: %d\n%s\n%s", tc.archive, code, out, errOut)
		}
		inst := b.inst + "/" + k + "/updates/dkms/dkms_hello.ko"
		got, _ := os.ReadFile(inst)
		if string(got) != string(built) {
			t.Errorf("%s: installed module differs from the one built in the first tree", tc.archive)
		}
		vers, err := exec.Command("modinfo", "-F", "vermagic", inst).Output()
		if err != nil || !strings.HasPrefix(string(vers), k+" ") {
			t.Errorf("%s: vermagic %q %v", tc.archive, vers, err)
		}
	}
}
