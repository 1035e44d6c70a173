package vm

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

// BuildModule compiles the out-of-tree module source in srcDir against kernel
// k's headers on the host. The source is copied to outDir first, because Kbuild
// writes its objects next to the sources and srcDir may be the checked-in
// example. It returns the path of the built name.ko.
func BuildModule(ctx context.Context, k Kernel, srcDir, outDir, name string) (string, error) {
	if k.BuildDir == "" {
		return "", fmt.Errorf("kernel %s has no headers (%s/build missing)", k.Version, k.ModulesDir)
	}
	entries, err := os.ReadDir(srcDir)
	if err != nil {
		return "", fmt.Errorf("reading module source: %w", err)
	}
	for _, e := range entries {
		if !e.Type().IsRegular() {
			continue
		}
		data, err := os.ReadFile(filepath.Join(srcDir, e.Name()))
		if err != nil {
			return "", fmt.Errorf("copying module source: %w", err)
		}
		if err := os.WriteFile(filepath.Join(outDir, e.Name()), data, 0o644); err != nil {
			return "", fmt.Errorf("copying module source: %w", err)
		}
	}
	cmd := exec.CommandContext(ctx, "make", "-C", k.BuildDir, "M="+outDir, "modules")
	// CC and friends from the caller's environment must not leak into Kbuild,
	// which picks the compiler the kernel was built with.
	cmd.Env = append(os.Environ(), "CC=", "CFLAGS=", "LDFLAGS=")
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("make: %w\n%s", err, out)
	}
	ko := filepath.Join(outDir, name+".ko")
	if _, err := os.Stat(ko); err != nil {
		return "", fmt.Errorf("build produced no %s.ko: %w\n%s", name, err, out)
	}
	return ko, nil
}
