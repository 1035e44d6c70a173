// Package options holds the engine's options: what one dkms run is asked
// to do, independent of how it was asked (dkms's command line or
// dkms-autoinstall's).
package options

import (
	"errors"
	"fmt"

	"github.com/dkms-go/dkms/internal/modname"
)

// Options are what one run of the engine is asked to do: the action,
// the module and the kernels it names, and the switches that change how
// it runs (§2). internal/cli fills them from dkms's command line;
// dkms-autoinstall sets the few it needs.
type Options struct {
	Action            string
	Module, Version   string
	Kernels, Arches   []string
	ConfPath          string // -c
	TemplateKernel    string
	KernelConfig      string // --config
	Archive           string
	KernelSourceDir   string
	DKMSTree          *string
	SourceTree        *string
	InstallTree       *string
	Directives        []string
	Jobs              *string
	SourceTreeToAdd   string
	Force             bool
	ForceVersion      bool
	All               bool
	Verbose           bool
	RPMSafeUpgrade    bool
	BinariesOnly      bool
	SourceOnly        bool
	NoDepmod          bool
	ModprobeOnInstall bool
	SymlinkModules    bool
	JSON              bool
}

// CheckNames applies modname's rule to the module and version given on
// the command line (-m, -v, or a positional module spec). Empty values are
// left to the actions, which give upstream's usage block for them. So is a
// version without a module: no action uses it as a path part on its own
// (status only looks it up), and a missing absolute path parses that way
// (§2.2 rule 5), which upstream reports as the missing file or the usage.
func (o *Options) CheckNames() error {
	if o.Module == "" {
		return nil
	}
	for _, n := range []struct{ what, value string }{{"module name", o.Module}, {"module version", o.Version}} {
		if n.value == "" {
			continue
		}
		var e *modname.Error
		if errors.As(modname.Check(n.value), &e) {
			//lint:ignore ST1005 printed whole as the line of dkms's error block
			return fmt.Errorf("Invalid %s %q on the command line: it %s.", n.what, e.Value, e.Reason)
		}
	}
	return nil
}
