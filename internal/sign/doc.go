// Package sign prepares and performs kernel module signing the way upstream
// dkms 3.4.3 does (§7.2 of the interface specification and delta D12): it checks the
// kernel configuration for a signing hash, picks the distribution's
// sign-file tool, finds or generates the machine owner key (MOK), and signs
// each built module. Its user-visible lines are part of the compatible
// interface and go, byte-exact, to the writers the caller passes in; no
// signing condition is ever an error for the caller, signing is just off.
package sign
