package main

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"

	"github.com/dkms-go/dkms/internal/testenv"
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

// TestCompilerVariablesUnset: the caller's CC and CFLAGS reach neither the
// make that reads .kernelvariables nor the module's build (§1 step 2, as
// for dkms).
func TestCompilerVariablesUnset(t *testing.T) {
	t.Parallel()
	testenv.RequireTools(t, "make")
	m := newMachine(t, "")
	m.fakeKernel(fk)
	m.write("/lib/modules/"+fk+"/build/.kernelvariables", "ARCH=x86\n")
	m.module("ccprobe", "MAKE[0]=\"make all\"\n", map[string]string{
		"Makefile": "all:\n\t@echo \"cc=$$CC cflags=$$CFLAGS\"\n\tprintf x > ccprobe.ko\n"})
	_, errOut, code := m.exec([]string{"CC=bogus-cc", "CFLAGS=-Dbogus"}, testenv.Binary(t, ".", "dkms-autoinstall"), "-k", fk)
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, errOut)
	}
	b, err := os.ReadFile(m.dkms + "/ccprobe/1.0/" + fk + "/x86_64/log/make.log")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), "\ncc=cc cflags=\n") {
		t.Errorf("make.log:\n%s", b)
	}
}
