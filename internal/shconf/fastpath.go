package shconf

import (
	"bytes"
	"os"
	"regexp"
	"strings"

	"mvdan.cc/sh/v3/syntax"
)

// A file that only assigns literal values, plain references to variables
// and default values, can neither run anything, read anything, loop nor
// grow without bound; most framework.conf files and many dkms.conf files
// are like that. Such a file is evaluated in dkms's own process, which
// spares `dkms status` and the kernel hooks the start of the child when
// they only read framework.conf. boundedPure decides it, and bounds the
// length of every value, the re-expansion on copy-back included, and the
// sum of them all: dkms's own process has no memory limit, and a file of
// a few thousand lines copying one large value would otherwise hold
// gigabytes.
//
// So bounded, such a file takes a fixed amount of work to evaluate, a
// millisecond or so, and is not held to the wall-clock deadline: on a
// starved machine (a guest at boot under emulation, while udev loads
// modules) the deadline measured the machine, not the file, and failed
// plain five-line confs.

const (
	maxPureFile  = 64 << 10
	maxPureValue = 1 << 20
	maxPureTotal = 16 << 20 // all values assigned by one file
)

// refsOnly matches literal text whose every `$` starts a plain reference
// ($name or ${name}): the copy-back re-expands values, and anything more
// there ($(...), ${x//...}) would run after this check.
var refsOnly = regexp.MustCompile(`^(?:[^$\x60"\\]|\$[A-Za-z_][A-Za-z0-9_]*|\$\{[A-Za-z_][A-Za-z0-9_]*\})*$`)

// impureTells are byte sequences no pure file contains (in a comment they
// only cost the fast path).
var impureTells = [][]byte{[]byte("$("), []byte("(("), []byte("()"), []byte("<"), []byte(">"), []byte("|")}

var refName = regexp.MustCompile(`\$\{?([A-Za-z_][A-Za-z0-9_]*)`)

// valueLens are the lengths of the values a file can see; -1 marks a value
// that its re-expansion on copy-back could turn into more than text.
func valueLens(opts Options) map[string]int {
	lens := map[string]int{}
	put := func(name, v string) {
		// The DKMS_DIRECTIVE hook turns words of such a value into
		// copy-back lines of their own, outside any quotes.
		if refsOnly.MatchString(v) && !strings.HasPrefix(name, "DKMS_DIRECTIVE") {
			lens[name] = max(lens[name], len(v))
		} else {
			lens[name] = -1
		}
	}
	for _, kv := range opts.Env {
		if name, v, ok := strings.Cut(kv, "="); ok {
			put(name, v)
		}
	}
	for name, v := range opts.Vars {
		put(name, v)
	}
	for name, v := range opts.Preset {
		for i := range v.Len() {
			put(name, v.Index(i))
		}
	}
	return lens
}

// boundedPure reports whether path can be evaluated in process, given the
// lengths of the values it can see (valueLens; updated for its own).
func boundedPure(path string, lens map[string]int) bool {
	data, err := os.ReadFile(path)
	if err != nil || len(data) > maxPureFile || bytes.ContainsAny(data, "\r\x00`") {
		return false
	}
	// Most files that are not pure say so at once; spare them a parse.
	for _, tell := range impureTells {
		if bytes.Contains(data, tell) {
			return false
		}
	}
	f, err := syntax.NewParser(syntax.Variant(syntax.LangBash)).Parse(bytes.NewReader(data), path)
	if err != nil {
		return false
	}
	maxLen := 0 // a name's value could be any of the values
	for name, n := range lens {
		if n < 0 && strings.HasPrefix(name, "DKMS_DIRECTIVE") {
			return false // copied back whether referenced or not
		}
		maxLen = max(maxLen, n)
	}
	total := 0
	grow := func(name string, n int) bool {
		total += n
		if n > maxPureValue || total > maxPureTotal {
			return false
		}
		lens[name] = max(lens[name], n)
		maxLen = max(maxLen, n)
		return true
	}
	for _, st := range f.Stmts {
		call, ok := st.Cmd.(*syntax.CallExpr)
		if !ok || len(call.Args) > 0 || st.Negated || st.Background || st.Coprocess || len(st.Redirs) > 0 || len(call.Assigns) == 0 {
			return false
		}
		for _, as := range call.Assigns {
			if as.Name == nil || as.Naked || as.Array != nil && as.Value != nil || strings.HasPrefix(as.Name.Value, "DKMS_DIRECTIVE") {
				return false
			}
			if as.Index != nil {
				w, ok := as.Index.(*syntax.Word)
				if !ok || !isDigits(w.Lit()) {
					return false
				}
			}
			n := 0
			if as.Append {
				n = lens[as.Name.Value]
			}
			if as.Value != nil {
				l, ok := pureWordLen(as.Value, lens, maxLen, false)
				if !ok {
					return false
				}
				n += l
			}
			if as.Array != nil {
				for _, el := range as.Array.Elems {
					if el.Index != nil || el.Value == nil {
						return false
					}
					l, ok := pureWordLen(el.Value, lens, maxLen, true)
					if !ok {
						return false
					}
					n += l
				}
			}
			if !grow(as.Name.Value, n) {
				return false
			}
		}
	}
	return true
}

func isDigits(s string) bool {
	return s != "" && strings.Trim(s, "0123456789") == ""
}

// pureWordLen bounds the length of w's value and of its re-expansion on
// copy-back, or reports that w is not pure. In an array element, unquoted
// text must not glob or brace-expand.
func pureWordLen(w *syntax.Word, lens map[string]int, maxLen int, element bool) (int, bool) {
	total := 0
	lit := func(s string) bool {
		if !refsOnly.MatchString(s) {
			return false
		}
		// Each reference of the literal re-expands to at most maxLen.
		refs := refName.FindAllStringSubmatch(s, -1)
		for _, r := range refs {
			if lens[r[1]] < 0 {
				return false
			}
		}
		total += len(s) + len(refs)*maxLen
		return true
	}
	var part func(p syntax.WordPart, quoted bool) bool
	part = func(p syntax.WordPart, quoted bool) bool {
		switch p := p.(type) {
		case *syntax.Lit:
			if !quoted && (strings.ContainsAny(p.Value, "~") || element && strings.ContainsAny(p.Value, "*?[{")) {
				return false
			}
			return lit(p.Value)
		case *syntax.SglQuoted:
			return !p.Dollar && lit(p.Value)
		case *syntax.DblQuoted:
			if p.Dollar {
				return false
			}
			for _, q := range p.Parts {
				if !part(q, true) {
					return false
				}
			}
			return true
		case *syntax.ParamExp:
			if p.Excl || p.Length || p.Width || p.Slice != nil || p.Repl != nil || p.Names != 0 ||
				p.Index != nil || p.Param == nil || !validName.MatchString(p.Param.Value) {
				return false
			}
			if lens[p.Param.Value] < 0 {
				return false
			}
			total += lens[p.Param.Value]
			if p.Exp != nil {
				switch p.Exp.Op {
				case syntax.DefaultUnset, syntax.DefaultUnsetOrNull, syntax.AlternateUnset, syntax.AlternateUnsetOrNull:
				default:
					return false
				}
				if p.Exp.Word != nil {
					for _, q := range p.Exp.Word.Parts {
						if !part(q, quoted) {
							return false
						}
					}
				}
			}
			// The value is copied back verbatim and re-expanded: its
			// own references count again.
			total += lens[p.Param.Value]
			return true
		}
		return false
	}
	for _, p := range w.Parts {
		if !part(p, false) {
			return 0, false
		}
	}
	return total, total <= maxPureValue
}
