// Package testenv is what the tests of several packages need from the
// machine: a throw-away system root with the three dkms trees, fake or
// real kernel headers, the commands under test built once, and the skips
// for tests that need root or a tool. Only _test files import it.
package testenv
