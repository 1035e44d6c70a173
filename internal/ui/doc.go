// Package ui holds dkms's message primitives (§0.1 of the interface spec):
// error and warning blocks, deprecation notices, the progress lines of
// external commands (§0.2) and the log-record format of make.log (§0.3).
// Every compatible string that is not specific to one action lives here.
package ui
