package main

import (
	"testing"
)

// C2 of docs/INTERFACE.md (§4.5): for each record exactly one of the
// two DEST_MODULE_LOCATION messages, or none. (D1, D11, D15 and D16 are
// checked by the existing tables, whose strings moved.)

func TestDeltaDestLocationMessages(t *testing.T) {
	t.Parallel()
	const head = "PACKAGE_NAME=dl\nPACKAGE_VERSION=1.0\n"
	bad := "\nError! Bad conf file.\nFile: <root>/usr/src/dl-1.0/dkms.conf does not represent a valid dkms.conf file.\n"
	noLoc := func(i string) string {
		return "dkms.conf: Error! No 'DEST_MODULE_LOCATION' directive specified for record #" + i + ".\n"
	}
	prefix := func(i string) string {
		return "dkms.conf: Error! Directive 'DEST_MODULE_LOCATION' does not begin with\n'/kernel', '/updates', or '/extra' in record #" + i + ".\n"
	}
	cases := []struct {
		name, conf string
		code       int
		stderr     string
	}{
		// The delta's example: "" -> only the first line, kernel/x -> only
		// the pair, /extrafoo -> nothing (a plain prefix test).
		{"example", "BUILT_MODULE_NAME=(a b c)\nDEST_MODULE_LOCATION=(\"\" kernel/x /extrafoo)\n", 8,
			noLoc("0") + prefix("1") + bad},
		{"unset", "BUILT_MODULE_NAME=a\n", 8, noLoc("0") + bad},
		{"sparse hole", "BUILT_MODULE_NAME=(a b c)\nDEST_MODULE_LOCATION[0]=/kernel\nDEST_MODULE_LOCATION[2]=/updates\n", 8, noLoc("1") + bad},
		{"prefixes are string prefixes", "BUILT_MODULE_NAME=(a b c)\nDEST_MODULE_LOCATION=(/kernelx /updates2 /extrafoo)\n", 0, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			e.module("dl", "1.0", head+c.conf, map[string]string{"Makefile": "all:\n"})
			out := ""
			if c.code == 0 {
				out = "Creating symlink <root>/var/lib/dkms/dl/1.0/source -> <root>/usr/src/dl-1.0\n"
			}
			runSteps(t, e, []step{{[]string{"add", "dl/1.0"}, c.code, out, c.stderr}})
		})
	}
}
