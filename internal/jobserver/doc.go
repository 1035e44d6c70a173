// Package jobserver is a GNU make jobserver shared by every concurrent
// module build of one dkms run.
//
// Each make started under the server inherits the token pipe and finds
// "--jobserver-auth=R,W" in MAKEFLAGS, so all makes (and their sub-makes,
// as Kbuild recurses) draw compiler slots from one pool instead of each
// starting its own -jN pool. The pipe holds one token per slot and every
// build pays one token for its whole life: that token stands for the
// implicit slot each make may use without asking, so the number of running
// compilers across all builds never exceeds the configured slots.
//
// The protocol is the one of GNU make 4.3 (Debian 12): an anonymous pipe
// passed as inherited descriptors. A -jN on a make command line makes that
// make start a private jobserver ("-jN forced in submake: resetting
// jobserver mode"), so commands run under the server must not carry -jN.
package jobserver
