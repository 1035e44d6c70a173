// Package pkgbuild writes native distribution packages of a DKMS module
// (the mkdeb and mkrpm actions) without dpkg-buildpackage or rpmbuild: the
// .deb is an ar archive written here, the .rpm comes from google/rpmpack.
//
// Both packages follow Debian's dh_dkms conventions: the source goes to
// /usr/src/<module>-<version>/, the package is called <module>-dkms and
// depends on dkms, and its maintainer scripts register the module with
// `dkms add`, build and install it for the installed kernels, and
// `dkms remove ... --all` it on removal. Prebuilt modules are shipped as a
// binaries-only mktarball archive (spec §9) under /usr/share/<package>/,
// which the post-install script loads with `dkms ldtarball` first, so
// kernels they were built for get them without a compiler and every other
// kernel compiles from source.
package pkgbuild
