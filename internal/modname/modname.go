package modname

import (
	"fmt"
	"strings"
)

// Error says why a value cannot be a module name or version.
type Error struct {
	Value  string
	Reason string // "contains '/'", ...
}

// Error quotes the value the Go way, so a newline or NUL in it shows as
// an escape instead of breaking the message.
func (e *Error) Error() string { return fmt.Sprintf("%q %s", e.Value, e.Reason) }

// Rule is the rule in one line, for the second line of an error block.
const Rule = "Module names and versions are used as directory names: they must not contain '/', NUL or a newline, be '.' or '..', or start with '-'."

// Check returns nil when s is usable as a module name or version, and an
// *Error otherwise. The empty string is refused too; callers that give
// upstream's own message for a missing value check for it first.
func Check(s string) error {
	reason := ""
	switch {
	case s == "":
		reason = "is empty"
	case s == "." || s == "..":
		reason = "is a relative directory name"
	case strings.ContainsRune(s, '/'):
		reason = "contains '/'"
	case strings.ContainsRune(s, 0):
		reason = "contains a NUL byte"
	case strings.ContainsRune(s, '\n'):
		reason = "contains a newline"
	case s[0] == '-':
		reason = "starts with '-'"
	default:
		return nil
	}
	return &Error{Value: s, Reason: reason}
}
