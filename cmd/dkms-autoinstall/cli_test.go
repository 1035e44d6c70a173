package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// TestArgs: argument errors exit 2 before anything is read; --help is 0.
func TestArgs(t *testing.T) {
	t.Parallel()
	cases := []struct {
		args   []string
		code   int
		stdout string
		stderr string
	}{
		{[]string{"--help"}, 0, "Usage: dkms-autoinstall", ""},
		{[]string{"-h"}, 0, "Usage: dkms-autoinstall", ""},
		{[]string{"--bogus"}, 2, "", "dkms-autoinstall: unknown argument \"--bogus\"\nUsage:"},
		{[]string{"-k"}, 2, "", "dkms-autoinstall: -k needs a value\n"},
		{[]string{"--hook"}, 2, "", "dkms-autoinstall: --hook needs a value\n"},
		{[]string{"--dkmstree"}, 2, "", "dkms-autoinstall: --dkmstree needs a value\n"},
		{[]string{"-j", "0"}, 2, "", "dkms-autoinstall: -j needs a positive number, got \"0\"\n"},
		{[]string{"-j", "x"}, 2, "", "dkms-autoinstall: -j needs a positive number, got \"x\"\n"},
		{[]string{"-j"}, 2, "", "dkms-autoinstall: -j needs a value\n"},
	}
	for _, c := range cases {
		var out, errb bytes.Buffer
		code := run(context.Background(), c.args, nil, &out, &errb)
		exact := c.code == 2 && !strings.HasSuffix(c.stderr, "Usage:")
		if code != c.code || !strings.HasPrefix(out.String(), c.stdout) || !strings.HasPrefix(errb.String(), c.stderr) ||
			exact && errb.String() != c.stderr {
			t.Errorf("%v: exit %d\nstdout:\n%s\nstderr:\n%s", c.args, code, out.String(), errb.String())
		}
	}
}
