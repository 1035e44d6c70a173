// Package depmod runs depmod for one kernel as dkms does after installing
// or removing modules (§7.4), and cleans up the index files of a kernel
// whose module directory has nothing left in it.
package depmod

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/dkms-go/dkms/internal/fsops"
	"github.com/dkms-go/dkms/internal/paths"
	"github.com/dkms-go/dkms/internal/proc"
)

// Run runs depmod for kernel k of layout l. Its messages about what it
// skips or removes go to w, depmod's own output to w and ew.
func Run(ctx context.Context, l paths.Layout, k string, w, ew io.Writer) {
	kd := l.KernelModules(k)
	if k == "" || !fsops.IsRegular(kd+"/modules.dep") {
		fmt.Fprintf(w, "Skipping depmod because '%s/modules.dep' is missing.\n", kd)
		return
	}
	args := []string{"-a", k}
	// Upstream always runs depmod on the system's tree; when the install
	// tree is <prefix>/lib/modules we point depmod at it (COMPATIBILITY.md).
	if it := filepath.Clean(l.InstallTree); it != "/lib/modules" && strings.HasSuffix(it, "/lib/modules") {
		args = append([]string{"-b", strings.TrimSuffix(it, "/lib/modules")}, args...)
	}
	if sm := l.Sys("/boot/System.map-" + k); fsops.IsRegular(sm) {
		args = append(args, "-F", sm)
	}
	cmd := proc.Command(ctx, false, "depmod", args...)
	cmd.Stdout, cmd.Stderr = w, ew
	if err := proc.Run(cmd); err != nil {
		if _, ok := err.(*exec.ExitError); !ok {
			fmt.Fprintf(ew, "depmod %s: %v\n", k, err)
		}
	}
	if st, err := os.Stat(kd + "/modules.dep"); err == nil && st.Size() == 0 {
		removeIndexes(kd, w)
	}
}

// removeIndexes deletes the index files of a kernel that has no modules
// left, and its directory when that is then empty.
func removeIndexes(kd string, w io.Writer) {
	for _, n := range []string{"alias", "dep", "devname", "softdep", "symbols", "weakdep"} {
		if os.Remove(kd+"/modules."+n) == nil {
			fmt.Fprintf(w, "removed '%s/modules.%s'\n", kd, n)
		}
	}
	bins, _ := filepath.Glob(kd + "/modules.*.bin")
	for _, b := range bins {
		if os.Remove(b) == nil {
			fmt.Fprintf(w, "removed '%s'\n", b)
		}
	}
	if os.Remove(kd) == nil {
		fmt.Fprintf(w, "removed directory %s\n", kd)
	}
}
