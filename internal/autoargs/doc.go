// Package autoargs parses the command line of dkms-autoinstall: which
// kernels, which mode (install, removal, package upgrade, boot), how many
// make jobs, and the tree overrides it shares with dkms. It only parses;
// the command's main prints what Parse reports and runs internal/hook.
package autoargs
