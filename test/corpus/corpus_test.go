package corpus

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// ciPackages run in CI (DKMS_CORPUS=ci): the ten of the CI list.
// dahdi's, jool's and openafs's take longest: their dkms.conf MAKE runs
// make without -j (dahdi's and openafs's start with a parenthesis, so
// neither dkms adds -j$parallel_jobs; jool's adds it to the first of three
// makes only), and openafs's configure runs hundreds of kernel conftests one
// after the other; beside a TCG guest (load 2-3) their builds took 78, 58
// and 359 s. DKMS_CORPUS=full (make corpus) adds fullPackages, the two most
// used DKMS packages, and runs Debian's dkms on every package too.
var (
	ciPackages = []string{"v4l2loopback-dkms", "acpi-call-dkms", "broadcom-sta-dkms", "r8168-dkms",
		"xtables-addons-dkms", "tp-smapi-dkms", "evdi-dkms", "dahdi-dkms", "jool-dkms", "openafs-modules-dkms"}
	fullPackages = []string{"zfs-dkms", "nvidia-kernel-dkms"}
)

// corpusPackages is the list DKMS_CORPUS (mode) and DKMS_CORPUS_ONLY select.
func corpusPackages(t *testing.T, mode string) []string {
	t.Helper()
	if only := os.Getenv("DKMS_CORPUS_ONLY"); only != "" {
		return strings.Fields(only)
	}
	switch mode {
	case "ci":
		return ciPackages
	case "full":
		return append(append([]string{}, ciPackages...), fullPackages...)
	}
	t.Fatalf("DKMS_CORPUS=%q: want ci or full", mode)
	return nil
}

// Result is one lifecycle run as lifecycle.sh reports it.
type Result struct {
	Module, Version string
	Steps           map[string]Step
	Order           []string
	Checks          map[string]string // name -> "ok" or the failure detail
	Finished        bool
	Errors, Log     []string
}

// Step is one dkms action: exit status and wall-clock seconds.
type Step struct {
	Status  int
	Seconds float64
}

// Parse reads lifecycle.sh's output.
func Parse(out string) Result {
	r := Result{Steps: map[string]Step{}, Checks: map[string]string{}}
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "corpus-error: "):
			r.Errors = append(r.Errors, strings.TrimPrefix(line, "corpus-error: "))
		case strings.HasPrefix(line, "corpus-log: "):
			r.Log = append(r.Log, strings.TrimPrefix(line, "corpus-log: "))
		case strings.HasPrefix(line, "corpus: "):
			f := strings.Fields(strings.TrimPrefix(line, "corpus: "))
			switch {
			case len(f) == 0:
			case f[0] == "finished":
				r.Finished = true
			case f[0] == "module" && len(f) == 3:
				r.Module, r.Version = f[1], f[2]
			case f[0] == "check" && len(f) >= 3:
				if f[2] == "ok" {
					r.Checks[f[1]] = "ok"
				} else {
					r.Checks[f[1]] = strings.Join(f[3:], " ")
					if r.Checks[f[1]] == "" {
						r.Checks[f[1]] = "FAIL"
					}
				}
			case len(f) == 3:
				st, err1 := strconv.Atoi(f[1])
				sec, err2 := strconv.ParseFloat(f[2], 64)
				if err1 == nil && err2 == nil {
					r.Steps[f[0]] = Step{st, sec}
					r.Order = append(r.Order, f[0])
				}
			}
		}
	}
	return r
}

// FailedStep is the first step with a non-zero status, or "".
func (r Result) FailedStep() string {
	for _, s := range r.Order {
		if r.Steps[s].Status != 0 {
			return s
		}
	}
	return ""
}

// run runs lifecycle.sh for one package with one dkms in a private mount
// namespace.
func run(t *testing.T, dkms, deb, kernel string) (Result, string) {
	t.Helper()
	// openafs's configure alone runs hundreds of kernel conftests.
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "unshare", "-m", "--propagation", "private",
		"sh", "lifecycle.sh", dkms, deb, kernel)
	out, _ := cmd.CombinedOutput()
	return Parse(string(out)), string(out)
}

func TestCorpus(t *testing.T) {
	mode := os.Getenv("DKMS_CORPUS")
	if mode == "" {
		t.Skip("corpus of Debian -dkms packages: set DKMS_CORPUS=ci or full (make corpus)")
	}
	if os.Geteuid() != 0 {
		t.Fatal("DKMS_CORPUS is set but the corpus test needs root (mount namespaces, overlays)")
	}
	pkgs := corpusPackages(t, mode)
	kernel := corpusKernel(t)
	cache := cacheDir(t)
	debs := fetchPackages(t, cache, pkgs)
	upstream := debianDkms(t, cache)
	ours := ourDkms(t)
	compare := mode == "full" || os.Getenv("DKMS_CORPUS_COMPARE") == "1"
	var rows []string
	for _, p := range pkgs {
		p := p
		t.Run(p, func(t *testing.T) {
			r, out := run(t, ours, debs[p], kernel)
			t.Logf("ours:\n%s", out)
			var u Result
			ran := false
			if compare || r.FailedStep() != "" || !r.Finished {
				u, out = run(t, upstream, debs[p], kernel)
				ran = true
				t.Logf("Debian's dkms:\n%s", out)
			}
			rows = append(rows, row(p, r, u, ran))
			if f := r.FailedStep(); f != "" || !r.Finished {
				// A package that does not build against this kernel is
				// acceptable only when Debian's dkms fails it the same way.
				if uf := u.FailedStep(); uf == f && f != "" {
					t.Logf("%s: %s fails with both implementations (status %d, Debian's %d): %s",
						p, f, r.Steps[f].Status, u.Steps[f].Status, strings.Join(r.Errors, " | "))
					return
				}
				t.Errorf("%s: ours failed at %q (finished %v), Debian's dkms at %q", p, f, r.Finished, u.FailedStep())
				return
			}
			for name, v := range r.Checks {
				if v != "ok" {
					t.Errorf("%s: check %s: %s", p, name, v)
				}
			}
			for _, need := range []string{"status-installed", "built-modules", "tree-clean"} {
				if r.Checks[need] == "" {
					t.Errorf("%s: check %s was not run", p, need)
				}
			}
		})
	}
	t.Logf("results (kernel %s):\n| package | module | ours: build / install / status / uninstall / remove (s) | Debian's dkms (s) | result |\n|---|---|---|---|---|\n%s",
		kernel, strings.Join(rows, "\n"))
	if p := os.Getenv("DKMS_CORPUS_REPORT"); p != "" {
		if err := os.WriteFile(p, []byte(strings.Join(rows, "\n")+"\n"), 0o644); err != nil {
			t.Error(err)
		}
	}
}

func row(pkg string, r, u Result, ran bool) string {
	times := func(r Result) string {
		var f []string
		for _, s := range []string{"build", "install", "status", "uninstall", "remove"} {
			if st, ok := r.Steps[s]; ok {
				f = append(f, fmt.Sprintf("%.2f", st.Seconds))
			} else {
				f = append(f, "-")
			}
		}
		return strings.Join(f, " / ")
	}
	result := "ok"
	if f := r.FailedStep(); f != "" {
		result = fmt.Sprintf("%s failed (%d): %s", f, r.Steps[f].Status, strings.Join(r.Errors, "; "))
	} else if !r.Finished {
		result = "did not finish"
	}
	for name, v := range r.Checks {
		if v != "ok" && result == "ok" {
			result = "check " + name + " failed: " + v
		}
	}
	theirs := "not run"
	if ran {
		theirs = times(u)
		if f := u.FailedStep(); f != "" {
			theirs += fmt.Sprintf(" (%s failed, %d)", f, u.Steps[f].Status)
		}
	}
	return fmt.Sprintf("| %s | %s/%s | %s | %s | %s |", pkg, r.Module, r.Version, times(r), theirs, result)
}
