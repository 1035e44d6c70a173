package dkmsconf

import (
	"bytes"
	"context"
	"testing"
)

// TestReadFramework covers §3.1: file order, what overrides and what does
// not, the one trailing CR, the second expansion of copied values, the
// DKMS_DIRECTIVE hook, stdout discarded and stderr visible.
func TestReadFrameworkRules(t *testing.T) {
	t.Parallel()
	names := []string{"dkms_tree", "source_tree", "install_tree", "verbose", "tmp_location", "post_transaction"}
	tests := []struct {
		name   string
		files  map[string]string // relative to the etc dir
		env    []string
		want   map[string]string // absent = not set
		stderr string
	}{
		{"later files override, glob order", map[string]string{
			"framework.conf":              "dkms_tree=/a\nsource_tree=/s\n",
			"framework.conf.d/20-c.conf":  "dkms_tree=/c\n",
			"framework.conf.d/10-b.conf":  "dkms_tree=/b\ninstall_tree=/i\n",
			"framework.conf.d/x.conf.bak": "dkms_tree=/bak\n",
		}, nil, map[string]string{"dkms_tree": "/c", "source_tree": "/s", "install_tree": "/i"}, ""},
		{"empty overrides, unset does not", map[string]string{
			"framework.conf":             "dkms_tree=/a\nsource_tree=/s\nverbose=1\n",
			"framework.conf.d/10-x.conf": "dkms_tree=/b\n",
			"framework.conf.d/20-x.conf": "unset dkms_tree\nsource_tree=\n",
		}, nil, map[string]string{"dkms_tree": "/b", "source_tree": "", "verbose": "1"}, ""},
		{"a file that unsets everything changes nothing", map[string]string{
			"framework.conf":             "dkms_tree=/a\n",
			"framework.conf.d/10-x.conf": "unset dkms_tree\n",
		}, nil, map[string]string{"dkms_tree": "/a"}, ""},
		{"one trailing CR", map[string]string{"framework.conf": "dkms_tree=$'/a\\r\\r'\nsource_tree=/s\r\n"}, nil,
			map[string]string{"dkms_tree": "/a\r", "source_tree": "/s"}, ""},
		{"second expansion", map[string]string{"framework.conf": "X=/x\ndkms_tree='$X/d'\nsource_tree='$TREE'\n"},
			[]string{"TREE=/from-env"}, map[string]string{"dkms_tree": "/d", "source_tree": "/from-env"}, ""},
		{"directive hook", map[string]string{"framework.conf": "dkms_tree=/a\n"},
			[]string{"DKMS_DIRECTIVE_1=dkms_tree=/hooked"}, map[string]string{"dkms_tree": "/hooked"}, ""},
		{"directive hook from the file", map[string]string{"framework.conf": "dkms_tree=/a\nDKMS_DIRECTIVE_X=source_tree=/s\n"},
			nil, map[string]string{"dkms_tree": "/a", "source_tree": "/s"}, ""},
		{"stdout discarded, stderr visible", map[string]string{"framework.conf": "echo out\necho err >&2\nverbose=1\n"},
			nil, map[string]string{"verbose": "1"}, "err\n"},
		{"kernelver empty at start-up", map[string]string{"framework.conf": "post_transaction=\"k=$kernelver\"\n"},
			nil, map[string]string{"post_transaction": "k="}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			for name, body := range tc.files {
				writeConf(t, dir, name, body)
			}
			var stderr bytes.Buffer
			fw, err := ReadFramework(context.Background(), dir, names, "", tc.env, &stderr)
			if err != nil {
				t.Fatalf("ReadFramework: %v", err)
			}
			for _, n := range names {
				got, set := fw[n]
				want, wantSet := tc.want[n]
				if set != wantSet || got != want {
					t.Errorf("%s = %q (set %v), want %q (set %v)", n, got, set, want, wantSet)
				}
			}
			if stderr.String() != tc.stderr {
				t.Errorf("stderr %q, want %q", stderr.String(), tc.stderr)
			}
		})
	}
}
