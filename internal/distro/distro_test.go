package distro

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/dkms-go/dkms/internal/paths"
)

// TestDetect: §2.5's name from os-release: ubuntu for ID=ubuntu, else
// ID_LIKE when it is set (even empty), else ID; quotes are removed;
// /usr/lib/os-release is read when /etc has none.
func TestDetect(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, etc, usr string
		want           string
		ok             bool
	}{
		{"debian", "ID=debian\n", "", "debian", true},
		{"ubuntu wins over ID_LIKE", "ID=ubuntu\nID_LIKE=debian\n", "", "ubuntu", true},
		{"ID_LIKE", "ID=linuxmint\nID_LIKE=\"ubuntu debian\"\n", "", "ubuntu debian", true},
		{"empty ID_LIKE", "ID=x\nID_LIKE=\n", "", "", true},
		{"single quotes and comments", "# ID=no\nID='fedora'\n", "", "fedora", true},
		{"usr/lib", "", "ID=arch\n", "arch", true},
		{"none", "", "", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			root := t.TempDir()
			for p, body := range map[string]string{"/etc/os-release": tt.etc, "/usr/lib/os-release": tt.usr} {
				if body == "" {
					continue
				}
				if err := os.MkdirAll(filepath.Dir(root+p), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(root+p, []byte(body), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			got, ok := Detect(paths.Layout{Root: root})
			if got != tt.want || ok != tt.ok {
				t.Errorf("Detect = %q, %v; want %q, %v", got, ok, tt.want, tt.ok)
			}
		})
	}
}
