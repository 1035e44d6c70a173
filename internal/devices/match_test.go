package devices

import (
	"bufio"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dkms-go/dkms/internal/testenv"
)

var matchTests = []struct {
	pattern, alias string
	want           bool
}{
	// Real-world module aliases.
	{"pci:v00008086d*sv*sd*bc*sc*i*", "pci:v00008086d000015BCsv000017AAsd00002292bc02sc00i00", true},
	{"pci:v00008086d*sv*sd*bc*sc*i*", "pci:v000010DEd000015BCsv000017AAsd00002292bc02sc00i00", false},
	{"pci:v*d*sv*sd*bc0Csc03i30*", "pci:v00008086d0000A36Dsv00001028sd0000085Abc0Csc03i30", true},
	{"pci:v*d*sv*sd*bc0Csc03i30*", "pci:v00008086d0000A36Dsv00001028sd0000085Abc0Csc03i20", false},
	{"usb:v0BDAp8179d*dc*dsc*dp*ic*isc*ip*in*", "usb:v0BDAp8179d0000dc00dsc00dp00icFFiscFFipFFin00", true},
	{"usb:v0BDAp8179d*dc*dsc*dp*ic*isc*ip*in*", "usb:v0BDAp8178d0000dc00dsc00dp00icFFiscFFipFFin00", false},
	{"usb:v*p*d*dc*dsc*dp*ic03isc01ip01in*", "usb:v046Dp C52Bd1211dc00dsc00dp00ic03isc01ip01in00", true},
	{"usb:v1D6Bp0002d0[0-5]*dc*", "usb:v1D6Bp0002d0510dc09", true},
	{"usb:v1D6Bp0002d0[0-4]*dc*", "usb:v1D6Bp0002d0510dc09", false},
	{"usb:v0A5Cp21E8d*dc*dsc*dp*icFFisc01ip01in*", "usb:v0A5Cp21E8d0112dcFFdsc01dp01icFFisc01ip01in00", true},
	{"dmi*:svn*LENOVO*:pn*:*", "dmi:bvnLENOVO:bvrN2HET50W(1.33):svnLENOVO:pn20QDCTO1WW:pvrThinkPad:", true},
	{"dmi*:svn*LENOVO*:pn*:*", "dmi:bvnDell:svnDell Inc.:pnXPS 13:", false},
	{"dmi*:svnLENOVO:pn*:pvrThinkPad*:*", "dmi:bvnLENOVO:svnLENOVO:pn20QD:pvrThinkPad X1/Carbon:rvn", true},
	{"acpi*:PNP0C0A:*", "acpi:PNP0C0A:", true},
	{"acpi*:PNP0C0A:*", "acpi:ACPI0003:PNP0C0A:", true},
	{"acpi*:PNP0C0A:*", "acpi:PNP0C0B:", false},
	{"of:N*T*Cnvidia,tegra210-gpu", "of:NgpuT(null)Cnvidia,tegra210-gpu", true},
	{"of:N*T*Cnvidia,tegra210-gpuC*", "of:NgpuT(null)Cnvidia,tegra210-gpuCnvidia,gk20a", true},
	{"of:N*T*Cnvidia,tegra210-gpu", "of:NgpuT(null)Cnvidia,tegra210-gpuCnvidia,gk20a", false},
	{"platform:serial8250", "platform:serial8250", true},
	{"input:b*v*p*e*-e*1,*k*110,*", "input:b0003v046Dp4024e0111-e0,1,2,4,k71,72,110,111,ram4,lsfw", true},
	// Wildcards cross "/" and leading dots: no FNM_PATHNAME or FNM_PERIOD.
	{"a*b", "a/x/b", true},
	{"a?b", "a/b", true},
	{"*", ".hidden", true},
	{"?x", ".x", true},
	// Basics.
	{"", "", true},
	{"", "a", false},
	{"*", "", true},
	{"**", "abc", true},
	{"a*", "", false},
	{"abc", "abc", true},
	{"abc", "abd", false},
	{"abc", "ab", false},
	{"ab", "abc", false},
	{"a*c", "abbbbc", true},
	{"a*c", "abbbbcd", false},
	{"a*b*c", "aXbYbZc", true},
	{"*a*a*a*a*a*b", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", false},
	{"??", "a", false},
	{"?*?", "ab", true},
	// Bracket expressions.
	{"[abc]", "b", true},
	{"[abc]", "d", false},
	{"[!abc]", "d", true},
	{"[^abc]", "a", false},
	{"[a-c]x", "bx", true},
	{"[a-c]x", "dx", false},
	{"[]]", "]", true},
	{"[!]]", "]", false},
	{"[!]]", "a", true},
	{"[a-]", "-", true},
	{"[-a]", "-", true},
	{"[[:digit:]][[:upper:]]", "7Q", true},
	{"[[:digit:]][[:upper:]]", "7q", false},
	{"[[:xdigit:]]", "f", true},
	{"[[:xdigit:]]", "g", false},
	{"[[:alpha:][:digit:]]", "5", true},
	{"[[:space:]]", " ", true},
	{"[[:punct:]]", ",", true},
	{"[[.a.]]", "a", true},
	{"[[=b=]]", "b", true},
	{"[\\]]", "]", true},
	{"[a\\-z]", "m", false},
	{"[a\\-z]", "-", true},
	{"[z-a]", "m", false},
	// Unterminated brackets are literal.
	{"[abc", "[abc", true},
	{"[abc", "a", false},
	{"x[", "x[", true},
	// Escapes.
	{"\\*", "*", true},
	{"\\*", "a", false},
	{"a\\?c", "a?c", true},
	{"a\\?c", "abc", false},
	{"\\a", "a", true},
	{"a\\", "a\\", false},
}

func TestMatch(t *testing.T) {
	t.Parallel()
	for _, tt := range matchTests {
		if got := Match(tt.pattern, tt.alias); got != tt.want {
			t.Errorf("Match(%q, %q) = %v, want %v", tt.pattern, tt.alias, got, tt.want)
		}
	}
}

// fnmatchHelper compiles a tiny C program around glibc's fnmatch(3), the
// function kmod itself calls, for differential testing.
func fnmatchHelper(t *testing.T) string {
	t.Helper()
	gcc, err := exec.LookPath("gcc")
	if err != nil {
		t.Skip("gcc not installed; cannot build the fnmatch reference")
	}
	dir := t.TempDir()
	src := filepath.Join(dir, "fnm.c")
	prog := `#include <fnmatch.h>
#include <stdio.h>
#include <string.h>
int main(void) {
	static char p[65536], s[65536];
	while (fgets(p, sizeof p, stdin) && fgets(s, sizeof s, stdin)) {
		p[strcspn(p, "\n")] = 0;
		s[strcspn(s, "\n")] = 0;
		puts(fnmatch(p, s, 0) == 0 ? "1" : "0");
	}
	return 0;
}
`
	if err := os.WriteFile(src, []byte(prog), 0o644); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "fnm")
	if out, err := exec.Command(gcc, "-O2", "-o", bin, src).CombinedOutput(); err != nil {
		t.Fatalf("building fnmatch helper: %v\n%s", err, out)
	}
	return bin
}

// reference asks glibc about every (pattern, alias) pair.
func reference(t *testing.T, bin string, pairs [][2]string) []bool {
	t.Helper()
	var in strings.Builder
	for _, p := range pairs {
		fmt.Fprintf(&in, "%s\n%s\n", p[0], p[1])
	}
	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	cmd.Stdin = strings.NewReader(in.String())
	out, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	var res []bool
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	for sc.Scan() {
		res = append(res, sc.Text() == "1")
	}
	if len(res) != len(pairs) {
		t.Fatalf("reference answered %d of %d pairs", len(res), len(pairs))
	}
	return res
}

// TestMatchAgainstGlibc checks the table and every alias pattern of the
// installed kernel's modules.alias against present-looking aliases.
func TestMatchAgainstGlibc(t *testing.T) {
	t.Parallel()
	bin := fnmatchHelper(t)
	var pairs [][2]string
	for _, tt := range matchTests {
		pairs = append(pairs, [2]string{tt.pattern, tt.alias})
	}
	// Patterns from the real modules.alias against strings derived from them,
	// so that both matches and near misses occur.
	if f, err := os.Open("/lib/modules/" + testenv.DebianKernelName() + "/modules.alias"); err == nil {
		sc := bufio.NewScanner(f)
		n := 0
		for sc.Scan() {
			fields := strings.Fields(sc.Text())
			if len(fields) != 3 || fields[0] != "alias" {
				continue
			}
			n++
			if n%7 != 0 {
				continue
			}
			p := fields[1]
			filled := strings.NewReplacer("*", "0A", "?", "Z").Replace(p)
			pairs = append(pairs, [2]string{p, filled}, [2]string{p, filled + "x"}, [2]string{p, strings.Replace(filled, "0", "1", 1)})
		}
		f.Close()
	}
	want := reference(t, bin, pairs)
	deadline := time.Now().Add(time.Minute)
	for i, p := range pairs {
		if got := Match(p[0], p[1]); got != want[i] {
			t.Errorf("Match(%q, %q) = %v, glibc fnmatch says %v", p[0], p[1], got, want[i])
		}
		if time.Now().After(deadline) {
			t.Fatal("matching is too slow")
		}
	}
	t.Logf("%d pairs compared with glibc", len(pairs))
}

func FuzzMatch(f *testing.F) {
	for _, tt := range matchTests {
		f.Add(tt.pattern, tt.alias)
	}
	f.Fuzz(func(t *testing.T, pattern, alias string) {
		got := Match(pattern, alias)
		// A pattern without special bytes matches exactly itself.
		if !strings.ContainsAny(pattern, "*?[\\") && got != (pattern == alias) {
			t.Fatalf("literal Match(%q, %q) = %v", pattern, alias, got)
		}
		// "*" + pattern matches anything with a matching suffix.
		if got && !Match("*"+pattern, "prefix"+alias) && !strings.HasSuffix(pattern, "\\") {
			t.Fatalf("Match(%q, %q) but not with a leading star", pattern, alias)
		}
	})
}

// TestMatchRandomAgainstGlibc compares random patterns made of the
// special characters with glibc, where hand-written tables miss corners.
func TestMatchRandomAgainstGlibc(t *testing.T) {
	t.Parallel()
	bin := fnmatchHelper(t)
	rng := rand.New(rand.NewPCG(1, 2))
	const patAlphabet = "ab-*?[]!^\\:/."
	const strAlphabet = "ab-[]!^\\:/."
	pick := func(alphabet string, max int) string {
		b := make([]byte, rng.IntN(max+1))
		for i := range b {
			b[i] = alphabet[rng.IntN(len(alphabet))]
		}
		return string(b)
	}
	var pairs [][2]string
	for range 30000 {
		pairs = append(pairs, [2]string{pick(patAlphabet, 8), pick(strAlphabet, 6)})
	}
	for _, cls := range []string{"[[:alpha:]]", "[![:digit:]x]", "[[:bogus:]]", "[[:alpha:]", "[[.-.]a]", "[a[:digit:]-]"} {
		for _, s := range []string{"a", "5", "-", "[", "]", ":"} {
			pairs = append(pairs, [2]string{cls, s}, [2]string{cls + "*", s + "x"})
		}
	}
	want := reference(t, bin, pairs)
	bad, matches := 0, 0
	for i, p := range pairs {
		if want[i] {
			matches++
		}
		if got := Match(p[0], p[1]); got != want[i] {
			if bad++; bad <= 30 {
				t.Errorf("Match(%q, %q) = %v, glibc fnmatch says %v", p[0], p[1], got, want[i])
			}
		}
	}
	// Random pairs that never match would prove little.
	if matches < len(pairs)/50 {
		t.Errorf("only %d of %d random pairs match; the generator needs tuning", matches, len(pairs))
	}
	t.Logf("%d pairs, %d matches", len(pairs), matches)
}
