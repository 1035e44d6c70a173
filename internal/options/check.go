package options

import "github.com/dkms-go/dkms/internal/modname"

// Invalid is a combination of options dkms refuses (§2.3): the exit
// status and the lines of its error block.
type Invalid struct {
	Code  int
	Lines []string
}

// Check performs the global validation of §2.3, the names (ours,
// COMPATIBILITY.md: before any action can use them as path parts) and the
// kernel hooks' own argument checks, in upstream's order.
func (o *Options) Check() *Invalid {
	bad := func(code int, lines ...string) *Invalid { return &Invalid{Code: code, Lines: lines} }
	if o.BinariesOnly && o.SourceOnly {
		return bad(8, "You have specified both --binaries-only and --source-only.", "You cannot do this.")
	}
	if len(o.Arches) > 1 && len(o.Arches) != len(o.Kernels) {
		return bad(1, "If more than one arch is specified on the command line, then there",
			"must be an equal number of kernel versions also specified (1:1 relationship).")
	}
	if len(o.Kernels) > 0 && o.All {
		return bad(2, "You cannot specify a kernel version and also specify", "--all on the command line.")
	}
	if len(o.Arches) > 0 && o.All {
		return bad(3, "You cannot specify an arch and also specify", "--all on the command line.")
	}
	if err := o.CheckNames(); err != nil {
		return bad(1, err.Error(), modname.Rule)
	}
	switch o.Action {
	case "kernel_preinst", "kernel_postinst", "kernel_prerm":
		if o.All {
			return bad(5, "The action "+o.Action+" does not support the --all parameter.")
		}
		if len(o.Kernels) != 1 {
			return bad(4, "The action "+o.Action+" requires exactly one kernel version parameter on the command line.")
		}
	}
	return nil
}
