package shconf

import (
	"context"
	"os"
	"path/filepath"
	"runtime/debug"
	"testing"
)

// TestNoDescriptorLeak: evaluations must not leave files open for the
// garbage collector to close: `dkms status` evaluates hundreds of confs in
// one process, and a descriptor per evaluation runs into the open-file
// limit.
func TestNoDescriptorLeak(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(-1)) // no finalizer may hide a leak
	files, err := filepath.Glob("testdata/corpus/*.conf")
	if err != nil || len(files) == 0 {
		t.Fatalf("no corpus: %v", err)
	}
	count := func() int {
		e, err := os.ReadDir("/proc/self/fd")
		if err != nil {
			t.Skip("no /proc/self/fd")
		}
		return len(e)
	}
	vars := map[string]string{"kernelver": "6.1.0-56-amd64", "kernel_source_dir": "testdata"}
	// One round first, so lazily opened process-wide files are open.
	for _, f := range files {
		EvalFile(context.Background(), f, []string{"PACKAGE_NAME", "MAKE"}, Options{Vars: vars})
	}
	before := count()
	for range 5 {
		for _, f := range files {
			EvalFile(context.Background(), f, []string{"PACKAGE_NAME", "MAKE"}, Options{Vars: vars})
		}
	}
	if after := count(); after > before+2 {
		t.Errorf("%d descriptors open after %d evaluations, %d before", after, 5*len(files), before)
	}
}
