package kver

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
)

func sign(n int) int {
	switch {
	case n < 0:
		return -1
	case n > 0:
		return 1
	}
	return 0
}

func TestCompareV(t *testing.T) {
	t.Parallel()
	tests := []struct {
		a, b string
		want int
	}{
		{"1.9", "1.10", -1},
		{"1.10", "1.9", 1},
		{"1.0", "1.0", 0},
		{"1.01", "1.1", 0},
		{"4.12-rc1", "4.12", 1},
		{"1.0~rc1", "1.0", -1},
		{"", "a", -1},
		{"a", "", 1},
		{".", "..", -1},
		{"..", ".a", -1},
		{".a", "a", -1},
		{"foo-1.2.tar.gz", "foo-1.10.tar.gz", -1},
		{"a", "b", -1},
		{"a1", "a", 1},
		{"6.1.0-13-amd64", "6.1.0-9-amd64", 1},
	}
	for _, tt := range tests {
		if got := sign(CompareV(tt.a, tt.b)); got != tt.want {
			t.Errorf("CompareV(%q, %q) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
	}
}

// tricky holds strings that exercise every branch of filevercmp: suffixes,
// tildes, leading dots and zeros, punctuation and the dkms --all lines.
var tricky = []string{
	"", ".", "..", ".hidden", ".1", "a", "A", "z", "~", "~~", "~1", "1~", "1.0~rc1", "1.0~rc2", "1.0",
	"1.0.0", "1.00", "1.01", "1.1", "1.9", "1.10", "1.010", "01", "001", "0", "00", "1a", "1A", "1.a",
	"1-a", "1_a", "1+a", "foo.tar.gz", "foo-1.2.tar.gz", "foo-1.10.tar.gz", "foo-1.2.tar.xz", "foo.1",
	"foo.a1", "foo.~", "foo.", "foo..bar", "a.b.c", "a.1b", "x.tar.gz.1", "4.12", "4.12-rc1", "4.12-rc10",
	"4.12.1", "6.1.0-13-amd64", "6.1.0-9-amd64", "6.1.0-13-rt-amd64", "6.1.0-test", "5.10.0-26-amd64",
	"built m/1.0/6.1.0-13-amd64/x86_64", "installed m/1.0/6.1.0-9-amd64/x86_64",
	"built m/1.0/6.1.0-9-amd64/x86_64", "installed m/1.0/5.10.0-26-amd64/x86_64",
	"built m/1.0/6.1.0-test/i386", "1.2.3-4ubuntu5", "1.2.3-4ubuntu10", "2:1.0", "1:2.0", "abc123def",
	"abc123", "abc0123", "a-b", "a_b", "a.b", "a~b", "a b", "9999999999999999999999", "10000000000000000000000",
	"x.~y", "x.~", "é", ".b", ".a1", ".tar.gz", ".1a", "..a", "...", ".~", ".a.b", "a.", ".1.a", "1.a.b", "a\tb", "1.2-3", "1.2.3", "1.2_3",
}

// TestSortVMatchesGNUSort compares SortV with the real `sort -V`.
func TestSortVMatchesGNUSort(t *testing.T) {
	t.Parallel()
	sortBin, err := exec.LookPath("sort")
	if err != nil {
		t.Skip("sort(1) not installed")
	}
	if err := exec.Command(sortBin, "-V", "/dev/null").Run(); err != nil {
		t.Skip("sort(1) does not support -V")
	}
	var in []string
	for _, s := range tricky {
		if !strings.Contains(s, "\n") {
			in = append(in, s)
		}
	}
	cmd := exec.Command(sortBin, "-V")
	cmd.Env = []string{"LC_ALL=C"}
	cmd.Stdin = strings.NewReader(strings.Join(in, "\n") + "\n")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("sort -V: %v", err)
	}
	want := strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
	got := slices.Clone(in)
	SortV(got)
	if !slices.Equal(got, want) {
		for i := range want {
			if i < len(got) && got[i] != want[i] {
				t.Errorf("first difference at %d: got %q, sort -V has %q", i, got[i], want[i])
				break
			}
		}
		t.Fatalf("SortV order differs from sort -V\n got: %q\nwant: %q", got, want)
	}
}

func FuzzCompareV(f *testing.F) {
	for _, s := range tricky {
		f.Add(s, "1.0")
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		if sign(CompareV(a, b)) != -sign(CompareV(b, a)) {
			t.Fatalf("CompareV not antisymmetric for %q, %q", a, b)
		}
		_ = Key(a)
	})
}
