package doctor

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"sync"

	"github.com/dkms-go/dkms/internal/kver"
	"github.com/dkms-go/dkms/internal/proc"
)

// Module is one AUTOINSTALL module as autoinstall would choose it for a
// kernel (its latest version), described by the engine.
type Module struct {
	Module, Version string
	// ConfError is set when dkms.conf could not be read for the kernel.
	ConfError string
	// Broken: the version's source is missing (dkms status says broken).
	Broken bool
	// Excluded names the BUILD_EXCLUSIVE_* directive (with its value) that
	// keeps the module from this kernel; "" when none does.
	Excluded string
	// Depends are the BUILD_DEPENDS module names.
	Depends []string
	// Built: <dkms_tree>/<m>/<v>/<k>/<a>/module exists.
	Built bool
	// Installed: the kernel-<k>-<a> link points at this version's build.
	Installed bool
	// MakeLog is where a failed build leaves its log (the build
	// directory's make.log); it may not exist.
	MakeLog string
	// Files are the module's kernel module files (one per dkms.conf record).
	Files []File
}

// File is one kernel module file of a DKMS module.
type File struct {
	Name      string // module name, without .ko*
	Built     string // the copy in the dkms tree; "" when there is none
	Installed string // the installed copy; "" when it could not be found
}

// Options say what to check and where.
type Options struct {
	// Root is the system root for /boot, /proc, /sys and /etc ("" or "/").
	Root string
	// InstallTree is /lib/modules as configured (already under Root).
	InstallTree string
	// Kernels to check; empty means every installed kernel.
	Kernels []string
	// Running is the running kernel's release (uname -r).
	Running string
	// Distro is the engine's distribution id, for the advice's commands.
	Distro string
	// Modules lists the AUTOINSTALL modules for kernel k.
	Modules func(ctx context.Context, k string) ([]Module, error)
	// HeadersDir is where dkms looks for kernel k's headers.
	HeadersDir func(k string) string
	// Cert is the certificate DKMS signs modules with (mok_certificate).
	Cert string
	// Run runs a program and returns its standard output; nil runs it
	// from the PATH of Env (of the process when Env is nil), with Env.
	// Only mokutil is run.
	Run func(ctx context.Context, name string, args ...string) ([]byte, error)
	Env []string
	// InitramfsCache is a directory where the index of .ko entries of
	// each initramfs image is kept between runs; "" keeps none.
	InitramfsCache string
	// SkipInitramfs leaves the initramfs alone: the kernel hooks run
	// before the initramfs is regenerated, so its old image says nothing.
	SkipInitramfs bool
	// DepmodPending: a kernel without modules.dep has not had its depmod
	// yet (a kernel hook runs before the kernel package's own), so its
	// absence is no problem; one that exists and cannot be read still is.
	DepmodPending bool
}

func (o *Options) sys(p string) string {
	if o.Root == "" || o.Root == "/" {
		return p
	}
	return filepath.Join(o.Root, p)
}

func (o *Options) run(ctx context.Context, name string, args ...string) ([]byte, error) {
	if o.Run != nil {
		return o.Run(ctx, name, args...)
	}
	prog := name
	if o.Env != nil {
		if prog = lookPath(name, proc.Getenv(o.Env, "PATH")); prog == "" {
			return nil, fmt.Errorf("%s: %w", name, exec.ErrNotFound)
		}
	}
	cmd := exec.CommandContext(ctx, prog, args...)
	cmd.Env = o.Env
	return cmd.Output()
}

// lookPath finds name in the directories of path; "" when it is in none.
func lookPath(name, path string) string {
	for _, d := range filepath.SplitList(path) {
		p := filepath.Join(d, name)
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() && st.Mode()&0o111 != 0 {
			return p
		}
	}
	return ""
}

// Check runs every check and returns the report. An error means nothing
// could be checked (the kernels could not be listed).
func Check(ctx context.Context, o Options) (*Report, error) {
	installed, err := InstalledKernels(o.sys("/boot"), o.InstallTree)
	kernels := o.Kernels
	if len(kernels) == 0 {
		if err != nil {
			return nil, err
		}
		kernels = installed
	}
	// The next boot is decided among every installed kernel, also when
	// only some are checked.
	all := append(append([]string(nil), installed...), kernels...)
	rep := &Report{Kernels: []*KernelReport{}}
	boot := nextBoot(o.sys("/boot"), o.sys("/efi"), all)
	rep.NextBoot, rep.NextBootFrom = boot.kernel, boot.source
	if rep.NextBoot == "" && len(all) > 0 {
		rep.NextBoot, rep.NextBootFrom = newest(all), "newest"
	}
	s := newSigState(ctx, &o)
	rep.SecureBoot = s.secureBoot
	// The engine behind Modules is not safe for concurrent use: ask it
	// first, one kernel after the other.
	type input struct {
		mods    []Module
		err     error
		headers string
	}
	in := make([]input, len(kernels))
	for i, k := range kernels {
		in[i].mods, in[i].err = o.Modules(ctx, k)
		in[i].headers = o.HeadersDir(k)
	}
	krs := make([]*KernelReport, len(kernels))
	var wg sync.WaitGroup
	// Kernels are independent; reading their initramfs images is most of
	// the work, and images of different kernels decompress side by side.
	for i, k := range kernels {
		wg.Add(1)
		go func() {
			defer wg.Done()
			krs[i] = checkKernel(ctx, &o, s, k, in[i].headers, in[i].mods, in[i].err, boot.cmdline[k], k == rep.NextBoot)
		}()
	}
	wg.Wait()
	rep.Kernels = krs
	// The next boot's kernel first, then the others as listed.
	sort.SliceStable(rep.Kernels, func(i, j int) bool { return rep.Kernels[i].NextBoot && !rep.Kernels[j].NextBoot })
	rep.summarise()
	return rep, nil
}

// InstalledKernels lists the kernels with modules in installTree and a
// kernel image in bootDir (or in their module directory, where Arch and
// Fedora keep a copy), newest first.
func InstalledKernels(bootDir, installTree string) ([]string, error) {
	ents, err := os.ReadDir(installTree)
	if err != nil {
		return nil, err
	}
	var ks []string
	for _, de := range ents {
		k := de.Name()
		if !de.IsDir() && de.Type()&os.ModeSymlink == 0 {
			continue
		}
		if hasImage(bootDir, installTree, k) {
			ks = append(ks, k)
		}
	}
	sort.Slice(ks, func(i, j int) bool { return kver.CompareV(ks[i], ks[j]) > 0 })
	return ks, nil
}

func hasImage(bootDir, installTree, k string) bool {
	for _, p := range []string{bootDir + "/vmlinuz-" + k, bootDir + "/vmlinux-" + k, bootDir + "/Image-" + k,
		bootDir + "/kernel-" + k, installTree + "/" + k + "/vmlinuz"} {
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() {
			return true
		}
	}
	return false
}

func newest(ks []string) string {
	best := ""
	for _, k := range ks {
		if best == "" || kver.CompareV(k, best) > 0 {
			best = k
		}
	}
	return best
}

// checkKernel runs every check for kernel k.
func checkKernel(ctx context.Context, o *Options, s *sigState, k, headers string, mods []Module, err error,
	cmdline []string, next bool) *KernelReport {
	kr := &KernelReport{Kernel: k, NextBoot: next, Modules: []*ModuleReport{}, Headers: headers}
	if st, err := os.Stat(kr.Headers + "/include"); err == nil && st.IsDir() {
		kr.HeadersPresent = true
	}
	kc := &kernelCtx{o: o, s: s, k: k, kr: kr, shadowRows: map[string]*ModuleReport{}}
	kc.enforcement(cmdline)
	if err != nil {
		kr.add(&ModuleReport{}, Problem{Verdict: Unchecked, Detail: "listing the DKMS modules: " + err.Error()})
		return kr
	}
	byName := map[string]*Module{}
	for i := range mods {
		byName[mods[i].Module] = &mods[i]
	}
	for i := range mods {
		kc.module(ctx, &mods[i], byName)
	}
	if !o.SkipInitramfs {
		kc.initramfs(ctx)
	}
	if !kr.HeadersPresent && kc.needHeaders {
		kr.Problems = append(kr.Problems, Problem{Verdict: HeadersMissing,
			Detail: "no kernel headers at " + kr.Headers + " (dkms looks there for include/)",
			Advice: headersAdvice(o.Distro, k)})
	}
	return kr
}

// kernelCtx is the state of one kernel's checks.
type kernelCtx struct {
	o  *Options
	s  *sigState
	k  string
	kr *KernelReport
	// enforced: the kernel refuses modules without a trusted signature.
	enforced bool
	dep      map[string]bool // modules.dep entries; nil when unreadable
	depErr   error
	depRead  bool
	depOrder []string // the first in-tree modules of modules.dep
	// needHeaders: some module cannot be built without the headers
	needHeaders bool
	// depReported: the unreadable modules.dep was reported once
	depReported bool
	vermagic    string // the kernel's own vermagic; "" unknown
	vmRead      bool
	// installed files to look for in the initramfs, and their rows
	shadowRows map[string]*ModuleReport
	shadowMods []installedFile
}

type installedFile struct {
	module, version, name, path string
}
