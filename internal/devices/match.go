package devices

// Match reports whether alias matches the module alias pattern, with the
// semantics kmod gets from fnmatch(3) with no flags in the C locale: "*"
// matches any string and "?" any byte, both including "/" and a leading ".";
// "[...]" is a bracket expression with "!" or "^" negation, ranges and
// [:class:] names; a backslash quotes the next byte. A "[" without a closing
// "]" matches itself. Patterns are treated as bytes, as kernel aliases are.
func Match(pattern, alias string) bool {
	// Iterative matching with backtracking to the most recent "*" only,
	// which is enough for fnmatch without FNM_PATHNAME and keeps adversarial
	// patterns linear per star instead of exponential.
	p, s := 0, 0
	starP, starS := -1, -1
	for s < len(alias) {
		if p < len(pattern) {
			switch c := pattern[p]; c {
			case '*':
				for p < len(pattern) && pattern[p] == '*' {
					p++
				}
				if p == len(pattern) {
					return true
				}
				starP, starS = p, s
				continue
			case '?':
				p++
				s++
				continue
			case '[':
				if ok, next, valid := matchBracket(pattern, p, alias[s]); valid {
					if ok {
						p = next
						s++
						continue
					}
				} else if alias[s] == '[' {
					p++
					s++
					continue
				}
			case '\\':
				if p+1 < len(pattern) && pattern[p+1] == alias[s] {
					p += 2
					s++
					continue
				}
			default:
				if c == alias[s] {
					p++
					s++
					continue
				}
			}
		}
		if starP < 0 {
			return false
		}
		starS++
		p, s = starP, starS
	}
	for p < len(pattern) && pattern[p] == '*' {
		p++
	}
	return p == len(pattern)
}

// matchBracket matches byte c against the bracket expression starting at
// pattern[start] == '['. valid is false when the expression has no closing
// "]", in which case the "[" is an ordinary character.
func matchBracket(pattern string, start int, c byte) (ok bool, next int, valid bool) {
	i := start + 1
	negate := false
	if i < len(pattern) && (pattern[i] == '!' || pattern[i] == '^') {
		negate = true
		i++
	}
	matched := false
	first := true
	for {
		if i >= len(pattern) {
			return false, 0, false
		}
		ch := pattern[i]
		if ch == ']' && !first {
			i++
			break
		}
		first = false
		if ch == '[' && i+1 < len(pattern) && (pattern[i+1] == ':' || pattern[i+1] == '.' || pattern[i+1] == '=') {
			delim := pattern[i+1]
			end := indexPair(pattern, i+2, delim)
			if end < 0 {
				// Not a class after all: "[" is a member.
				if c == '[' {
					matched = true
				}
				i++
				continue
			}
			name := pattern[i+2 : end]
			i = end + 2
			switch delim {
			case ':':
				class, known := classes[name]
				if !known {
					// glibc rejects the whole pattern for an unknown class.
					return false, 0, false
				}
				if class(c) {
					matched = true
				}
			default:
				// Collating symbols and equivalence classes of one byte are
				// the only ones the C locale has.
				if len(name) == 1 && name[0] == c {
					matched = true
				}
			}
			continue
		}
		lo, ok := bracketByte(pattern, &i)
		if !ok {
			return false, 0, false
		}
		hi := lo
		if i+1 < len(pattern) && pattern[i] == '-' && pattern[i+1] != ']' {
			i++
			hi, ok = bracketByte(pattern, &i)
			if !ok {
				return false, 0, false
			}
		}
		if lo <= c && c <= hi {
			matched = true
		}
	}
	return matched != negate, i, true
}

// bracketByte reads one (possibly backslash-quoted) member byte at *i.
func bracketByte(pattern string, i *int) (byte, bool) {
	if pattern[*i] == '\\' {
		*i++
		if *i >= len(pattern) {
			return 0, false
		}
	}
	b := pattern[*i]
	*i++
	return b, true
}

// indexPair returns the index of delim followed by ']' at or after from, or -1.
func indexPair(s string, from int, delim byte) int {
	for j := from; j+1 < len(s); j++ {
		if s[j] == delim && s[j+1] == ']' {
			return j
		}
	}
	return -1
}

var classes = map[string]func(byte) bool{
	"alnum":  func(c byte) bool { return isAlpha(c) || isDigit(c) },
	"alpha":  isAlpha,
	"blank":  func(c byte) bool { return c == ' ' || c == '\t' },
	"cntrl":  func(c byte) bool { return c < 0x20 || c == 0x7f },
	"digit":  isDigit,
	"graph":  func(c byte) bool { return c > 0x20 && c < 0x7f },
	"lower":  func(c byte) bool { return c >= 'a' && c <= 'z' },
	"print":  func(c byte) bool { return c >= 0x20 && c < 0x7f },
	"punct":  func(c byte) bool { return c > 0x20 && c < 0x7f && !isAlpha(c) && !isDigit(c) },
	"space":  func(c byte) bool { return c == ' ' || (c >= '\t' && c <= '\r') },
	"upper":  func(c byte) bool { return c >= 'A' && c <= 'Z' },
	"xdigit": func(c byte) bool { return isDigit(c) || (c|0x20 >= 'a' && c|0x20 <= 'f') },
}

func isAlpha(c byte) bool { return c|0x20 >= 'a' && c|0x20 <= 'z' }
func isDigit(c byte) bool { return c >= '0' && c <= '9' }
