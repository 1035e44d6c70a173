// Package shconf evaluates a bash configuration file (dkms.conf, an
// /etc/dkms override, framework.conf) the way upstream dkms's safe_source
// does, but inside mvdan.cc/sh instead of a real bash child.
//
// Upstream sources the file in a subshell with stdout discarded, prints
// `NAME[i]="value"` for every element of every whitelisted variable (one
// trailing CR removed) plus the DKMS_DIRECTIVE* hook, and sources that text
// back into the dkms shell. EvalFile reproduces all three stages, including
// the second expansion of the copied values, because real dkms.conf files
// rely on it (single-quoted `$kernelver` in MAKE is expanded on copy-back).
//
// Unless Options.FullShell is set the evaluation is sandboxed: files can be
// read but not written (redirections only to /dev/null), and only a small
// read-only allow-list of commands runs; most of them are implemented in Go.
// A refused operation is a fatal *Error naming the file and line, so that a
// malicious or broken dkms.conf cannot act on the machine while dkms merely
// reads its configuration.
package shconf
