// Package dkmsconf reads a module's dkms.conf with its /etc/dkms override
// chain and --directive values (spec §4), validates it with upstream's exact
// messages, and answers the questions the engine asks of it: the make
// command, the patch list, BUILD_EXCLUSIVE and the effective install
// location. It also reads framework.conf and framework.conf.d (§3).
//
// Evaluation is delegated to shconf, so a conf file is sandboxed unless the
// framework variable full_shell_modules names the module (FullShellFor).
package dkmsconf
