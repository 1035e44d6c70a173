package engine

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/dkms-go/dkms/internal/fsops"
	"github.com/dkms-go/dkms/internal/proc"
	"github.com/dkms-go/dkms/internal/tree"

	"github.com/dkms-go/dkms/internal/dkmsconf"
	"github.com/dkms-go/dkms/internal/fault"
	"github.com/dkms-go/dkms/internal/tarball"
	"github.com/dkms-go/dkms/internal/ui"
)

// MkTarball runs `dkms mktarball` (§6.10).
func (e *Engine) MkTarball(ctx context.Context) error {
	if err := e.gateModuleArgs("mktarball"); err != nil {
		return err
	}
	if err := e.gateBroken(); err != nil {
		return err
	}
	if err := e.gateAdded(); err != nil {
		return err
	}
	m, v := e.O.Module, e.O.Version
	k0, a0 := e.firstPair()
	if _, err := e.readConf(ctx, confRead{Target: tree.Target{Module: m, Version: v, Kernel: k0, Arch: a0}}); err != nil {
		return err
	}
	tmp, err := e.stagingDir(ctx, "mk")
	if err != nil {
		return err
	}
	defer fsops.DropTemp(tmp) // what a killed run leaves is swept by the next one
	if err := fsops.MkdirAll(tmp + "/" + tarball.MainTree); err != nil {
		return e.failTarball(err)
	}

	var kernels []tarball.Kernel
	if !e.O.SourceOnly {
		kernels = []tarball.Kernel{}
		for i, k := range e.Kernels {
			a := e.Arches[i]
			built := e.L.BuiltDir(m, v, k, a)
			if !fsops.IsDir(built) {
				return e.P.Die(6, "No modules built for "+k+" ("+a+").",
					"Modules must already be in the built state before using mktarball.")
			}
			e.P.Line("Marking modules for " + k + " (" + a + ") for archiving...")
			if err := fsops.CopyTree(built, tmp+"/"+tarball.MainTree+"/"+k+"/"+a); err != nil {
				return e.failTarball(err)
			}
			kernels = append(kernels, tarball.Kernel{K: k, A: a})
		}
	}

	if e.O.BinariesOnly {
		e.P.Line("")
		e.P.Line("Creating tarball structure to specifically accommodate binaries.")
		conf := e.O.ConfPath
		if conf == "" {
			conf = e.L.SourceLink(m, v) + "/dkms.conf"
		}
		if err := tarball.WriteBinariesOnly(tmp+"/"+tarball.BinariesOnly, m, v, conf); err != nil {
			return e.failTarball(err)
		}
	} else {
		link := e.L.SourceLink(m, v)
		e.P.Line("")
		e.P.Line("Marking " + link + " for archiving...")
		// The walk does not descend into a symlinked root: resolve it first.
		src, err := filepath.EvalSymlinks(link)
		if err == nil {
			err = fsops.CopyTree(src, tmp+"/"+tarball.SourceTree)
		}
		if err != nil {
			return e.failTarball(err)
		}
	}

	dir, name := e.L.VersionDir(m, v)+"/tarball/", tarball.Name(m, v, kernels)
	if e.O.Archive != "" {
		name = e.O.Archive
		if i := strings.LastIndex(e.O.Archive, "/"); i >= 0 {
			dir, name = e.O.Archive[:i], e.O.Archive[i+1:]
		}
	}
	location := dir + "/" + name
	e.P.Line("")
	e.P.Line("Tarball location: " + location)
	// An --archive of /<name> leaves the directory empty: upstream's
	// mkdir -p "" fails, so it dies here rather than writing to /.
	if dir == "" || fsops.MkdirAll(dir) != nil || syscall.Access(dir, 2) != nil {
		return e.P.Die(9, "Missing write permissions for "+dir+".")
	}
	// Upstream runs tar with 2>/dev/null here: the die block alone.
	if tarball.Create(ctx, tmp, location) != nil {
		return e.P.Die(6, "Failed to make tarball.")
	}
	return nil
}

// stagingDir makes the staging directory of mktarball and ldtarball in
// the DKMS tree, under the temporary prefix, where the next run that takes
// the lock deletes it if this one is killed (upstream uses tmp_location).
func (e *Engine) stagingDir(ctx context.Context, what string) (string, error) {
	if !fsops.IsDir(e.L.DKMSTree) || !e.writable() {
		// Nothing of the tree to sweep it, but nothing to write there either.
		dir, err := os.MkdirTemp(e.TmpLocation, "dkms.")
		if err != nil {
			return "", e.P.Die(1, "Unable to make temporary directory.")
		}
		return dir, nil
	}
	if err := e.LockTree(ctx); err != nil {
		return "", err
	}
	dir := fsops.TempPath(e.L.DKMSTree, what)
	fault.Point("mkdir", dir)
	// 0700 as mktemp -d makes it: mktarball archives its mode as "./".
	if err := os.Mkdir(dir, 0o700); err != nil {
		e.P.Stderr().Write([]byte(err.Error() + "\n"))
		return "", e.P.Die(1, "Unable to make temporary directory.")
	}
	return dir, nil
}

// failTarball reports a failed copy into the staging directory; the cause
// goes to stderr first, as cp's own diagnostics do upstream.
func (e *Engine) failTarball(err error) error {
	e.P.Stderr().Write([]byte(err.Error() + "\n"))
	return e.P.Die(6, "Failed to make tarball.")
}

// LdTarball runs `dkms ldtarball` (§6.11): the archive is loaded and, when
// that succeeded, the module is added.
func (e *Engine) LdTarball(ctx context.Context) error {
	if !e.IsRoot() && e.O.Force {
		return e.P.Die(1, "You must be root to use this command with the --force option.")
	}
	if err := e.loadTarball(ctx); err != nil {
		return err
	}
	return e.add(ctx, false)
}

// errLoadedWithoutSource is the non-fatal failure of §6.11 step 10: the
// binaries of a binaries-only archive were loaded, but the module source is
// not in the source tree, so the module cannot be added. ldtarball exits 1;
// an add given the archive carries on (and dies 2).
var errLoadedWithoutSource = errors.New("binaries loaded, but the module source is not installed")

// loadTarball is "tarball loading" (§6.11 steps 1-10). It sets the
// module and version from the archive. Unlike upstream, the archive is
// treated as hostile: it is fully validated before anything is written to
// the trees, and every kernel it carries is loaded, not only the first.
func (e *Engine) loadTarball(ctx context.Context) error {
	path := e.O.Archive
	if _, err := os.Stat(path); err != nil {
		return e.P.Die(2, path+" does not exist.")
	}
	if strings.HasSuffix(path, ".rpm") {
		return e.loadRPM(ctx, path)
	}
	top, err := e.stagingDir(ctx, "ld")
	if err != nil {
		return err
	}
	defer fsops.DropTemp(top) // what a killed run leaves is swept by the next one
	// Extract stages beside its destination: inside top, then.
	tmp := top + "/x"
	if err := fsops.MkdirAll(tmp); err != nil {
		return e.P.Die(1, "Unable to make temporary directory.", err.Error())
	}
	if err := tarball.Extract(ctx, path, tmp, tarball.DefaultLimits()); errors.Is(err, tarball.ErrNotArchive) {
		// Upstream's tar shows its complaint and extracts nothing, and the
		// search for a dkms.conf then fails (§6.11 steps 3-4).
		fmt.Fprintln(e.P.Stderr(), err)
		return e.P.Die(3, noConfInArchive)
	} else if err != nil {
		return e.refuseArchive(path, err)
	}
	if !fsops.IsRealDir(tmp + "/" + tarball.MainTree) {
		return e.loadGeneric(ctx, path, tmp)
	}

	part, conf := tarball.Part(tmp)
	if part == "" {
		return e.P.Die(7, "No valid dkms.conf in "+tarball.SourceTree+" or "+tarball.BinariesOnly+".",
			path+" is not a valid DKMS tarball.")
	}
	k0, a0 := e.firstPair()
	c, err := e.readConf(ctx, confRead{Target: tree.Target{Kernel: k0, Arch: a0}, path: conf})
	if err != nil {
		return err
	}
	if err := c.CheckNames(); err != nil {
		return e.refuseArchive(path, archiveNameError(tmp, err))
	}
	m, v := c.PackageName, c.PackageVersion
	binaries, err := tarball.Binaries(tmp + "/" + tarball.MainTree)
	if err != nil {
		return e.refuseArchive(path, err)
	}
	if part == tarball.SourceTree {
		if err := tarball.LinksStayInside(tmp + "/" + tarball.SourceTree); err != nil {
			return e.refuseArchive(path, err)
		}
	}

	// Decided under the lock, so that no other dkms adds it meanwhile.
	if err := e.lock(); err != nil {
		return err
	}
	if e.tree.State(m, v) == tree.Added && !e.O.Force {
		return e.P.Die(8, m+"/"+v+" is already added!", "Aborting.")
	}
	e.P.Line("")
	e.P.Line("Loading tarball for " + m + "/" + v)
	e.O.Module, e.O.Version = m, v
	if part == tarball.SourceTree {
		if err := e.addFromPath(ctx, tmp+"/"+tarball.SourceTree, path, tmp); err != nil {
			return err
		}
	} else if !fsops.IsDir(e.L.SourceDir(m, v)) {
		dst := e.L.SourceLink(m, v)
		e.P.Line("Creating " + dst)
		if err := fsops.MkdirAll(dst); err != nil {
			return e.P.Die(2, "Could not create "+dst+": "+err.Error())
		}
		e.P.Line("Copying dkms.conf to " + dst + " ...")
		if err := fsops.CopyFile(conf, dst+"/dkms.conf", 0o644); err != nil {
			return e.P.Die(2, "Could not copy dkms.conf to "+dst+": "+err.Error())
		}
	}

	// A module that is not in the tree yet gets its whole version
	// directory staged: the binaries now, the build directory and source
	// link when it is added; it appears in one rename, so a killed load
	// leaves nothing that reads as broken.
	staged := ""
	if vd := e.L.VersionDir(m, v); !fsops.Exists(vd) && len(binaries) > 0 {
		if err := fsops.MkdirAll(e.L.ModuleDir(m)); err != nil {
			return e.P.Die(6, "Could not create "+e.L.ModuleDir(m)+": "+err.Error())
		}
		staged = fsops.TempPath(e.L.ModuleDir(m), "add")
		if err := fsops.MkdirAll(staged); err != nil {
			return e.P.Die(6, "Could not create "+vd+": "+err.Error())
		}
	}
	for _, b := range binaries {
		dst := e.L.BuiltDir(m, v, b.K, b.A)
		if staged != "" {
			e.P.Line("Loading " + dst + "...")
			if err := fsops.CopyTree(tmp+"/"+tarball.MainTree+"/"+b.K+"/"+b.A, staged+"/"+b.K+"/"+b.A); err != nil {
				return e.P.Die(6, "Could not load "+dst+": "+err.Error())
			}
			continue
		}
		if fsops.Exists(dst) && !e.O.Force {
			e.P.Warning(dst + " already exists. Skipping...")
			continue
		}
		e.P.Line("Loading " + dst + "...")
		// Copied under a temporary name beside dst, then renamed: status
		// never reads a half-loaded build.
		kdir := e.L.KernelDir(m, v, b.K)
		if err := fsops.MkdirAll(kdir); err != nil {
			return e.P.Die(6, "Could not create "+kdir+": "+err.Error())
		}
		staging := fsops.TempPath(kdir, b.A)
		if err := fsops.CopyTree(tmp+"/"+tarball.MainTree+"/"+b.K+"/"+b.A, staging); err != nil {
			e.warn(fsops.RemoveTree(staging))
			return e.P.Die(6, "Could not load "+dst+": "+err.Error())
		}
		if err := fsops.RemoveTreeAtomic(dst); err != nil {
			return e.P.Die(6, "Could not replace "+dst+": "+err.Error())
		}
		if err := fsops.RenamePath(staging, dst); err != nil {
			e.warn(fsops.RemoveTree(staging))
			return e.P.Die(6, "Could not load "+dst+": "+err.Error())
		}
	}
	if part == tarball.BinariesOnly && !fsops.IsDir(e.L.SourceDir(m, v)) {
		if staged != "" {
			if err := fsops.RenamePath(staged, e.L.VersionDir(m, v)); err != nil {
				return e.P.Die(6, "Could not load "+e.L.VersionDir(m, v)+": "+err.Error())
			}
		}
		return errLoadedWithoutSource
	}
	e.stagedVersion = staged
	return nil
}

// loadGeneric handles an archive not made by mktarball (§6.11 step 4):
// the directory of the first dkms.conf in walk order is added as a source
// tree.
func (e *Engine) loadGeneric(ctx context.Context, path, tmp string) error {
	found := tarball.FirstConf(tmp)
	if found == "" {
		return e.P.Die(3, noConfInArchive)
	}
	dir := filepath.Dir(found)
	if err := tarball.LinksStayInside(dir); err != nil {
		return e.refuseArchive(path, err)
	}
	return e.addFromPath(ctx, dir, path, tmp)
}

const noConfInArchive = "Tarball does not appear to be a correctly formed DKMS archive. No dkms.conf found within it."

// refuseArchive dies for an archive that failed validation; nothing has
// been written to the trees at this point.
func (e *Engine) refuseArchive(path string, err error) error {
	var re *tarball.RefusedError
	reason := err.Error()
	if errors.As(err, &re) {
		reason = "member " + re.Member + ": " + re.Reason
	}
	return e.P.Die(3, "Refusing to load "+path+": it is not a safe DKMS archive.", reason,
		"Nothing was written to the DKMS tree.")
}

// archiveNameError names the dkms.conf of a refused PACKAGE_NAME or
// PACKAGE_VERSION by its place in the archive, not in our temporary
// directory.
func archiveNameError(tmp string, err error) error {
	var ne *dkmsconf.NameError
	if errors.As(err, &ne) {
		if real, rerr := filepath.EvalSymlinks(tmp); rerr == nil {
			tmp = real
		}
		if rel, rerr := filepath.Rel(tmp, ne.File); rerr == nil && !strings.HasPrefix(rel, "..") {
			c := *ne
			c.File = rel
			return &c
		}
	}
	return err
}

// loadRPM hands an .rpm to rpm and then runs autoinstall (§6.11 step 2).
// The returned error always ends the command, with autoinstall's status
// (an ExitError, possibly with code 0, so add does not carry on).
func (e *Engine) loadRPM(ctx context.Context, path string) error {
	cmd := proc.Command(ctx, true, "rpm", "-Uvh", path)
	cmd.Stdout, cmd.Stderr = e.P.Stdout(), e.P.Stderr()
	if err := proc.Run(cmd); err != nil {
		return e.P.Die(9, "Unable to install "+path+" using rpm.", "Check to ensure that your system can install .rpm files.")
	}
	return &ui.ExitError{Code: ui.Code(e.Autoinstall(ctx))}
}
