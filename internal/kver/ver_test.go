package kver

import "testing"

func TestKey(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"", ""},
		{"6.1.0-13-amd64", "006.001.000-013-amd064"},
		{"4.12-rc1", "004.012-rc001"},
		{"4.12", "004.012"},
		{"1.10", "001.010"},
		{"1.9", "001.009"},
		{"1234.5", "1234.005"},
		{"0001", "0001"},
		{"abc", "abc"},
		{"2.6.9-1cvs200409091247", "002.006.009-001cvs200409091247"},
		{"v5", "v005"},
		{"10", "010"},
	}
	for _, tt := range tests {
		if got := Key(tt.in); got != tt.want {
			t.Errorf("Key(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestLess(t *testing.T) {
	t.Parallel()
	tests := []struct {
		a, b string
		want bool
	}{
		{"4.12", "4.12-rc1", true}, // VER puts -rc after the release
		{"4.12-rc1", "4.12", false},
		{"1.9", "1.10", true},
		{"1.10", "1.9", false},
		{"6.1.0-13-amd64", "6.1.0-9-amd64", false},
		{"6.1.0-9-amd64", "6.1.0-13-amd64", true},
		{"5.15", "5.15", false},
		{"5.4", "6.1", true},
		{"6.1.0-test", "6.1.0", false},
	}
	for _, tt := range tests {
		if got := Less(tt.a, tt.b); got != tt.want {
			t.Errorf("Less(%q, %q) = %v, want %v", tt.a, tt.b, got, tt.want)
		}
	}
}
