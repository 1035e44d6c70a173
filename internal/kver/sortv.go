package kver

import (
	"slices"
	"strings"
)

// CompareV compares a and b the way GNU `sort -V` does (gnulib filevercmp):
// it returns a negative number, zero or a positive number. Unlike sort, it
// returns 0 for strings that are only version-equal (for example "1.01" and
// "1.1"); SortV adds sort's byte-order tie break.
func CompareV(a, b string) int {
	if a == "" || b == "" {
		switch {
		case a == b:
			return 0
		case a == "":
			return -1
		default:
			return 1
		}
	}
	// Hidden-file rules: "." first, then "..", then other dot names.
	if a[0] == '.' {
		if b[0] != '.' {
			return -1
		}
		if a == "." || b == "." {
			return boolCmp(a != ".", b != ".")
		}
		if a == ".." || b == ".." {
			return boolCmp(a != "..", b != "..")
		}
	} else if b[0] == '.' {
		return 1
	}
	ap, bp := prefixLen(a), prefixLen(b)
	r := verrevcmp(a[:ap], b[:bp])
	if r != 0 || (ap == len(a) && bp == len(b)) {
		return r
	}
	return verrevcmp(a, b)
}

// SortV sorts s in place like `LC_ALL=C sort -V`: version order, ties broken
// by byte order.
func SortV(s []string) {
	slices.SortStableFunc(s, func(a, b string) int {
		if r := CompareV(a, b); r != 0 {
			return r
		}
		return strings.Compare(a, b)
	})
}

func boolCmp(a, b bool) int {
	switch {
	case a == b:
		return 0
	case !a:
		return -1
	default:
		return 1
	}
}

// prefixLen returns the length of s without its file suffix, the longest
// tail matching (\.[A-Za-z~][A-Za-z0-9~]*)*$; sort -V compares without the
// suffix first so that "foo-1.2.tar.gz" and "foo-1.10.tar.gz" order by version.
func prefixLen(s string) int {
	prefix := 0
	for i := 0; ; i++ {
		prefix = i
		for i+1 < len(s) && s[i] == '.' && (isAlpha(s[i+1]) || s[i+1] == '~') {
			for i += 2; i < len(s) && (isAlnum(s[i]) || s[i] == '~'); i++ {
			}
		}
		if i >= len(s) {
			return prefix
		}
	}
}

// order ranks one byte for the non-digit phase: end of string sorts before
// everything but '~', letters before other punctuation.
func order(s string, pos int) int {
	if pos >= len(s) {
		return -1
	}
	c := s[pos]
	switch {
	case isDigit(c):
		return 0
	case isAlpha(c):
		return int(c)
	case c == '~':
		return -2
	default:
		return int(c) + 256
	}
}

// verrevcmp is the Debian version comparison (dpkg's verrevcmp) as adapted
// by gnulib: alternating non-digit and digit runs, digits compared as
// numbers without leading zeros.
func verrevcmp(a, b string) int {
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		firstDiff := 0
		for (i < len(a) && !isDigit(a[i])) || (j < len(b) && !isDigit(b[j])) {
			ac, bc := order(a, i), order(b, j)
			if ac != bc {
				return ac - bc
			}
			i++
			j++
		}
		for i < len(a) && a[i] == '0' {
			i++
		}
		for j < len(b) && b[j] == '0' {
			j++
		}
		for i < len(a) && j < len(b) && isDigit(a[i]) && isDigit(b[j]) {
			if firstDiff == 0 {
				firstDiff = int(a[i]) - int(b[j])
			}
			i++
			j++
		}
		if i < len(a) && isDigit(a[i]) {
			return 1
		}
		if j < len(b) && isDigit(b[j]) {
			return -1
		}
		if firstDiff != 0 {
			return firstDiff
		}
	}
	return 0
}

func isAlpha(c byte) bool { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') }
func isAlnum(c byte) bool { return isAlpha(c) || isDigit(c) }
