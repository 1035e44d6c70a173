package proc

import (
	"os"
	"slices"
	"strings"
)

// CompilerVariables are the caller's variables dkms unsets at start-up
// (§1 step 2) so that they reach neither make nor the build scripts.
var CompilerVariables = []string{"CC", "CXX", "CFLAGS", "CXXFLAGS", "LDFLAGS"}

// UnsetCompilerVariables removes CompilerVariables from the process's own
// environment, for the children that inherit it (make, depmod, signing).
func UnsetCompilerVariables() {
	for _, n := range CompilerVariables {
		os.Unsetenv(n)
	}
}

// WithoutCompilerVariables is env without CompilerVariables.
func WithoutCompilerVariables(env []string) []string {
	var out []string
	for _, kv := range env {
		if name, _, _ := strings.Cut(kv, "="); slices.Contains(CompilerVariables, name) {
			continue
		}
		out = append(out, kv)
	}
	return out
}

// LookupEnv looks name up in an environment list, the last assignment
// winning as in execve.
func LookupEnv(env []string, name string) (string, bool) {
	for i := len(env) - 1; i >= 0; i-- {
		if k, v, ok := strings.Cut(env[i], "="); ok && k == name {
			return v, true
		}
	}
	return "", false
}

// Getenv is LookupEnv's value, "" when name is not set.
func Getenv(env []string, name string) string {
	v, _ := LookupEnv(env, name)
	return v
}
