package vm

import (
	"context"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The migration scenario installs packages with apt inside a guest that has
// no network. The host resolves what the guest lacks against the image's own
// dpkg status file (read with debugfs, nothing mounted), fetches it with
// apt-get download and indexes it as a flat repository that the guest finds
// on its disk as file:/srv/vmtest-repo.

// guestStatus copies /var/lib/dpkg/status out of the ext4 image.
func guestStatus(t *testing.T, image string) string {
	t.Helper()
	out, err := exec.Command("debugfs", "-R", "cat /var/lib/dpkg/status", image).Output()
	if err != nil || len(out) == 0 {
		t.Fatalf("debugfs cat /var/lib/dpkg/status from %s: %v", image, err)
	}
	p := filepath.Join(t.TempDir(), "status")
	if err := os.WriteFile(p, out, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// guestAPT runs apt-get as the guest would see the archive: the host's
// package lists and sources, but the guest's dpkg status and a private
// state and cache directory, so the host's own package state is neither
// read nor locked.
func guestAPT(t *testing.T, status string, args ...string) *exec.Cmd {
	t.Helper()
	dir := t.TempDir()
	for _, d := range []string{"state/lists/partial", "cache/archives/partial"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	conf := "Dir::State \"" + dir + "/state\";\n" +
		"Dir::State::status \"" + status + "\";\n" +
		"Dir::State::Lists \"/var/lib/apt/lists\";\n" +
		"Dir::Cache \"" + dir + "/cache\";\n" +
		"APT::Install-Recommends \"false\";\n"
	if err := os.WriteFile(filepath.Join(dir, "apt.conf"), []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("apt-get", args...)
	cmd.Env = append(os.Environ(), "APT_CONFIG="+filepath.Join(dir, "apt.conf"))
	return cmd
}

// debFile is one package apt would download: its file name in the pool
// and the name=version apt-get download takes.
type debFile struct{ file, spec string }

// resolveForGuest lists the .deb files an `apt-get install pkgs` in the
// guest needs (the packages and every dependency the image lacks).
func resolveForGuest(t *testing.T, status string, pkgs ...string) []debFile {
	t.Helper()
	out, err := guestAPT(t, status, append([]string{"--print-uris", "-qq", "install"}, pkgs...)...).Output()
	if err != nil {
		t.Fatalf("apt-get --print-uris install %s (against the image's dpkg status): %v", strings.Join(pkgs, " "), err)
	}
	var debs []debFile
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 || !strings.HasSuffix(f[1], ".deb") {
			continue
		}
		parts := strings.Split(strings.TrimSuffix(f[1], ".deb"), "_")
		if len(parts) != 3 {
			t.Fatalf("unexpected package file name %q", f[1])
		}
		version, err := url.PathUnescape(parts[1]) // an epoch's ':' is %3a
		if err != nil {
			t.Fatal(err)
		}
		debs = append(debs, debFile{file: f[1], spec: parts[0] + "=" + version})
	}
	if len(debs) == 0 {
		t.Fatalf("apt resolved nothing to download for %s", strings.Join(pkgs, " "))
	}
	return debs
}

// fetchDebs makes sure every file is in cache (downloading with apt-get
// download what neither cache nor the extra directories hold) and returns
// their paths.
func fetchDebs(t *testing.T, cache string, debs []debFile, extra ...string) []string {
	t.Helper()
	if err := os.MkdirAll(cache, 0o755); err != nil {
		t.Fatal(err)
	}
	var paths, missing []string
	for _, d := range debs {
		p := filepath.Join(cache, d.file)
		for _, dir := range extra {
			if _, err := os.Stat(filepath.Join(dir, d.file)); err == nil {
				p = filepath.Join(dir, d.file)
			}
		}
		if _, err := os.Stat(p); err != nil {
			missing = append(missing, d.spec)
		}
		paths = append(paths, p)
	}
	if len(missing) > 0 {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, "apt-get", append([]string{"download", "-q"}, missing...)...)
		cmd.Dir = cache
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("apt-get download %s: %v\n%s", strings.Join(missing, " "), err, out)
		}
	}
	return paths
}

// writeRepo copies debs into dir and indexes them as a flat repository
// (Packages by dpkg-scanpackages, Release by apt-ftparchive).
func writeRepo(t *testing.T, dir string, debs []string) {
	t.Helper()
	for _, d := range debs {
		if err := copyFile(d, filepath.Join(dir, filepath.Base(d)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	scan := exec.Command("dpkg-scanpackages", "--multiversion", ".")
	scan.Dir = dir
	pkgs, err := scan.Output()
	if err != nil {
		t.Fatalf("dpkg-scanpackages: %v", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "Packages"), pkgs, 0o644); err != nil {
		t.Fatal(err)
	}
	rel := exec.Command("apt-ftparchive", "release", ".")
	rel.Dir = dir
	release, err := rel.Output()
	if err != nil {
		t.Fatalf("apt-ftparchive release (package apt-utils): %v", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "Release"), release, 0o644); err != nil {
		t.Fatal(err)
	}
}

// dkmsGoDeb returns our package: DKMS_DEB if set, else built by make deb's
// script (dpkg-buildpackage and lintian, about a minute).
func dkmsGoDeb(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("DKMS_DEB"); p != "" {
		return p
	}
	root := repoRoot(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	start := time.Now()
	cmd := exec.CommandContext(ctx, "sh", "scripts/deb.sh")
	cmd.Dir = root
	// The package's own unit tests are make test's business here.
	cmd.Env = append(os.Environ(), "DEB_BUILD_OPTIONS=nocheck")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("scripts/deb.sh (make deb): %v\n%s", err, out)
	}
	t.Logf("make deb took %s", time.Since(start).Round(time.Second))
	m, _ := filepath.Glob(filepath.Join(root, "dist", "dkms-go_*.deb"))
	if len(m) != 1 {
		t.Fatalf("make deb left %d packages in dist/, want 1", len(m))
	}
	return m[0]
}

// zstdDeb returns deb repacked with its members compressed by zstd -1
// instead of xz: the same control data, maintainer scripts and files
// (dpkg-deb -R, then dpkg-deb -b), built once into a zstd/ directory beside
// it. Under TCG the guest's xz took most of unpacking the kernel image
// (natively 5.9 s of CPU for its 411 MB of data, zstd 0.5 s); it is no part of
// what the scenario tests. The repository's index is made from the repacked
// file, so apt's checks hold.
func zstdDeb(t *testing.T, deb string) string {
	t.Helper()
	out := filepath.Join(filepath.Dir(deb), "zstd", filepath.Base(deb))
	if fi, err := os.Stat(out); err == nil {
		if di, err := os.Stat(deb); err == nil && !fi.ModTime().Before(di.ModTime()) {
			return out
		}
	}
	start := time.Now()
	tree := filepath.Join(t.TempDir(), "tree")
	if b, err := exec.Command("dpkg-deb", "-R", deb, tree).CombinedOutput(); err != nil {
		t.Fatalf("dpkg-deb -R %s: %v\n%s", deb, err, b)
	}
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		t.Fatal(err)
	}
	tmp := out + ".tmp"
	if b, err := exec.Command("dpkg-deb", "--root-owner-group", "-Zzstd", "-z1", "-b", tree, tmp).CombinedOutput(); err != nil {
		t.Fatalf("dpkg-deb -b %s: %v\n%s", tmp, err, b)
	}
	if err := os.Rename(tmp, out); err != nil {
		t.Fatal(err)
	}
	t.Logf("%s repacked with zstd in %s", filepath.Base(deb), time.Since(start).Round(time.Second))
	return out
}
