package shconf

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// directiveNames is the dkms.conf whitelist of the specification (§4.3).
var directiveNames = strings.Fields(`PACKAGE_NAME PACKAGE_VERSION POST_ADD POST_BUILD POST_INSTALL POST_REMOVE
PRE_BUILD PRE_INSTALL BUILD_DEPENDS BUILD_EXCLUSIVE_ARCH BUILD_EXCLUSIVE_CONFIG BUILD_EXCLUSIVE_KERNEL
BUILD_EXCLUSIVE_KERNEL_MIN BUILD_EXCLUSIVE_KERNEL_MAX OBSOLETE_BY MAKE MAKE_MATCH PATCH PATCH_MATCH
BUILT_MODULE_NAME BUILT_MODULE_LOCATION DEST_MODULE_NAME DEST_MODULE_LOCATION STRIP AUTOINSTALL
NO_WEAK_MODULES BUILD_DEPENDS_REBUILD CLEAN REMAKE_INITRD MODULES_CONF MODULES_CONF_OBSOLETES
MODULES_CONF_ALIAS_TYPE MODULES_CONF_OBSOLETE_ONLY`)

// corpusVars are the dkms shell variables a conf read sees (§4.1).
func corpusVars(t *testing.T, conf string) map[string]string {
	t.Helper()
	ksrc, err := filepath.Abs("testdata/kernel")
	if err != nil {
		t.Fatal(err)
	}
	vars := map[string]string{
		"kernelver":            "6.1.0-13-amd64",
		"arch":                 "x86_64",
		"kernel_source_dir":    ksrc,
		"kernel_config":        ksrc + "/.config",
		"dkms_tree":            "/var/lib/dkms",
		"source_tree":          "/usr/src",
		"install_tree":         "/lib/modules",
		"module":               "corpusmod",
		"module_version":       "9.9",
		"parallel_jobs":        "4",
		"running_distribution": "debian",
	}
	data, err := os.ReadFile(conf)
	if err != nil {
		t.Fatal(err)
	}
	if v, ok := strings.CutPrefix(string(data), "# kernelver: "); ok {
		vars["kernelver"], _, _ = strings.Cut(v, "\n")
	}
	return vars
}

// serialize renders results the way testdata/bashref.sh prints them.
func serialize(names []string, res map[string]Var) string {
	var b strings.Builder
	for _, n := range names {
		v := res[n]
		if !v.Set {
			continue
		}
		if !v.Array {
			fmt.Fprintf(&b, "%s[0]=%s\x00", n, v.Scalar)
			continue
		}
		idx := make([]int, 0, len(v.Elems))
		for i := range v.Elems {
			idx = append(idx, i)
		}
		slices.Sort(idx)
		for _, i := range idx {
			fmt.Fprintf(&b, "%s[%d]=%s\x00", n, i, v.Elems[i])
		}
	}
	return b.String()
}

// TestCorpusMatchesBash evaluates every testdata/corpus file with real bash
// (testdata/bashref.sh reads it in the three steps dkms does) and with
// EvalFile, and compares the whitelisted variables. Files named bad-* must
// fail on both sides.
func TestCorpusMatchesBash(t *testing.T) {
	t.Parallel()
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("bash not installed: the differential test needs the reference shell")
	}
	confs, err := filepath.Glob("testdata/corpus/*.conf")
	if err != nil || len(confs) < 40 {
		t.Fatalf("corpus has %d files, want at least 40 (%v)", len(confs), err)
	}
	ref, err := filepath.Abs("testdata/bashref.sh")
	if err != nil {
		t.Fatal(err)
	}
	for _, conf := range confs {
		t.Run(filepath.Base(conf), func(t *testing.T) {
			t.Parallel()
			abs, err := filepath.Abs(conf)
			if err != nil {
				t.Fatal(err)
			}
			vars := corpusVars(t, abs)
			tmp := t.TempDir()
			env := []string{"PATH=/usr/bin:/bin", "HOME=/nonexistent-home", "TMPDIR=" + tmp,
				"DKMS_TEST_ENV=fromenv", "LC_ALL=C"}
			var vf strings.Builder
			for k, v := range vars {
				fmt.Fprintf(&vf, "%s=%s\n", k, v)
			}
			varsFile := filepath.Join(tmp, "vars")
			if err := os.WriteFile(varsFile, []byte(vf.String()), 0o644); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, bash, append([]string{ref, varsFile, abs}, directiveNames...)...)
			cmd.Env = env
			var bout, berr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &bout, &berr
			if err := cmd.Run(); err != nil {
				t.Fatalf("bash reference failed: %v\n%s", err, berr.String())
			}

			var gerr bytes.Buffer
			res, err := EvalFile(ctx, abs, directiveNames, Options{Vars: vars, Env: env, Stderr: &gerr})
			if strings.HasPrefix(filepath.Base(conf), "bad-") {
				if !strings.Contains(berr.String(), "syntax error") && !strings.Contains(berr.String(), "unexpected EOF") {
					t.Errorf("bash did not report a syntax error: %q", berr.String())
				}
				if err == nil {
					t.Errorf("EvalFile succeeded on a malformed file: %q", serialize(directiveNames, res))
				}
				return
			}
			if err != nil {
				t.Fatalf("EvalFile: %v (stderr %q)", err, gerr.String())
			}
			got, want := serialize(directiveNames, res), bout.String()
			if got != want {
				t.Errorf("variables differ from bash\n got: %q\nwant: %q\nbash stderr: %q\nour stderr: %q",
					got, want, berr.String(), gerr.String())
			}
		})
	}
}
