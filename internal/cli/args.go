package cli

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/dkms-go/dkms/internal/options"
)

// Actions are the action words of dkms 3.4.3, plus our extensions.
var Actions = map[string]bool{
	"add": true, "remove": true, "build": true, "unbuild": true, "install": true,
	"uninstall": true, "match": true, "autoinstall": true, "mktarball": true,
	"ldtarball": true, "status": true, "generate_mok": true, "kernel_preinst": true,
	"kernel_postinst": true, "kernel_prerm": true,
	// Extensions (docs/COMPATIBILITY.md).
	"initramfs-check": true, "mkdeb": true, "mkrpm": true, "doctor": true,
}

// Options is everything the command line can set: the engine's options
// (internal/options) and the switches only the parser acts on.
type Options struct {
	options.Options
	Quiet bool
}

// Event reports something the parser must print or do at the moment it
// meets an argument, because dkms acts on some arguments immediately.
type Event int

const (
	// Continue means parsing finished normally.
	Continue Event = iota
	// ExitVersion: print the version and exit 0.
	ExitVersion
	// ExitHelp: print the usage and exit 0.
	ExitHelp
	// ExitUnknown: unknown option (Bad holds it); error, usage, exit 2.
	ExitUnknown
	// ExitTwoActions: a second action word; die 4.
	ExitTwoActions
)

// Result is the outcome of Parse.
type Result struct {
	Event Event
	Bad   string
}

// Output lets the parser print warnings as upstream does, and switch to
// silence when -q is met (earlier output stays).
type Output interface {
	Stderr() io.Writer
	Silence()
}

type valueOpt struct {
	short  string // "-m"; "" if none
	long   string // "--module"; "" if none
	prefix bool   // long form matches any argument starting with it
	sepOK  bool   // long form accepts "--opt value"
	set    func(o *Options, v string)
}

func setModuleSpec(o *Options, v string) {
	if i := strings.IndexByte(v, '/'); i >= 0 {
		o.Module, o.Version = v[:i], v[i+1:]
		return
	}
	o.Module = v
}

func addKernel(o *Options, v string) {
	if i := strings.IndexByte(v, '/'); i >= 0 {
		o.Kernels = append(o.Kernels, v[:i])
		o.Arches = append(o.Arches, v[i+1:])
		return
	}
	o.Kernels = append(o.Kernels, v)
}

// The order matters: --archive must be tried before --arch.
var valueOpts = []valueOpt{
	{"-m", "--module", true, true, setModuleSpec},
	{"-v", "", false, false, func(o *Options, v string) { o.Version = v }},
	{"-k", "--kernelver", true, true, addKernel},
	{"", "--archive", true, true, func(o *Options, v string) { o.Archive = v }},
	{"-a", "--arch", true, true, func(o *Options, v string) { o.Arches = append(o.Arches, v) }},
	{"-c", "", false, false, func(o *Options, v string) { o.ConfPath = v }},
	{"", "--templatekernel", true, true, func(o *Options, v string) { o.TemplateKernel = v }},
	{"", "--config", true, true, func(o *Options, v string) { o.KernelConfig = v }},
	{"", "--kernelsourcedir", true, true, func(o *Options, v string) { o.KernelSourceDir = v }},
	{"", "--dkmstree", true, true, func(o *Options, v string) { o.DKMSTree = &v }},
	{"", "--sourcetree", true, true, func(o *Options, v string) { o.SourceTree = &v }},
	{"", "--installtree", true, true, func(o *Options, v string) { o.InstallTree = &v }},
	{"", "--directive", true, true, func(o *Options, v string) { o.Directives = append(o.Directives, v) }},
	{"-j", "", false, false, func(o *Options, v string) { o.Jobs = &v }},
}

var flagOpts = map[string]func(o *Options){
	"-q": func(o *Options) { o.Quiet = true }, "--quiet": func(o *Options) { o.Quiet = true },
	"--force":                  func(o *Options) { o.Force = true },
	"--force-version-override": func(o *Options) { o.ForceVersion = true },
	"--all":                    func(o *Options) { o.All = true },
	"--verbose":                func(o *Options) { o.Verbose = true },
	"--rpm_safe_upgrade":       func(o *Options) { o.RPMSafeUpgrade = true },
	"--binaries-only":          func(o *Options) { o.BinariesOnly = true },
	"--source-only":            func(o *Options) { o.SourceOnly = true },
	"--no-depmod":              func(o *Options) { o.NoDepmod = true },
	"--modprobe-on-install":    func(o *Options) { o.ModprobeOnInstall = true },
	"--symlink-modules":        func(o *Options) { o.SymlinkModules = true },
	"--json":                   func(o *Options) { o.JSON = true },
	"--debug":                  func(o *Options) {},
}

var deprecatedFlags = map[string]bool{"--no-initrd": true, "--no-clean-kernel": true, "--no-prepare-kernel": true}

// trimValue reads a value as one line with surrounding blanks removed, as
// upstream's `read` does.
func trimValue(v string) string {
	if i := strings.IndexByte(v, '\n'); i >= 0 {
		v = v[:i]
	}
	return strings.Trim(v, " \t")
}

// Parse processes args (without the program name) left to right.
func Parse(args []string, out Output) (*Options, Result) {
	o := &Options{}
	for i := 0; i < len(args); i++ {
		arg := args[i]
		next := func() string {
			if i+1 < len(args) {
				i++
				return args[i]
			}
			return ""
		}
		if strings.HasPrefix(arg, "-") {
			matched := false
			for _, vo := range valueOpts {
				switch {
				case vo.short != "" && arg == vo.short:
					vo.set(o, trimValue(next()))
					matched = true
				case vo.long != "" && (arg == vo.long || (vo.prefix && strings.HasPrefix(arg, vo.long))):
					if eq := strings.IndexByte(arg, '='); eq >= 0 {
						vo.set(o, trimValue(arg[eq+1:]))
					} else {
						vo.set(o, trimValue(next()))
					}
					matched = true
				}
				if matched {
					break
				}
			}
			if matched {
				continue
			}
			switch {
			case arg == "-V" || arg == "--version":
				return o, Result{Event: ExitVersion}
			case arg == "-h" || arg == "--help":
				return o, Result{Event: ExitHelp}
			case deprecatedFlags[arg]:
				fmt.Fprintf(out.Stderr(), "Deprecated feature: %s\n", arg)
				continue
			}
			if arg == "--json" && o.Action != "initramfs-check" && o.Action != "doctor" {
				// Ours, and only for initramfs-check and doctor: elsewhere
				// it is an unknown option, as upstream has it.
				return o, Result{Event: ExitUnknown, Bad: arg}
			}
			if f, ok := flagOpts[arg]; ok {
				f(o)
				if o.Quiet {
					out.Silence()
				}
				continue
			}
			return o, Result{Event: ExitUnknown, Bad: arg}
		}
		if Actions[arg] {
			if o.Action != "" {
				return o, Result{Event: ExitTwoActions}
			}
			o.Action = arg
			continue
		}
		if st, err := os.Stat(arg); err == nil {
			if st.Mode().IsRegular() && strings.HasSuffix(arg, "dkms.conf") {
				o.SourceTreeToAdd = strings.TrimSuffix(arg, "dkms.conf") + "./"
				continue
			}
			if st.IsDir() {
				if cst, err := os.Stat(filepath.Join(arg, "dkms.conf")); err == nil && cst.Mode().IsRegular() {
					o.SourceTreeToAdd = arg
					continue
				}
			}
			if st.Mode().IsRegular() {
				o.Archive = arg
				continue
			}
		}
		if o.Module == "" {
			setModuleSpec(o, arg)
			continue
		}
		fmt.Fprintf(out.Stderr(), "Warning: I do not know how to handle %s.\n", arg)
	}
	return o, Result{Event: Continue}
}

// Usage is the usage text of §2.6; prog is the program path as invoked.
func Usage(prog string) string {
	return "Usage: " + prog + ` [action] [options]
  [action]  = { add | remove | build | unbuild | install | uninstall | match |
               autoinstall | mktarball | ldtarball | status | generate_mok |
               kernel_preinst | kernel_postinst | kernel_prerm }
  [options] = [-m module] [-v module-version] [-k kernel-version] [-a arch]
              [-c dkms.conf-location] [-q] [--force] [--force-version-override] [--all]
              [--templatekernel=kernel] [--directive='cli-directive=cli-value']
              [--config=kernel-include/config/auto.conf-location] [--archive=tarball-location]
              [--kernelsourcedir=source-location] [--rpm_safe_upgrade]
              [--dkmstree path] [--sourcetree path] [--installtree path]
              [--binaries-only] [--source-only] [--verbose]
              [--no-depmod] [--modprobe-on-install] [-j number] [--version] [--help]
`
}
