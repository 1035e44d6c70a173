package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestWriteReport: the report replaces only what lies between its markers
// and everything written around it stays byte for byte; a file without a
// complete pair of markers gets the report on top and keeps all of its
// text below; a new file holds the report alone. Writing the same report
// again changes nothing.
func TestWriteReport(t *testing.T) {
	const report = "# Benchmarks\n\n| a | b |\n"
	block := beginMark + report + endMark
	hand := "## Cold start, by hand\n\nmeasured 7.6 ms\n"
	for _, tt := range []struct {
		name   string
		old    *string // nil: no file
		report string
		want   string
	}{
		{"new file", nil, report, block},
		{"markers around an old report", ptr("intro\n" + beginMark + "# old\nold rows\n" + endMark + "\n" + hand),
			report, "intro\n" + block + "\n" + hand},
		{"markers, nothing after them", ptr(beginMark + "# old\n" + endMark), report, block},
		{"end marker on the last line without its newline", ptr(beginMark + "# old\n" + strings.TrimSuffix(endMark, "\n")),
			report, block},
		{"no markers: report on top, all of the old text below", ptr("# Benchmarks (by hand)\n\n" + hand),
			report, block + "\n# Benchmarks (by hand)\n\n" + hand},
		{"a begin marker alone is no pair", ptr(beginMark + hand), report, block + "\n" + beginMark + hand},
		{"an end marker before the begin one is no pair", ptr(endMark + hand + beginMark), report,
			block + "\n" + endMark + hand + beginMark},
		{"markers quoted inside a line do not count", ptr("see `" + strings.TrimSuffix(beginMark, "\n") + "`\n" + hand),
			report, block + "\nsee `" + strings.TrimSuffix(beginMark, "\n") + "`\n" + hand},
		{"a report without a final newline gets one", nil, "# Benchmarks", beginMark + "# Benchmarks\n" + endMark},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			p := filepath.Join(dir, "BENCHMARKS.md")
			if tt.old != nil {
				if err := os.WriteFile(p, []byte(*tt.old), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			if err := writeReport(p, tt.report); err != nil {
				t.Fatal(err)
			}
			got, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want {
				t.Errorf("file after the write:\n%s\nwant:\n%s", got, tt.want)
			}
			if err := writeReport(p, tt.report); err != nil {
				t.Fatal(err)
			}
			again, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			// The first write made a pair of markers on top: the second
			// finds and replaces it.
			if string(again) != string(got) {
				t.Errorf("a second write changed the file:\n%s", again)
			}
			if ents, _ := os.ReadDir(dir); len(ents) != 1 {
				t.Errorf("files beside the report: %v", ents)
			}
		})
	}
}

// TestCommittedReportHasMarkers: docs/BENCHMARKS.md holds one pair of
// markers, with the sections written by hand outside them, so that the
// next make bench keeps those.
func TestCommittedReportHasMarkers(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "docs", "BENCHMARKS.md"))
	if err != nil {
		t.Fatal(err)
	}
	before, after, found := splitMarked(data)
	if !found {
		t.Fatal("docs/BENCHMARKS.md has no bench:begin/bench:end pair: the next make bench would put a second report on top")
	}
	if strings.Count(string(data), beginMark) != 1 || strings.Count(string(data), endMark) != 1 {
		t.Error("docs/BENCHMARKS.md has more than one marker of a kind")
	}
	outside := string(before) + string(after)
	for _, s := range []string{"## Conf evaluation in the sandboxed child", "## Debian -dkms packages"} {
		if !strings.Contains(outside, s) {
			t.Errorf("%q is not outside the markers: the next make bench would overwrite it", s)
		}
	}
	for _, s := range []string{"## Results", "## Targets", "## Reproduce"} {
		if strings.Contains(outside, s) {
			t.Errorf("%q, which make bench writes, is outside the markers: it would be there twice", s)
		}
	}
}

func ptr(s string) *string { return &s }
