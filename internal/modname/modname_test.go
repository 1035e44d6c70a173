package modname

import (
	"errors"
	"testing"
)

func TestCheck(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in, want string // want "" = accepted
	}{
		{"foo", ""},
		{"1.0", ""},
		{"nvidia-current", ""},
		{"2.3.4~rc1+dfsg", ""},
		{"v1.0-", ""},
		{"a..b", ""},
		{"...", ""},
		{"with space", ""},
		{"", `"" is empty`},
		{".", `"." is a relative directory name`},
		{"..", `".." is a relative directory name`},
		{"../../../../tmp/x/pwn", `"../../../../tmp/x/pwn" contains '/'`},
		{"headers-6.1.0-57-amd64/../../../etc/dkms", `"headers-6.1.0-57-amd64/../../../etc/dkms" contains '/'`},
		{"/abs", `"/abs" contains '/'`},
		{"1.0/", `"1.0/" contains '/'`},
		{"1.0\x00x", `"1.0\x00x" contains a NUL byte`},
		{"1.0\nfoo/2.0, 6.1.0, x86_64: installed", `"1.0\nfoo/2.0, 6.1.0, x86_64: installed" contains '/'`},
		{"1.0\nfoo", `"1.0\nfoo" contains a newline`},
		{"-rf", `"-rf" starts with '-'`},
		{"--force", `"--force" starts with '-'`},
	} {
		err := Check(tc.in)
		got := ""
		if err != nil {
			got = err.Error()
			var e *Error
			if !errors.As(err, &e) || e.Value != tc.in {
				t.Errorf("Check(%q) = %v, not an *Error for the value", tc.in, err)
			}
		}
		if got != tc.want {
			t.Errorf("Check(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
