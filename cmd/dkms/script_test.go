package main

import (
	"bytes"
	"context"
	"strconv"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/dkms-go/dkms/internal/testenv"
)

// TestScripts runs the expected-output cases in testdata/script, one
// txtar file each: the files of a machine root under root/, the dkms
// commands, their stdout, stderr and exit status, and the tree they leave.
// Commands beyond testscript's own:
//
//	dkms ARGS...   runs dkms in process against $WORK/root (trees, DKMS_SYSROOT
//	               and TMPDIR inside it); output with the root shown as <root>
//	               and the progress dots collapsed
//	status N       the last dkms exited with N
//	tree DIR       lists $WORK/root/DIR: path, mode, link target (no contents),
//	               the root shown as <root>
func TestScripts(t *testing.T) {
	t.Parallel()
	testscript.Run(t, testscript.Params{
		Dir: "testdata/script",
		// go test -run TestScripts -update rewrites the expected files.
		UpdateScripts: *update,
		Setup: func(env *testscript.Env) error {
			return testenv.LayRoot(env.WorkDir + "/root")
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"dkms":   scriptDkms,
			"status": scriptStatus,
			"tree":   scriptTree,
		},
	})
}

func scriptRoot(ts *testscript.TestScript) string { return ts.Getenv("WORK") + "/root" }

func scriptDkms(ts *testscript.TestScript, neg bool, args []string) {
	root := scriptRoot(ts)
	full := append([]string{"/usr/sbin/dkms"}, args...)
	full = append(full, "--dkmstree", root+"/var/lib/dkms", "--sourcetree", root+"/usr/src", "--installtree", root+"/lib/modules")
	env := append(testenv.CleanEnv(), "DKMS_SYSROOT="+root, "TMPDIR="+root+"/tmp")
	var out, errb bytes.Buffer
	code := runWithRoot(context.Background(), full, env, &out, &errb, root)
	norm := func(s string) string { return undot(strings.ReplaceAll(s, root, "<root>")) }
	ts.Stdout().Write([]byte(norm(out.String())))
	ts.Stderr().Write([]byte(norm(errb.String())))
	ts.Setenv("DKMS_STATUS", strconv.Itoa(code))
	if code != 0 && !neg {
		ts.Fatalf("dkms %s: exit %d", strings.Join(args, " "), code)
	}
	if code == 0 && neg {
		ts.Fatalf("dkms %s: exit 0, want a failure", strings.Join(args, " "))
	}
}

func scriptStatus(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: status N")
	}
	if got := ts.Getenv("DKMS_STATUS"); got != args[0] {
		ts.Fatalf("last dkms exited %s, want %s", got, args[0])
	}
}

func scriptTree(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: tree DIR")
	}
	root := scriptRoot(ts)
	s, err := testenv.List(root+"/"+args[0], false, ".dkms.lock")
	ts.Check(err)
	ts.Stdout().Write([]byte(strings.ReplaceAll(s, root, "<root>") + "\n"))
}
