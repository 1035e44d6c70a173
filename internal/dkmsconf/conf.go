package dkmsconf

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/dkms-go/dkms/internal/shconf"
)

// Record is one module of a package (the i-th element of the module arrays).
type Record struct {
	BuiltName, BuiltLocation, DestName, DestLocation string // BuiltLocation has a trailing "/" or is ""; DestLocation = raw value
	Strip                                            bool
	// Exclusive is element i of the BUILD_EXCLUSIVE arrays (delta D5.1);
	// record 0's is also the global restriction, with OBSOLETE_BY as its
	// maximum where D4 says so.
	Exclusive Exclusive
}

// Exclusive is one element of each of the five BUILD_EXCLUSIVE arrays.
type Exclusive struct {
	Kernel, KernelMin, KernelMax, Arch, Config string
}

// Conf is a read and validated dkms.conf.
type Conf struct {
	Path                                                              string // the dkms.conf that was read
	PackageName, PackageVersion                                       string
	Records                                                           []Record // N per §4.5 (sparse arrays allowed)
	Make, MakeMatch, Patch, PatchMatch                                []string // dense, "" for holes; MakeMatch/PatchMatch up to the highest index, Make/Patch only as long as their number of elements
	BuildDepends                                                      []string // elements in index order (non-empty ones)
	ObsoleteBy                                                        string
	PreBuild, PostBuild, PostAdd, PreInstall, PostInstall, PostRemove string
	AutoInstall, BuildDependsRebuild, NoWeakModules                   bool
}

// ReadOptions says which conf to read and for which module, kernel and arch.
type ReadOptions struct {
	Path                          string            // chosen dkms.conf
	EtcDir                        string            // override chain dir, "" -> /etc/dkms (§4.2 files 2-7)
	Module, Version, Kernel, Arch string            // for the override-chain file names
	Vars                          map[string]string // kernelver, arch, kernel_source_dir, ... visible to the files
	Env                           []string          // environment (the DKMS_DIRECTIVE* hook reads it too)
	Directives                    []string          // --directive values "NAME=VALUE", applied in order
	Strict                        bool              // §4.5 strict-read extras
	FullShell                     bool
	Stdout, Stderr                io.Writer // DIRECTIVE lines -> Stdout; validation/deprecation messages -> Stderr
}

var (
	// ErrNotFound means the chosen dkms.conf is not readable; the caller
	// dies 4 with `Could not locate dkms.conf file.`.
	ErrNotFound = errors.New("dkms.conf not found")
	// ErrInvalid means validation failed; the messages were written to
	// Stderr and the caller dies 8 with `Bad conf file.`.
	ErrInvalid = errors.New("invalid dkms.conf")
	// ErrLinkOutside means the chosen dkms.conf is a symbolic link leaving
	// its directory; nothing of it was read.
	ErrLinkOutside = errors.New("dkms.conf is a symbolic link leading out of its directory")
)

// Directives is the dkms.conf whitelist (§4.3).
var Directives = strings.Fields(`PACKAGE_NAME PACKAGE_VERSION POST_ADD POST_BUILD POST_INSTALL POST_REMOVE
PRE_BUILD PRE_INSTALL BUILD_DEPENDS BUILD_EXCLUSIVE_ARCH BUILD_EXCLUSIVE_CONFIG BUILD_EXCLUSIVE_KERNEL
BUILD_EXCLUSIVE_KERNEL_MIN BUILD_EXCLUSIVE_KERNEL_MAX OBSOLETE_BY MAKE MAKE_MATCH PATCH PATCH_MATCH
BUILT_MODULE_NAME BUILT_MODULE_LOCATION DEST_MODULE_NAME DEST_MODULE_LOCATION STRIP AUTOINSTALL
NO_WEAK_MODULES BUILD_DEPENDS_REBUILD CLEAN REMAKE_INITRD MODULES_CONF MODULES_CONF_OBSOLETES
MODULES_CONF_ALIAS_TYPE MODULES_CONF_OBSOLETE_ONLY`)

var deprecated = []string{"CLEAN", "REMAKE_INITRD", "MODULES_CONF", "MODULES_CONF_OBSOLETES",
	"MODULES_CONF_ALIAS_TYPE", "MODULES_CONF_OBSOLETE_ONLY"}

// chain returns the files of §4.2 in evaluation order, existing ones only.
func chain(o ReadOptions) []string {
	files := Candidates(o)
	out := files[:1]
	for _, p := range files[1:] {
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() {
			out = append(out, p)
		}
	}
	return out
}

// Read evaluates the chain, applies the directives, validates and returns
// the conf. On ErrInvalid the returned Conf is still filled in (status
// ignores validation failures). Evaluation errors from shconf are returned
// wrapped.
func Read(ctx context.Context, o ReadOptions) (*Conf, error) {
	stdout, stderr := o.Stdout, o.Stderr
	if stdout == nil {
		stdout = io.Discard
	}
	if stderr == nil {
		stderr = io.Discard
	}
	f, err := os.Open(o.Path)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrNotFound, o.Path, err)
	}
	f.Close()
	if err := checkLink(o.Path); err != nil {
		return nil, err
	}

	vals := map[string]shconf.Var{}
	// The whole chain in one request to the sandboxed evaluator.
	steps := shconf.EvalChains(ctx, []shconf.Chain{{Files: chain(o), Names: Directives,
		Opts: shconf.Options{Preset: vals, Vars: o.Vars, Env: o.Env, FullShell: o.FullShell, Stderr: stderr}}})[0]
	for _, st := range steps {
		if st.Err != nil {
			return nil, fmt.Errorf("reading dkms.conf: %w", st.Err)
		}
		vals = st.Vals
		if o.Strict {
			for _, name := range deprecated {
				// Set at all counts (an empty value, or only X[1]), as
				// upstream's (( ${#X[@]} )); CLEAN needs a non-true value.
				v := vals[name].Index(0)
				if !vals[name].Set || (name == "CLEAN" && (v == "" || v == "true" || v == "/bin/true" || v == "/usr/bin/true")) {
					continue
				}
				fmt.Fprintf(stderr, "Deprecated feature: %s (%s)\n", name, st.File)
			}
			// Delta D4: set at all counts, an empty value too.
			if vals["OBSOLETE_BY"].Set {
				fmt.Fprintf(stderr, "Deprecated feature: OBSOLETE_BY (%s): use BUILD_EXCLUSIVE_KERNEL_MAX instead\n", st.File)
			}
		}
	}
	if vals == nil {
		vals = map[string]shconf.Var{}
	}
	for _, d := range o.Directives {
		name, value, _ := strings.Cut(d, "=")
		v := vals[name]
		if v.Array {
			elems := map[int]string{0: value}
			for i, e := range v.Elems {
				if i != 0 {
					elems[i] = e
				}
			}
			v.Elems = elems
		} else {
			v = shconf.Var{Set: true, Scalar: value}
		}
		vals[name] = v
		fmt.Fprintf(stdout, "DIRECTIVE: %s=\"%s\"\n", name, value)
	}
	c := build(o.Path, vals)
	if !validate(c, vals, o.Strict, stderr) {
		return c, ErrInvalid
	}
	return c, nil
}

func dense(v shconf.Var) []string {
	out := make([]string, v.Len())
	for i := range out {
		out[i] = v.Index(i)
	}
	return out
}

// elements is dense(v) cut to the number of elements (bash's ${#X[@]}):
// the loops over MAKE and PATCH stop there (§4.7, §4.8), so the highest
// elements of a sparse array are never looked at.
func elements(v shconf.Var) []string {
	n := len(v.Elems)
	if !v.Array && v.Set {
		n = 1
	}
	d := dense(v)
	return d[:min(n, len(d))]
}

func build(path string, vals map[string]shconf.Var) *Conf {
	s := func(n string) string { return vals[n].Index(0) }
	c := &Conf{
		Path:           path,
		PackageName:    s("PACKAGE_NAME"),
		PackageVersion: s("PACKAGE_VERSION"),
		Make:           elements(vals["MAKE"]),
		MakeMatch:      dense(vals["MAKE_MATCH"]),
		Patch:          elements(vals["PATCH"]),
		PatchMatch:     dense(vals["PATCH_MATCH"]),
		ObsoleteBy:     s("OBSOLETE_BY"),
		PreBuild:       s("PRE_BUILD"),
		PostBuild:      s("POST_BUILD"),
		PostAdd:        s("POST_ADD"),
		PreInstall:     s("PRE_INSTALL"),
		PostInstall:    s("POST_INSTALL"),
		PostRemove:     s("POST_REMOVE"),
	}
	for _, d := range dense(vals["BUILD_DEPENDS"]) {
		if d != "" {
			c.BuildDepends = append(c.BuildDepends, d)
		}
	}
	n := 0
	for _, name := range []string{"BUILT_MODULE_NAME", "BUILT_MODULE_LOCATION", "DEST_MODULE_NAME", "DEST_MODULE_LOCATION"} {
		n = max(n, vals[name].Len())
	}
	strip0 := true
	for i := 0; i < n; i++ {
		r := Record{
			BuiltName:     vals["BUILT_MODULE_NAME"].Index(i),
			BuiltLocation: vals["BUILT_MODULE_LOCATION"].Index(i),
			DestName:      vals["DEST_MODULE_NAME"].Index(i),
			DestLocation:  vals["DEST_MODULE_LOCATION"].Index(i),
		}
		if r.BuiltName == "" && n == 1 {
			r.BuiltName = c.PackageName
		}
		if r.BuiltLocation != "" && !strings.HasSuffix(r.BuiltLocation, "/") {
			r.BuiltLocation += "/"
		}
		if r.DestName == "" {
			r.DestName = r.BuiltName
		}
		r.Strip = stripValue(vals["STRIP"].Index(i), strip0)
		if i == 0 {
			strip0 = r.Strip
		}
		r.Exclusive = Exclusive{
			Kernel:    vals["BUILD_EXCLUSIVE_KERNEL"].Index(i),
			KernelMin: vals["BUILD_EXCLUSIVE_KERNEL_MIN"].Index(i),
			KernelMax: vals["BUILD_EXCLUSIVE_KERNEL_MAX"].Index(i),
			Arch:      vals["BUILD_EXCLUSIVE_ARCH"].Index(i),
			Config:    vals["BUILD_EXCLUSIVE_CONFIG"].Index(i),
		}
		c.Records = append(c.Records, r)
	}
	// D4 item 2: OBSOLETE_BY is the global maximum only when no record
	// has a maximum of its own.
	if n > 0 && c.Records[0].Exclusive.KernelMax == "" {
		own := false
		for i := 1; i < n; i++ {
			own = own || c.Records[i].Exclusive.KernelMax != ""
		}
		if !own {
			c.Records[0].Exclusive.KernelMax = c.ObsoleteBy
		}
	}
	return c
}

// stripValue applies §4.4: n/N no, y/Y yes, empty inherits STRIP[0]'s
// result, anything else yes.
func stripValue(v string, inherit bool) bool {
	switch {
	case v == "":
		return inherit
	case v[0] == 'n' || v[0] == 'N':
		return false
	default:
		return true
	}
}
