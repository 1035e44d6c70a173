package ui

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestEchoE: EchoE prints what bash's echo -e prints.
func TestEchoE(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("no bash")
	}
	for _, s := range []string{
		"plain", `a\tb`, `\\`, `x\101y\0101\0`, `\x41\x4g\x`, `\u00e9\u\U0001F600`, `\e\E\a\b\f\v\r`,
		`\q\8 trailing\`, `cut\c here`, `make KERNELRELEASE=6.1 CFLAGS=\"-DX\"`,
	} {
		want, err := exec.Command("bash", "-c", `echo -e "$1"`, "_", s).Output()
		if err != nil {
			t.Fatal(err)
		}
		if got := EchoE(s); got != string(want) {
			t.Errorf("EchoE(%q) = %q, bash says %q", s, got, want)
		}
	}
}

// TestInvokeLogRecord: the log record of §0.3, its description and command
// lines written with echo -e.
func TestInvokeLogRecord(t *testing.T) {
	t.Parallel()
	log := filepath.Join(t.TempDir(), "make.log")
	var out bytes.Buffer
	p := New(&out, &out)
	code := p.Invoke(context.Background(), Step{Desc: `Building\tmodule(s)`, Cmd: `printf '%s\n' 'a\tb'; exit 3`, Log: log})
	if code != 3 {
		t.Errorf("exit %d", code)
	}
	b, err := os.ReadFile(log)
	if err != nil {
		t.Fatal(err)
	}
	want := "\nBuilding\tmodule(s)\n# command: printf '%s\n' 'a\tb'; exit 3\n" + "a\\tb\n" +
		"\n# exit code: 3\n# elapsed time: 00:00:00\n" + Separator + "\n"
	if string(b) != want {
		t.Errorf("log:\n%q\nwant:\n%q", b, want)
	}
	if want := "Building\\tmodule(s)...(bad exit status: 3)\nFailed command:\nprintf '%s\\n' 'a\\tb'; exit 3\n"; out.String() != want {
		t.Errorf("stdout %q, want %q", out.String(), want)
	}
}
