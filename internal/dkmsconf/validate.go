package dkmsconf

import (
	"fmt"
	"io"
	"strings"

	"github.com/dkms-go/dkms/internal/shconf"
)

// validate writes §4.5's messages in upstream's order and reports whether
// the conf is usable. It also stores the normalised booleans in c.
func validate(c *Conf, vals map[string]shconf.Var, strict bool, w io.Writer) bool {
	ok := true
	fail := func(format string, args ...any) {
		fmt.Fprintf(w, "dkms.conf: Error! "+format+"\n", args...)
		ok = false
	}
	if c.PackageName == "" {
		fail("No 'PACKAGE_NAME' directive specified.")
	}
	if c.PackageVersion == "" {
		fail("No 'PACKAGE_VERSION' directive specified.")
	}
	for i, r := range c.Records {
		if r.BuiltName == "" {
			fail("No 'BUILT_MODULE_NAME' directive specified for record #%d.", i)
		}
		if hasObjSuffix(r.BuiltName) {
			fail("'BUILT_MODULE_NAME' directive ends in '.o' or '.ko' in record #%d.", i)
		}
		if hasObjSuffix(r.DestName) {
			fail("'DEST_MODULE_NAME' directive ends in '.o' or '.ko' in record #%d.", i)
		}
		// Exactly one of the two for a bad location (delta C2): the prefix
		// test is only reached for a non-empty value.
		switch {
		case r.DestLocation == "":
			fail("No 'DEST_MODULE_LOCATION' directive specified for record #%d.", i)
		case !strings.HasPrefix(r.DestLocation, "/kernel") && !strings.HasPrefix(r.DestLocation, "/updates") &&
			!strings.HasPrefix(r.DestLocation, "/extra"):
			fail("Directive 'DEST_MODULE_LOCATION' does not begin with\n'/kernel', '/updates', or '/extra' in record #%d.", i)
		}
	}
	for _, b := range []struct {
		name string
		dst  *bool
	}{
		{"AUTOINSTALL", &c.AutoInstall},
		{"BUILD_DEPENDS_REBUILD", &c.BuildDependsRebuild},
		{"NO_WEAK_MODULES", &c.NoWeakModules},
	} {
		v := vals[b.name].Index(0)
		switch strings.ToLower(v) {
		case "":
		case "yes":
			*b.dst = true
		case "no":
		default:
			fail("Unsupported %s value '%s'", b.name, v)
		}
	}
	if strict && !c.CheckStrict(w) {
		ok = false
	}
	return ok
}

// CheckStrict runs §4.5's extra checks of a strict read: the zero-modules
// warning, then the duplicate built names, then the duplicate dest names.
// They run on every strict read, also one the caller answers from its
// cache. It reports whether the conf passed.
func (c *Conf) CheckStrict(w io.Writer) bool {
	if len(c.Records) == 0 {
		fmt.Fprintln(w, "dkms.conf: Warning! Zero modules specified.")
	}
	ok := true
	built := map[string]bool{}
	for i, r := range c.Records {
		key := r.BuiltLocation + r.BuiltName
		if built[key] {
			fmt.Fprintf(w, "dkms.conf: Error! Duplicate module '%s' in 'BUILT_MODULE_NAME[%d]'.\n", key, i)
			ok = false
		}
		built[key] = true
	}
	dest := map[string]bool{}
	for i, r := range c.Records {
		if dest[r.DestName] {
			fmt.Fprintf(w, "dkms.conf: Error! Duplicate module '%s' in 'DEST_MODULE_NAME[%d]'.\n", r.DestName, i)
			ok = false
		}
		dest[r.DestName] = true
	}
	return ok
}

func hasObjSuffix(s string) bool { return strings.HasSuffix(s, ".o") || strings.HasSuffix(s, ".ko") }
