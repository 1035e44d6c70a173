package corpus

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"
)

// corpusKernel is DKMS_CORPUS_KERNEL or the newest kernel with headers.
func corpusKernel(t *testing.T) string {
	t.Helper()
	if k := os.Getenv("DKMS_CORPUS_KERNEL"); k != "" {
		return k
	}
	dirs, _ := filepath.Glob("/lib/modules/*/build/include")
	if len(dirs) == 0 {
		t.Fatal("no kernel headers in /lib/modules/*/build (Debian package linux-headers-amd64)")
	}
	sort.Strings(dirs)
	return filepath.Base(filepath.Dir(filepath.Dir(dirs[len(dirs)-1])))
}

func cacheDir(t *testing.T) string {
	t.Helper()
	d := os.Getenv("DKMS_CORPUS_CACHE")
	if d == "" {
		d = "/var/cache/dkms-corpus"
	}
	if err := os.MkdirAll(d, 0o755); err != nil {
		t.Fatal(err)
	}
	return d
}

func apt(ctx context.Context, dir string, env []string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, "apt-get", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	return cmd.CombinedOutput()
}

// fetchPackages downloads each package's .deb into cache (kept between
// runs) with apt-get download: from the system's archive for main, and for
// contrib and non-free through a private apt configuration whose sources are
// the system's Debian archive with those components, and whose lists and
// cache live below cache. The system's sources and state are never changed.
func fetchPackages(t *testing.T, cache string, pkgs []string) map[string]string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	debs := map[string]string{}
	var private []string
	for _, p := range pkgs {
		if m, _ := filepath.Glob(filepath.Join(cache, p+"_*.deb")); len(m) > 0 {
			debs[p] = m[len(m)-1]
			continue
		}
		if out, err := apt(ctx, cache, nil, "download", "-q", p); err != nil {
			t.Logf("%s not in the system's archive (%v): trying contrib and non-free\n%s", p, err, out)
			private = append(private, p)
			continue
		}
		m, _ := filepath.Glob(filepath.Join(cache, p+"_*.deb"))
		if len(m) == 0 {
			t.Fatalf("apt-get download %s left no .deb in %s", p, cache)
		}
		debs[p] = m[len(m)-1]
	}
	if len(private) > 0 {
		env := privateAPT(t, ctx, cache)
		if out, err := apt(ctx, cache, env, append([]string{"download", "-q"}, private...)...); err != nil {
			t.Fatalf("apt-get download %s (contrib, non-free): %v\n%s", strings.Join(private, " "), err, out)
		}
		for _, p := range private {
			m, _ := filepath.Glob(filepath.Join(cache, p+"_*.deb"))
			if len(m) == 0 {
				t.Fatalf("apt-get download %s left no .deb", p)
			}
			debs[p] = m[len(m)-1]
		}
	}
	return debs
}

// privateAPT writes the apt configuration for contrib and non-free and
// updates its lists; it returns the environment that selects it.
func privateAPT(t *testing.T, ctx context.Context, cache string) []string {
	t.Helper()
	dir := filepath.Join(cache, "apt")
	for _, d := range []string{"sources.list.d", "lists/partial", "archives/partial", "state"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	uri, suite, keyring := systemArchive(t)
	src := "Types: deb\nURIs: " + uri + "\nSuites: " + suite + "\nComponents: contrib non-free\n"
	if keyring != "" {
		src += "Signed-By: " + keyring + "\n"
	}
	files := map[string]string{
		"sources.list.d/corpus.sources": src,
		"sources.list":                  "",
		"apt.conf": "Dir::Etc::sourcelist \"" + dir + "/sources.list\";\n" +
			"Dir::Etc::sourceparts \"" + dir + "/sources.list.d\";\n" +
			"Dir::State \"" + dir + "/state\";\n" +
			"Dir::State::Lists \"" + dir + "/lists\";\n" +
			"Dir::Cache \"" + dir + "\";\n" +
			"Dir::Cache::archives \"" + dir + "/archives\";\n",
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	env := []string{"APT_CONFIG=" + filepath.Join(dir, "apt.conf")}
	if out, err := apt(ctx, cache, env, "update", "-q"); err != nil {
		t.Fatalf("apt-get update (private contrib/non-free lists): %v\n%s", err, out)
	}
	return env
}

// systemArchive finds the system's Debian archive: the URI, codename and
// keyring of its first deb822 stanza (or one-line entry) for the release's
// own suite.
func systemArchive(t *testing.T) (uri, suite, keyring string) {
	t.Helper()
	codename := ""
	if data, err := os.ReadFile("/etc/os-release"); err == nil {
		for _, l := range strings.Split(string(data), "\n") {
			if v, ok := strings.CutPrefix(l, "VERSION_CODENAME="); ok {
				codename = strings.Trim(v, `"`)
			}
		}
	}
	if codename == "" {
		t.Fatal("no VERSION_CODENAME in /etc/os-release")
	}
	files, _ := filepath.Glob("/etc/apt/sources.list.d/*.sources")
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		for _, stanza := range strings.Split(string(data), "\n\n") {
			fields := map[string]string{}
			sc := bufio.NewScanner(strings.NewReader(stanza))
			for sc.Scan() {
				if k, v, ok := strings.Cut(sc.Text(), ":"); ok && !strings.HasPrefix(k, "#") {
					fields[strings.TrimSpace(k)] = strings.TrimSpace(v)
				}
			}
			for _, s := range strings.Fields(fields["Suites"]) {
				if s == codename && fields["URIs"] != "" {
					return strings.Fields(fields["URIs"])[0], codename, fields["Signed-By"]
				}
			}
		}
	}
	if data, err := os.ReadFile("/etc/apt/sources.list"); err == nil {
		for _, l := range strings.Split(string(data), "\n") {
			f := strings.Fields(l)
			if len(f) >= 3 && f[0] == "deb" && !strings.HasPrefix(f[1], "[") && f[2] == codename {
				return f[1], codename, ""
			}
		}
	}
	t.Fatalf("no apt source for %s in /etc/apt", codename)
	return
}

// debianDkms unpacks Debian's dkms into a scratch prefix (never installed)
// and returns its program.
func debianDkms(t *testing.T, cache string) string {
	t.Helper()
	prog := filepath.Join(cache, "debian-dkms", "usr", "sbin", "dkms")
	if _, err := os.Stat(prog); err == nil {
		return prog
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if out, err := apt(ctx, cache, nil, "download", "-q", "dkms"); err != nil {
		t.Fatalf("apt-get download dkms: %v\n%s", err, out)
	}
	m, _ := filepath.Glob(filepath.Join(cache, "dkms_*.deb"))
	if len(m) == 0 {
		t.Fatal("apt-get download dkms left no .deb")
	}
	if out, err := exec.Command("dpkg-deb", "-x", m[len(m)-1], filepath.Join(cache, "debian-dkms")).CombinedOutput(); err != nil {
		t.Fatalf("dpkg-deb -x: %v\n%s", err, out)
	}
	return prog
}

// ourDkms is DKMS_BIN_DIR/dkms or a fresh static build.
func ourDkms(t *testing.T) string {
	t.Helper()
	if d := os.Getenv("DKMS_BIN_DIR"); d != "" {
		return filepath.Join(d, "dkms")
	}
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "build", "-o", dir+"/dkms", "../../cmd/dkms")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/dkms: %v\n%s", err, out)
	}
	return filepath.Join(dir, "dkms")
}
