package kernel

import (
	"slices"
	"strings"
	"testing"
)

// TestConfigCompilers: §6.2 step 8 reads the compiler from
// CONFIG_CC_VERSION_TEXT and finds the clang and lld switches as grep does,
// anywhere in a line.
func TestConfigCompilers(t *testing.T) {
	t.Parallel()
	tests := []struct {
		config     string
		ccs        []string
		clang, lld bool
	}{
		{"CONFIG_CC_VERSION_TEXT=\"gcc-12 (Debian 12.2.0-14) 12.2.0\"\nCONFIG_CC_IS_GCC=y\n", []string{"gcc-12"}, false, false},
		{"CONFIG_CC_VERSION_TEXT=clang\nCONFIG_CC_IS_CLANG=y\nCONFIG_LD_IS_LLD=y\n", []string{"clang"}, true, true},
		{"CONFIG_CC_IS_CLANG=y \nCONFIG_LD_IS_LLD=y\r\n", nil, true, true},
		{"# CONFIG_CC_IS_CLANG is not set\nCONFIG_LD_IS_BFD=y\n", nil, false, false},
	}
	for _, tt := range tests {
		ccs, clang, lld := configCompilers(strings.NewReader(tt.config))
		if !slices.Equal(ccs, tt.ccs) || clang != tt.clang || lld != tt.lld {
			t.Errorf("configCompilers(%q) = %q, %v, %v; want %q, %v, %v", tt.config, ccs, clang, lld, tt.ccs, tt.clang, tt.lld)
		}
	}
}
