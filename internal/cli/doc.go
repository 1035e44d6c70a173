// Package cli parses the dkms command line exactly as upstream dkms 3.4.3 does
// (options anywhere, prefix-matched long options, positional module specs,
// source paths and archives). It knows nothing about what the actions do.
package cli
