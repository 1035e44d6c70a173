package corpus

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Auto is one autoinstall.sh run.
type Auto struct {
	Status                 int
	Wall, User, Sys        float64
	Installed, Pkgs, Cores int
	Log                    []string
}

// Ideal is the wall time of a run that kept every core busy: its CPU
// seconds over the cores.
func (a Auto) Ideal() float64 { return (a.User + a.Sys) / float64(a.Cores) }

// ParseAuto reads autoinstall.sh's output.
func ParseAuto(out string) (Auto, error) {
	a := Auto{Status: -1}
	for _, line := range strings.Split(out, "\n") {
		if l, ok := strings.CutPrefix(line, "corpus-log: "); ok {
			a.Log = append(a.Log, l)
			continue
		}
		f := strings.Fields(strings.TrimPrefix(line, "corpus: "))
		if !strings.HasPrefix(line, "corpus: ") || len(f) < 2 {
			continue
		}
		var err error
		switch f[0] {
		case "autoinstall":
			if len(f) != 5 {
				return a, fmt.Errorf("autoinstall line %q: want status, wall, user, sys", line)
			}
			if a.Status, err = strconv.Atoi(f[1]); err == nil {
				var v [3]float64
				for i := range v {
					if v[i], err = strconv.ParseFloat(f[2+i], 64); err != nil {
						break
					}
				}
				a.Wall, a.User, a.Sys = v[0], v[1], v[2]
			}
		case "installed":
			a.Installed, err = strconv.Atoi(f[1])
		case "packages":
			a.Pkgs, err = strconv.Atoi(f[1])
		case "cores":
			a.Cores, err = strconv.Atoi(f[1])
		case "error":
			return a, fmt.Errorf("autoinstall.sh: %s", strings.Join(f[1:], " "))
		}
		if err != nil {
			return a, fmt.Errorf("line %q: %w", line, err)
		}
	}
	if a.Status < 0 || a.Cores == 0 {
		return a, fmt.Errorf("autoinstall.sh printed no result")
	}
	return a, nil
}

// TestCorpusAutoinstall (DKMS_CORPUS_AUTOINSTALL=1, with DKMS_CORPUS
// choosing the packages) adds every package and installs all of them for
// one kernel in one autoinstall: dkms-autoinstall, then Debian's `dkms
// autoinstall`. It reports each side's wall time against the ideal (CPU
// seconds over cores); the figures go in docs/BENCHMARKS.md.
func TestCorpusAutoinstall(t *testing.T) {
	if os.Getenv("DKMS_CORPUS_AUTOINSTALL") != "1" {
		t.Skip("autoinstall of the whole corpus at once: set DKMS_CORPUS_AUTOINSTALL=1 and DKMS_CORPUS")
	}
	if os.Geteuid() != 0 {
		t.Fatal("the corpus autoinstall needs root (mount namespaces, overlays)")
	}
	pkgs := corpusPackages(t, os.Getenv("DKMS_CORPUS"))
	kernel := corpusKernel(t)
	cache := cacheDir(t)
	debs := fetchPackages(t, cache, pkgs)
	upstream := debianDkms(t, cache)
	ours := ourDkms(t)
	if _, err := os.Stat(filepath.Join(filepath.Dir(ours), "dkms-autoinstall")); err != nil {
		t.Fatalf("dkms-autoinstall beside %s: %v (DKMS_BIN_DIR=bin after make build)", ours, err)
	}
	var files []string
	for _, p := range pkgs {
		files = append(files, debs[p])
	}
	load, _ := os.ReadFile("/proc/loadavg")
	t.Logf("load average before: %s", strings.TrimSpace(string(load)))
	res := map[string]Auto{}
	for _, side := range []struct{ kind, dkms string }{{"ours", ours}, {"debian", upstream}} {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Hour)
		out, _ := exec.CommandContext(ctx, "unshare", append([]string{"-m", "--propagation", "private",
			"sh", "autoinstall.sh", side.kind, side.dkms, kernel}, files...)...).CombinedOutput()
		cancel()
		a, err := ParseAuto(string(out))
		if err != nil {
			t.Fatalf("%s: %v\n%s", side.kind, err, out)
		}
		res[side.kind] = a
		load, _ := os.ReadFile("/proc/loadavg")
		t.Logf("%s: status %d, %d of %d packages installed, wall %.1f s, CPU %.1f s (user %.1f, sys %.1f), ideal %.1f s on %d cores, wall/ideal %.2f; load average after: %s",
			side.kind, a.Status, a.Installed, a.Pkgs, a.Wall, a.User+a.Sys, a.User, a.Sys, a.Ideal(), a.Cores, a.Wall/a.Ideal(), strings.TrimSpace(string(load)))
		if a.Status != 0 {
			t.Errorf("%s autoinstall failed (%d):\n%s", side.kind, a.Status, strings.Join(a.Log, "\n"))
		}
	}
	if o, d := res["ours"], res["debian"]; o.Installed != d.Installed || o.Installed == 0 {
		t.Errorf("installed: ours %d, Debian's %d", o.Installed, d.Installed)
	}
}
