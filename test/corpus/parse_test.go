package corpus

import "testing"

func TestParse(t *testing.T) {
	t.Parallel()
	out := `corpus: add 0 0.01
corpus: module acpi-call 1.2.2
corpus: build 0 10.01
corpus: install 6 3.53
corpus-log: Error! Installation aborted.
corpus: check status-installed ok
corpus: check vermagic-acpi_call.ko FAIL vermagic '6.1.0-9-amd64'
corpus: check bare FAIL
corpus-error: x.c:1: error: nope
corpus: finished
`
	r := Parse(out)
	tests := []struct {
		name      string
		got, want any
	}{
		{"module", r.Module, "acpi-call"},
		{"version", r.Version, "1.2.2"},
		{"steps", len(r.Order), 3},
		{"build seconds", r.Steps["build"].Seconds, 10.01},
		{"install status", r.Steps["install"].Status, 6},
		{"failed step", r.FailedStep(), "install"},
		{"ok check", r.Checks["status-installed"], "ok"},
		{"failed check detail", r.Checks["vermagic-acpi_call.ko"], "vermagic '6.1.0-9-amd64'"},
		{"failed check without detail", r.Checks["bare"], "FAIL"},
		{"errors", len(r.Errors), 1},
		{"log", len(r.Log), 1},
		{"finished", r.Finished, true},
	}
	for _, tc := range tests {
		if tc.got != tc.want {
			t.Errorf("%s = %v, want %v", tc.name, tc.got, tc.want)
		}
	}
	if empty := Parse("garbage\ncorpus: build x y\n"); empty.FailedStep() != "" || empty.Finished || len(empty.Order) != 0 {
		t.Errorf("unparsable lines were taken for steps: %+v", empty)
	}
}

func TestParseAuto(t *testing.T) {
	t.Parallel()
	a, err := ParseAuto("noise\ncorpus: autoinstall 0 100.50 150.25 49.75\ncorpus: installed 7\ncorpus: packages 7\ncorpus: cores 2\n")
	if err != nil {
		t.Fatal(err)
	}
	if a.Status != 0 || a.Wall != 100.5 || a.Installed != 7 || a.Pkgs != 7 || a.Ideal() != 100 {
		t.Errorf("parsed %+v, ideal %v", a, a.Ideal())
	}
	for _, bad := range []string{
		"",
		"corpus: autoinstall 0 1.0\ncorpus: cores 2\n",
		"corpus: autoinstall 0 x 1 1\ncorpus: cores 2\n",
		"corpus: error no headers for 6.1.0-9-amd64\n",
		"corpus: autoinstall 0 1 1 1\n",
	} {
		if _, err := ParseAuto(bad); err == nil {
			t.Errorf("ParseAuto(%q): no error", bad)
		}
	}
	f, err := ParseAuto("corpus: autoinstall 1 5 1 1\ncorpus-log: Error! Bad return status\ncorpus: cores 2\n")
	if err != nil || f.Status != 1 || len(f.Log) != 1 {
		t.Errorf("failed run: %+v, %v", f, err)
	}
}
