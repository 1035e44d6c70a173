package sign

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// put writes content to path, creating parent directories.
func put(t *testing.T, path, content string, mode os.FileMode) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
}

// noPath is a lookPath that finds nothing.
func noPath(name string) (string, error) { return "", exec.ErrNotFound }

// pathOf returns a lookPath finding only the given commands.
func pathOf(cmds map[string]string) func(string) (string, error) {
	return func(name string) (string, error) {
		if p, ok := cmds[name]; ok {
			return p, nil
		}
		return "", errors.New(name + ": not found")
	}
}

// expand replaces {d} by the test directory in an expected output.
func expand(s, dir string) string { return strings.ReplaceAll(s, "{d}", dir) }

const signHashConfig = "CONFIG_MODULE_SIG=y\n# CONFIG_MODULE_SIG_HASH=bogus\nCONFIG_MODULE_SIG_HASH=\"sha512\"\nCONFIG_MODULE_SIG_KEY=\"certs/signing_key.pem\"\n"
