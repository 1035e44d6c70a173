// Package compress decides which compression suffix freshly built kernel
// modules get (derived from the modules a kernel already has, §7.3 of the
// interface specification), runs the matching external compressor the way
// upstream dkms does, and opens compressed modules for reading.
package compress
