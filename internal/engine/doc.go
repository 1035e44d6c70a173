// Package engine carries out dkms actions. It is the only package that
// composes the others: it reads the configuration (dkmsconf), walks and
// changes the dkms tree (paths), builds, signs, compresses and installs
// modules, and prints the compatible messages of docs/INTERFACE.md (through ui).
package engine
