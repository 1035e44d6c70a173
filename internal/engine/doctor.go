package engine

import (
	"bytes"
	"context"
	"io"
	"strings"

	"github.com/dkms-go/dkms/internal/dkmsconf"
	"github.com/dkms-go/dkms/internal/doctor"
	"github.com/dkms-go/dkms/internal/kver"
	"github.com/dkms-go/dkms/internal/statuscache"
	"github.com/dkms-go/dkms/internal/tree"
	"github.com/dkms-go/dkms/internal/ui"
)

// Doctor runs `dkms doctor [-k K]... [--json]` (our extension): it checks,
// without changing anything, whether the DKMS modules of every installed
// kernel (or the ones given) will load at the next boot. Exit 0 healthy,
// 1 a problem, 2 something could not be checked.
func (e *Engine) Doctor(ctx context.Context) error {
	rep, err := e.DoctorReport(ctx, e.O.Kernels, false, false)
	if err != nil {
		return e.P.Die(2, "Cannot list the installed kernels: "+err.Error())
	}
	if e.O.JSON {
		rep.WriteJSON(e.P.Stdout())
	} else {
		rep.WriteText(e.P.Stdout())
	}
	if c := rep.ExitCode(); c != 0 {
		return ui.Exit(c)
	}
	return nil
}

// DoctorReport runs the doctor's checks for kernels (every installed one
// when empty); skipInitramfs leaves out the initramfs check.
func (e *Engine) DoctorReport(ctx context.Context, kernels []string, skipInitramfs, depmodPending bool) (*doctor.Report, error) {
	fw, _ := dkmsconf.ReadFramework(ctx, e.L.EtcDir(), []string{"mok_certificate"}, "", e.Env, io.Discard)
	cert := fw["mok_certificate"]
	if cert == "" {
		cert = e.L.MOKCert()
	}
	// Installed modules need only their records, which status's cache
	// holds; a run without the tree lock also takes directory listings
	// from it, as status does.
	cache := e.loadStatusCache()
	defer cache.Save(statusTemp)
	if !e.tree.Locked() && e.tree.Lists == nil {
		e.tree.Lists = cache
		defer e.tree.DropListings()
	}
	return doctor.Check(ctx, doctor.Options{
		Root: e.L.Root, InstallTree: e.L.InstallTree, Kernels: kernels, Running: e.CurrentKern,
		Distro: e.Distro, Cert: cert, HeadersDir: e.kernelSourceDir, Env: e.Env,
		Modules: func(ctx context.Context, k string) ([]doctor.Module, error) {
			return e.autoinstallModules(ctx, cache, k, e.Machine), nil
		},
		InitramfsCache: e.L.InitramfsIndex(), SkipInitramfs: skipInitramfs, DepmodPending: depmodPending,
	})
}

// autoinstallModules describes, read-only, the modules autoinstall would
// consider for kernel k: the latest version of every AUTOINSTALL module,
// plus any other module installed for k (the next boot loads those too).
func (e *Engine) autoinstallModules(ctx context.Context, cache *statuscache.Cache, k, a string) []doctor.Module {
	var out []doctor.Module
	var msgs bytes.Buffer
	quiet := e.child(ui.New(io.Discard, &msgs))
	for _, m := range e.tree.Modules("") {
		latest, broken := "", ""
		for _, v := range e.tree.Versions(m, "") {
			switch e.tree.State(m, v) {
			case tree.Added:
				if latest == "" || kver.Less(latest, v) {
					latest = v
				}
			case tree.Broken:
				broken = v
			}
		}
		if latest == "" {
			if broken != "" {
				out = append(out, doctor.Module{Module: m, Version: broken, Broken: true})
			}
			continue
		}
		v := latest
		t := tree.Target{Module: m, Version: v, Kernel: k, Arch: a}
		dm := doctor.Module{Module: m, Version: v, Built: e.tree.IsBuilt(t), Installed: e.tree.IsInstalled(t),
			MakeLog: e.L.MakeLog(m, v)}
		msgs.Reset()
		if dm.Installed {
			if recs, ok := quiet.statusRecords(ctx, cache, t); ok {
				dm.Files = e.doctorFiles(recs, t)
				out = append(out, dm)
				continue
			}
		}
		c, err := quiet.readConf(ctx, confRead{Target: tree.Target{Module: m, Version: v, Kernel: k, Arch: a}, quiet: true})
		if err != nil {
			dm.ConfError = firstMessage(msgs.String(), err)
			out = append(out, dm)
			continue
		}
		if !c.AutoInstall && !dm.Installed {
			continue
		}
		if c.Excluded(k, a, e.kernelConfig(k)) {
			dm.Excluded = c.ExclusiveDirectives()
		}
		dm.Depends = strings.Fields(strings.Join(c.BuildDepends, " "))
		if dm.Installed {
			dm.Files = e.doctorFiles(c.Records, t)
		}
		out = append(out, dm)
	}
	return out
}

// doctorFiles locates the built and installed file of each record.
func (e *Engine) doctorFiles(recs []dkmsconf.Record, t tree.Target) []doctor.File {
	m, v, k, a := t.Module, t.Version, t.Kernel, t.Arch
	var fs []doctor.File
	for _, r := range recs {
		f := doctor.File{Name: r.DestName, Built: tree.FindKo(e.L.BuiltModules(m, v, k, a), r.DestName)}
		ref := f.Built
		if ref == "" {
			ref = r.DestName + ".ko"
		}
		f.Installed = e.mods().InstalledCopy(r, k, ref)
		fs = append(fs, f)
	}
	return fs
}

func firstMessage(msgs string, err error) string {
	for _, l := range strings.Split(msgs, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			return l
		}
	}
	return err.Error()
}
