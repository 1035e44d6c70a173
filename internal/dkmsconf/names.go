package dkmsconf

import (
	"fmt"

	"github.com/dkms-go/dkms/internal/modname"
)

// CheckNames applies modname's rule to PACKAGE_NAME and PACKAGE_VERSION.
// The engine calls it wherever a conf's names become the module and
// version (add from a path, every kind of archive) and before anything is
// written or removed. The error names the file and the directive. Empty
// values are validate's business (upstream's "No 'PACKAGE_NAME' directive
// specified.").
func (c *Conf) CheckNames() error {
	for _, d := range []struct{ name, value string }{{"PACKAGE_NAME", c.PackageName}, {"PACKAGE_VERSION", c.PackageVersion}} {
		if d.value == "" {
			continue
		}
		if err := modname.Check(d.value); err != nil {
			return &NameError{File: c.Path, Directive: d.name, Err: err.(*modname.Error)}
		}
	}
	return nil
}

// NameError is a PACKAGE_NAME or PACKAGE_VERSION that cannot be used.
type NameError struct {
	File, Directive string
	Err             *modname.Error
}

func (e *NameError) Error() string {
	return fmt.Sprintf("%s: %s %q %s", e.File, e.Directive, e.Err.Value, e.Err.Reason)
}

func (e *NameError) Unwrap() error { return e.Err }
