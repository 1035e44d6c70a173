// Package modname is the one rule for what a module name or a module
// version may be. Both become single components of paths dkms writes and
// deletes as root (<dkms_tree>/<m>/<v>, <source_tree>/<m>-<v>) and fields
// of line-oriented output (`dkms status`), whether they come from the
// command line, a dkms.conf, an archive or a package we build. So a name
// is refused when it contains '/', NUL or a newline, is "." or "..", or
// starts with '-'. Everything else upstream accepts stays accepted.
package modname
