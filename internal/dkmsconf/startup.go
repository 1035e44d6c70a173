package dkmsconf

import (
	"context"
	"io"
	"slices"

	"github.com/dkms-go/dkms/internal/proc"
)

// StartupNames are the framework.conf variables read at start-up (§3.2),
// plus our own policy knobs (docs/COMPATIBILITY.md).
var StartupNames = []string{
	"source_tree", "dkms_tree", "install_tree", "tmp_location", "verbose",
	"symlink_modules", "autoinstall_all_kernels", "modprobe_on_install",
	"parallel_jobs", "compress_gzip_opts", "compress_xz_opts", "compress_zstd_opts",
	"build_environment", "post_transaction",
	"full_shell_modules", "autoinstall_strict", "initramfs_check", "load_on_boot",
	"build_timeout",
}

// SigningNames are the framework.conf variables re-read for each kernel's
// signing preparation and for generate_mok (§3.2, delta D2).
var SigningNames = []string{"sign_file", "mok_signing_key", "mok_certificate", "try_sign_modules"}

// inheritedNames are the framework variables that upstream's start-up
// does not assign, so that a value in the process environment is where
// they start (delta C1 item 2). The others (trees, verbose, compression
// options) are reset first, and our own knobs are not inherited.
var inheritedNames = []string{"autoinstall_all_kernels", "modprobe_on_install", "parallel_jobs",
	"build_environment", "post_transaction", "sign_file", "mok_signing_key", "mok_certificate",
	"try_sign_modules"}

// Inherited returns the environment's values of those of names that
// upstream does not reset, as the starting point of a framework read
// (ReadFrameworkOver).
func Inherited(env []string, names []string) Framework {
	fw := Framework{}
	for _, n := range names {
		if !slices.Contains(inheritedNames, n) {
			continue
		}
		if v, ok := proc.LookupEnv(env, n); ok {
			fw[n] = v
		}
	}
	return fw
}

// Reread reads variable name of the framework files again for kernel k,
// starting from its value in fw, the start-up read (environment and
// files), which each file copies back once more (delta C1 item 4). A file
// that fails to evaluate is reported to stderr; the others count. ok is
// false when name is set nowhere.
func Reread(ctx context.Context, etcDir string, fw Framework, name, k string, env []string, stderr io.Writer) (string, bool) {
	start := Framework{}
	if v, ok := fw[name]; ok {
		start[name] = v
	}
	again, _ := ReadFrameworkOver(ctx, etcDir, []string{name}, k, env, start, stderr)
	v, ok := again[name]
	return v, ok
}
