// Package paths is the one place where dkms's file system layout is spelled
// out (§5.1 of the interface spec). Every path is derived from the three
// configurable trees or from Root, so tests run against t.TempDir().
package paths

import "path/filepath"

// Layout names the trees of one dkms run.
type Layout struct {
	DKMSTree    string // default /var/lib/dkms
	SourceTree  string // default /usr/src
	InstallTree string // default /lib/modules
	// Root prefixes the fixed system paths (/etc/dkms, /usr/share/dkms,
	// /etc/os-release, the default MOK key). "/" on a real system.
	Root string
}

// Sys returns a fixed system path under Root.
func (l Layout) Sys(p string) string {
	if l.Root == "" || l.Root == "/" {
		return p
	}
	return filepath.Join(l.Root, p)
}

// EtcDir is /etc/dkms.
func (l Layout) EtcDir() string { return l.Sys("/etc/dkms") }

// NoAutoinstall is the flag file that disables autoinstall.
func (l Layout) NoAutoinstall() string { return l.Sys("/etc/dkms/no-autoinstall") }

// ForceInstallDir lists modules whose install is forced (§6.3 step 3).
func (l Layout) ForceInstallDir() string { return l.Sys("/usr/share/dkms/modules_to_force_install") }

// MOKKey and MOKCert are the default signing key and certificate; they do
// not follow --dkmstree.
func (l Layout) MOKKey() string  { return l.Sys("/var/lib/dkms/mok.key") }
func (l Layout) MOKCert() string { return l.Sys("/var/lib/dkms/mok.pub") }

// Plain string concatenation is used below on purpose: messages must show
// the trees exactly as configured, without cleaning.

func (l Layout) ModuleDir(m string) string     { return l.DKMSTree + "/" + m }
func (l Layout) VersionDir(m, v string) string { return l.DKMSTree + "/" + m + "/" + v }
func (l Layout) SourceLink(m, v string) string { return l.VersionDir(m, v) + "/source" }
func (l Layout) BuildDir(m, v string) string   { return l.VersionDir(m, v) + "/build" }
func (l Layout) MakeLog(m, v string) string    { return l.BuildDir(m, v) + "/make.log" }
func (l Layout) KernelDir(m, v, k string) string {
	return l.VersionDir(m, v) + "/" + k
}
func (l Layout) BuiltDir(m, v, k, a string) string { return l.KernelDir(m, v, k) + "/" + a }
func (l Layout) BuiltModules(m, v, k, a string) string {
	return l.BuiltDir(m, v, k, a) + "/module"
}
func (l Layout) KernelLink(m, k, a string) string { return l.ModuleDir(m) + "/kernel-" + k + "-" + a }
func (l Layout) OriginalDir(m, k, a string) string {
	return l.ModuleDir(m) + "/original_module/" + k + "/" + a
}
func (l Layout) SourceDir(m, v string) string  { return l.SourceTree + "/" + m + "-" + v }
func (l Layout) KernelModules(k string) string { return l.InstallTree + "/" + k }
func (l Layout) LockFile() string              { return l.DKMSTree + "/.dkms.lock" }

// OriginalsDir holds the distribution's module files that installing m
// displaced, per kernel and arch (OriginalDir).
func (l Layout) OriginalsDir(m string) string { return l.ModuleDir(m) + "/original_module" }
func (l Layout) OriginalKernelDir(m, k string) string {
	return l.OriginalsDir(m) + "/" + k
}

// BuiltLog is where a finished build's make.log is kept, and DepRecord the
// file recording which version of module dep the build was made against.
func (l Layout) BuiltLog(m, v, k, a string) string { return l.BuiltDir(m, v, k, a) + "/log/make.log" }
func (l Layout) DepRecord(m, v, k, a, dep string) string {
	return l.BuiltDir(m, v, k, a) + "/.dep_" + dep
}

// PendingMarker is the marker <dkms_tree>/<m>/.dkms-pending-kernel-<k>-<a>
// of a pair whose change a killed run may have left half done; "*" for
// any part gives a glob. OldDepmodPending is the marker earlier versions
// left at the top of the tree for a depmod put off by kernel removal.
const (
	PendingPrefix   = ".dkms-pending-kernel-"
	OldDepmodPrefix = "depmod-pending-"
)

func (l Layout) PendingMarker(m, k, a string) string {
	return l.ModuleDir(m) + "/" + PendingPrefix + k + "-" + a
}
func (l Layout) OldDepmodPending(k, a string) string {
	return l.DKMSTree + "/" + OldDepmodPrefix + k + "-" + a
}

// Files of our own at the top of the dkms tree.
func (l Layout) StatusCache() string        { return l.DKMSTree + "/.status-cache" }
func (l Layout) OldStatusCache() string     { return l.DKMSTree + "/.status-cache.json" } // earlier versions wrote it
func (l Layout) InitramfsIndex() string     { return l.DKMSTree + "/.initramfs-index" }
func (l Layout) PostTransactionLog() string { return l.DKMSTree + "/post_transaction.log" }
