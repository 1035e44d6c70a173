package autoargs

import (
	"fmt"
	"strconv"

	"github.com/dkms-go/dkms/internal/hook"
)

// Usage is the text of --help, also printed after an unknown argument.
const Usage = `Usage: dkms-autoinstall [options]
  -k, --kernel K     kernel version to work on (repeatable; default: running kernel)
  --all-kernels      every installed kernel that has headers
  --remove           the kernel is being removed: remove all DKMS modules for it
  --preinst          the kernel package is being upgraded: remove AUTOINSTALL modules
  --boot             boot unit mode: running kernel, sd_notify, journal, load modules
  --hook NAME        called from a kernel hook (postinst, prerm, preinst, kernel-install)
  -j N               parallel make jobs shared by all builds (default: parallel_jobs)
  --strict           exit non-zero when a module fails (default for --boot; hooks
                     log the failure and exit 0 unless autoinstall_strict is set)
  --load, --no-load  load new modules that match present hardware (default: --boot only)
  --no-depmod        do not run depmod
  --dkmstree, --sourcetree, --installtree PATH   override the trees
`

// Args is a parsed command line.
type Args struct {
	Hook hook.Options
	// The tree overrides, nil when not given (an empty value is given).
	DKMSTree, SourceTree, InstallTree *string
	NoDepmod                          bool
	// Help is -h or --help: print Usage and do nothing else. Arguments
	// after it are not looked at.
	Help bool
}

// Error is a bad command line. Its text is the line to print after
// "dkms-autoinstall: "; ShowUsage asks for Usage after it.
type Error struct {
	Msg       string
	ShowUsage bool
}

func (e *Error) Error() string { return e.Msg }

// Parse reads args (without the program name) from left to right and
// stops at the first error or at -h/--help. An empty -k value adds no
// kernel, as hooks may pass an unset variable.
func Parse(args []string) (Args, error) {
	var a Args
	for i := 0; i < len(args); i++ {
		arg := args[i]
		value := func() (string, error) {
			if i+1 >= len(args) {
				return "", &Error{Msg: arg + " needs a value"}
			}
			i++
			return args[i], nil
		}
		var v string
		var err error
		switch arg {
		case "-k", "--kernel", "--kernelver", "--hook", "-j", "--dkmstree", "--sourcetree", "--installtree":
			if v, err = value(); err != nil {
				return Args{}, err
			}
		}
		switch arg {
		case "-k", "--kernel", "--kernelver":
			if v != "" {
				a.Hook.Kernels = append(a.Hook.Kernels, v)
			}
		case "--all-kernels":
			a.Hook.AllKernels = true
		case "--remove":
			a.Hook.Remove = true
		case "--preinst":
			a.Hook.Preinst = true
		case "--boot":
			a.Hook.Boot = true
		case "--hook":
			a.Hook.Hook = v
		case "-j":
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 {
				return Args{}, &Error{Msg: fmt.Sprintf("-j needs a positive number, got %q", v)}
			}
			a.Hook.Jobs = n
		case "--strict":
			a.Hook.Strict = true
		case "--load", "--no-load":
			load := arg == "--load"
			a.Hook.Load = &load
		case "--dkmstree":
			a.DKMSTree = &v
		case "--sourcetree":
			a.SourceTree = &v
		case "--installtree":
			a.InstallTree = &v
		case "--no-depmod":
			a.NoDepmod = true
		case "-h", "--help":
			a.Help = true
			return a, nil
		default:
			return Args{}, &Error{Msg: fmt.Sprintf("unknown argument %q", arg), ShowUsage: true}
		}
	}
	return a, nil
}
