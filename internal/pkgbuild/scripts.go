package pkgbuild

import (
	"sort"
	"strings"
)

// shellQuote quotes s for POSIX sh.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// scriptFlavor selects the package format's conventions.
type scriptFlavor int

const (
	flavorDeb scriptFlavor = iota
	flavorRPM
)

// configureFunc is the shared body of the post-install scripts: the
// dkms_configure function of dh_dkms's postinst, written out so the package
// does not depend on /usr/lib/dkms/common.postinst being present.
//
// Kernels considered are the running one and every kernel with headers
// (/lib/modules/<k>/build), plus installed kernels the package carries
// prebuilt modules for, which need no headers.
const configureFunc = `dkms_configure() {
	if [ -e /etc/dkms/no-autoinstall ]; then
		echo "autoinstall for dkms modules has been disabled."
		return 0
	fi

	# Prebuilt modules first: ldtarball loads them and adds the module from
	# the source this package put in /usr/src, so the kernels they were built
	# for need no compiler.
	loaded=
	if [ -n "$ARCHIVE" ] && [ -f "$ARCHIVE" ]; then
		if dkms ldtarball "$ARCHIVE"; then
			loaded=1
		else
			echo "Could not load the prebuilt modules of $ARCHIVE; building from source." >&2
		fi
	fi
	if [ -z "$loaded" ]; then
		rc=0
		dkms add -m "$NAME" -v "$VERSION"$ADD_FLAGS || rc=$?
		# 3: the module/version is already in the DKMS tree (a reinstall).
		if [ "$rc" -ne 0 ] && [ "$rc" -ne 3 ]; then
			return "$rc"
		fi
	fi

	current=$(uname -r)
	machine=$(uname -m)
	kernels=
	for dir in /lib/modules/*; do
		[ -d "$dir" ] || continue
		k=${dir##*/}
		prebuilt=
		case " $PREBUILT " in *" $k/$machine "*) prebuilt=1 ;; esac
		if [ "$k" = "$current" ] || [ -e "$dir/build" ] || [ -n "$prebuilt" ]; then
			kernels="$kernels $k"
		fi
	done
	if [ -z "$kernels" ]; then
		echo "WARNING: No kernel headers were found, skipping module build."
		echo "         To get the headers for the running kernel ($current)"
		echo "         please install the linux-headers-$current package."
		return 0
	fi

	for k in $kernels; do
		echo ""
		case "$k" in
		*BOOT*)
			echo "Module build and install for $k was skipped as "
			echo "it is a BOOT variant"
			continue
			;;
		esac
		prebuilt=
		if [ -n "$loaded" ]; then
			case " $PREBUILT " in *" $k/$machine "*) prebuilt=1 ;; esac
		fi
		if [ -n "$prebuilt" ]; then
			if dkms install -m "$NAME" -v "$VERSION" -k "$k"; then
				continue
			fi
			# An older dkms loads only the first kernel of an archive, and
			# a prebuilt module can fail its version checks: compile instead.
			echo "Installing the prebuilt $NAME/$VERSION for $k failed; building it from source." >&2
		fi
		if [ ! -e "/lib/modules/$k/build/include" ]; then
			echo "Module build for kernel $k was skipped since the"
			echo "kernel headers for this kernel do not seem to be installed."
			continue
		fi
		echo "Building initial module $NAME/$VERSION for $k"
		rc=0
		dkms build -m "$NAME" -v "$VERSION" -k "$k" || rc=$?
		# 77: BUILD_EXCLUSIVE rules this kernel out.
		if [ "$rc" -eq 77 ]; then
			continue
		elif [ "$rc" -ne 0 ]; then
			return "$rc"
		fi
		dkms install -m "$NAME" -v "$VERSION" -k "$k"
	done
}
`

// scriptHeader sets the variables the scripts use.
func scriptHeader(s Spec, flavor scriptFlavor) string {
	var b strings.Builder
	b.WriteString("#!/bin/sh\n")
	b.WriteString("# Maintainer script of " + packageName(s.Module) + ", written by dkms.\n")
	b.WriteString("set -e\n\n")
	b.WriteString("NAME=" + shellQuote(s.Module) + "\n")
	b.WriteString("VERSION=" + shellQuote(s.Version) + "\n")
	archive := ""
	var prebuilt []string
	if len(s.Binaries) > 0 {
		archive = s.archivePath()
		for _, bin := range s.Binaries {
			prebuilt = append(prebuilt, bin.Kernel+"/"+bin.Arch)
		}
		sort.Strings(prebuilt)
	}
	b.WriteString("ARCHIVE=" + shellQuote(archive) + "\n")
	b.WriteString("PREBUILT=" + shellQuote(strings.Join(prebuilt, " ")) + "\n")
	if flavor == flavorRPM {
		// With --rpm_safe_upgrade, add leaves a lock that makes the old
		// package's %preun skip its remove when an upgrade re-adds the same
		// version (RPM runs the new %post before the old %preun).
		b.WriteString("ADD_FLAGS=' --rpm_safe_upgrade'\n")
	} else {
		b.WriteString("ADD_FLAGS=''\n")
	}
	b.WriteString("\n")
	return b.String()
}

// postinst is the Debian post-install maintainer script.
func postinst(s Spec) string {
	return scriptHeader(s, flavorDeb) + configureFunc + `
case "$1" in
configure)
	dkms_configure
	;;
abort-upgrade|abort-remove|abort-deconfigure)
	;;
*)
	echo "postinst called with unknown argument \"$1\"" >&2
	exit 1
	;;
esac

exit 0
`
}

// prerm is the Debian pre-removal maintainer script, as dh_dkms writes it.
func prerm(s Spec) string {
	return scriptHeader(s, flavorDeb) + `case "$1" in
remove|upgrade|deconfigure)
	if [ -n "$(dkms status -m "$NAME" -v "$VERSION")" ]; then
		dkms remove -m "$NAME" -v "$VERSION" --all
	fi
	;;
esac

exit 0
`
}

// rpmPost is the %post scriptlet; $1 is the number of installed
// instances, which does not change what has to be done.
func rpmPost(s Spec) string {
	return scriptHeader(s, flavorRPM) + configureFunc + "\ndkms_configure\nexit 0\n"
}

// rpmPreun is the %preun scriptlet of dkms 2.x RPMs. A failing remove must
// not block the erase, hence the unconditional success.
func rpmPreun(s Spec) string {
	return scriptHeader(s, flavorRPM) + `echo ""
echo "Uninstall of $NAME module (version $VERSION) beginning:"
if [ -n "$(dkms status -m "$NAME" -v "$VERSION")" ]; then
	dkms remove -m "$NAME" -v "$VERSION" --all --rpm_safe_upgrade || :
fi
exit 0
`
}
