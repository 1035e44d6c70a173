package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dkms-go/dkms/internal/testenv"
)

// TestHostileConfEndToEnd runs the real dkms binary (built without cgo, as
// shipped) on hostile dkms.conf files from internal/shconf/testdata/hostile,
// with the default trees: inside `unshare -m`, tmpfs over /var/lib/dkms,
// /usr/src and /etc/dkms (on overlays of /etc and /var/lib), so the
// machine's own are never touched. Each row
// asserts that the sentinel outside the namespace and /etc/dkms/framework.conf
// inside it are unchanged, that dkms ended within its bound, and that it
// exited 0 (the conf evaluated, harmlessly) or 8 with the Bad conf block,
// never with a crash.
func TestHostileConfEndToEnd(t *testing.T) {
	testenv.RequireRoot(t)
	testenv.RequireTools(t, "unshare", "mount")
	if err := exec.Command("unshare", "-m", "true").Run(); err != nil {
		t.Skipf("cannot create a mount namespace: %v", err)
	}
	bin := testenv.Binary(t, ".", "dkms")
	tests := []struct {
		file   string
		exit8  string        // "" = exit 0 or 8; else exit 8 with this text on stderr
		within time.Duration // 0 = the 25 s bound of every row
	}{
		{"sort-compress-prog.conf", "", 0},
		{"sed-in-pl.conf", "", 0},
		{"sort-outp.conf", "", 0},
		{"awk-system.conf", "", 0},
		{"framework-rewrite.conf", "", 0},
		{"cat-fifo.conf", "timed out", 0},
		// Memory bombs end by the memory bound, well before the 10 s
		// deadline of the conf.
		{"doubling.conf", "evaluation ran out of memory", 5 * time.Second},
		{"doubling-lines.conf", "evaluation ran out of memory", 5 * time.Second},
		{"cat-dev-zero.conf", "evaluation ran out of memory", 5 * time.Second},
		{"redirect.conf", "is not allowed", 0},
		{"function-shadow.conf", `command "touch" is not allowed`, 0},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			t.Parallel()
			work := t.TempDir()
			sentinel := filepath.Join(work, "sentinel")
			fifo := filepath.Join(work, "fifo")
			if err := os.WriteFile(sentinel, []byte("orig\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			if err := exec.Command("mkfifo", fifo).Run(); err != nil {
				t.Fatal(err)
			}
			body, err := os.ReadFile(filepath.Join("../../internal/shconf/testdata/hostile", tt.file))
			if err != nil {
				t.Fatal(err)
			}
			target := sentinel
			if tt.file == "framework-rewrite.conf" {
				target = "/etc/dkms/framework.conf"
			}
			conf := "SENTINEL=" + target + "\nFIFO=" + fifo + "\nSRCDIR=/usr/src/evil-1.0\n" + string(body) +
				"\nPACKAGE_VERSION=1.0\nBUILT_MODULE_NAME[0]=evil\nDEST_MODULE_LOCATION[0]=/updates\n"
			confFile := filepath.Join(work, "dkms.conf")
			if err := os.WriteFile(confFile, []byte(conf), 0o644); err != nil {
				t.Fatal(err)
			}
			script := `set -e
# /etc and /var/lib become overlays on a tmpfs, so /etc/dkms and
# /var/lib/dkms can be made whether or not the machine has them.
mount -t tmpfs tmpfs "$3"
for d in /etc /var/lib; do
	n=$(echo "$d" | tr / _)
	mkdir "$3/u$n" "$3/w$n"
	mount -t overlay overlay -o "lowerdir=$d,upperdir=$3/u$n,workdir=$3/w$n" "$d"
done
mkdir -p /etc/dkms /var/lib/dkms
for d in /var/lib/dkms /usr/src /etc/dkms; do mount -t tmpfs tmpfs "$d"; done
echo 'verbose=""' >/etc/dkms/framework.conf
mkdir /usr/src/evil-1.0
cp "$2" /usr/src/evil-1.0/dkms.conf
set +e
"$1" add -m evil -v 1.0
echo "exit=$?"
echo "framework=$(cat /etc/dkms/framework.conf)"
`
			cmd := exec.Command("unshare", "-m", "--propagation", "private", "sh", "-c", script, "sh", bin, confFile, t.TempDir())
			cmd.Env = append(testenv.CleanEnv(), "PATH=/usr/sbin:/usr/bin:/sbin:/bin")
			var out, errb bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &errb
			start := time.Now()
			if err := cmd.Run(); err != nil {
				t.Fatalf("%v\n%s%s", err, out.String(), errb.String())
			}
			bound := 25 * time.Second
			if tt.within > 0 {
				bound = tt.within
			}
			if d := time.Since(start); d > bound {
				t.Errorf("dkms took %v, bound %v", d, bound)
			}
			if b, _ := os.ReadFile(sentinel); string(b) != "orig\n" {
				t.Errorf("sentinel changed: %q", b)
			}
			o, e := out.String(), errb.String()
			if !strings.Contains(o, `framework=verbose=""`) {
				t.Errorf("/etc/dkms/framework.conf changed:\n%s", o)
			}
			if strings.Contains(e, "panic") || strings.Contains(e, "fatal error") || strings.Contains(e, "goroutine ") {
				t.Errorf("dkms crashed:\n%s", e)
			}
			t.Logf("%s%s", o, e)
			code8 := strings.Contains(o, "exit=8")
			bad := strings.Contains(e, "Error! Bad conf file.") && strings.Contains(e, "does not represent a valid dkms.conf file.")
			switch {
			case tt.exit8 == "":
				if !strings.Contains(o, "exit=0") && !(code8 && bad) {
					t.Errorf("want exit 0, or 8 with the Bad conf block:\n%s%s", o, e)
				}
			default:
				if !code8 || !bad || !strings.Contains(e, tt.exit8) || !strings.Contains(e, "/usr/src/evil-1.0/dkms.conf") {
					t.Errorf("want exit 8, the Bad conf block and %q naming the file:\n%s%s", tt.exit8, o, e)
				}
			}
		})
	}
}
