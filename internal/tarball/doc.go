// Package tarball writes and reads the tar archives that dkms exchanges:
// mktarball/ldtarball archives (spec §9) and the binaries tarball shipped
// inside native packages.
//
// Create behaves like `tar -C dir -caf out .` so archives made here load
// into upstream dkms and back. Extract treats every archive as hostile: it
// validates all headers in a first pass and writes nothing unless every
// member is acceptable, then extracts into a private staging directory and
// only moves the result into place once the whole archive has been written.
package tarball
