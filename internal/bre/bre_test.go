package bre

import "testing"

func TestMatch(t *testing.T) {
	t.Parallel()
	tests := []struct {
		re, s string
		want  bool
	}{
		{"^foo/", "foo/1.0, ", true},
		{"^fo/", "foo/1.0, ", false},
		{"^f.o/", "foo/1.0, ", true},
		{"^f*/", "ff/1.0, ", true},
		{"^a+b/", "a+b/1.0, ", true}, // + is literal in a BRE
		{"^a+b/", "aab/1.0, ", false},
		{"^a\\+b/", "aab/1.0, ", true}, // \+ is GNU's operator
		{"^\\(ab\\)\\{2\\}/", "abab/1, ", true},
		{"^(ab)/", "(ab)/1, ", true},
		{"^[[:alpha:]]*_x/", "nv_x/1, ", true},
		{"^[]a]/", "]/1, ", true},
		{"^*x/", "*x/1, ", true},
		{"^a|b/", "a|b/1, ", true},
		{"^[a/", "a/1, ", false}, // does not compile: nothing matches
	}
	for _, tt := range tests {
		if got := Match(tt.re, tt.s); got != tt.want {
			t.Errorf("Match(%q, %q) = %v, want %v", tt.re, tt.s, got, tt.want)
		}
	}
}
