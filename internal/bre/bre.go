// Package bre matches POSIX basic regular expressions as grep does, for
// the module pattern of `dkms match` (§6.9).
package bre

import (
	"regexp"
	"strings"
)

// Match reports whether s matches the POSIX basic regular expression re
// as grep does: \( \) \{ \} \| \+ \? are the operators, the bare characters
// literals, and a leading * is literal. An expression that does not
// compile matches nothing (grep fails).
func Match(re, s string) bool {
	var b strings.Builder
	for i := 0; i < len(re); i++ {
		c := re[i]
		switch {
		case c == '\\' && i+1 < len(re):
			i++
			switch n := re[i]; n {
			case '(', ')', '{', '}', '|', '+', '?':
				b.WriteByte(n)
			default:
				b.WriteString(regexp.QuoteMeta(string(n)))
			}
		case c == '[':
			// A bracket expression is the same in both syntaxes.
			j := i + 1
			if j < len(re) && re[j] == '^' {
				j++
			}
			if j < len(re) && re[j] == ']' {
				j++
			}
			for j < len(re) && re[j] != ']' {
				j++
			}
			if j >= len(re) {
				return false
			}
			b.WriteString(re[i : j+1])
			i = j
		case c == '(' || c == ')' || c == '{' || c == '}' || c == '|' || c == '+' || c == '?':
			b.WriteString(regexp.QuoteMeta(string(c)))
		case c == '*' && (i == 0 || (i == 1 && re[0] == '^')):
			b.WriteString(`\*`)
		default:
			b.WriteByte(c)
		}
	}
	r, err := regexp.CompilePOSIX(b.String())
	return err == nil && r.MatchString(s)
}
