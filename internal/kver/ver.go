package kver

import "strings"

// Key returns VER(s): every maximal run of ASCII digits is left-padded with
// zeros to at least three digits, everything else is kept as is. Comparing
// keys bytewise gives upstream's `[[ VER(a) < VER(b) ]]` in the C locale.
func Key(s string) string {
	var b strings.Builder
	b.Grow(len(s) + 8)
	for i := 0; i < len(s); {
		if !isDigit(s[i]) {
			b.WriteByte(s[i])
			i++
			continue
		}
		j := i
		for j < len(s) && isDigit(s[j]) {
			j++
		}
		for pad := 3 - (j - i); pad > 0; pad-- {
			b.WriteByte('0')
		}
		b.WriteString(s[i:j])
		i = j
	}
	return b.String()
}

// Less reports whether VER(a) sorts before VER(b).
func Less(a, b string) bool { return Key(a) < Key(b) }

func isDigit(c byte) bool { return c >= '0' && c <= '9' }
