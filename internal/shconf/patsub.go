package shconf

import (
	"bytes"
	"fmt"
	"regexp"
	"strings"
	"unicode/utf8"

	"mvdan.cc/sh/v3/interp"
	"mvdan.cc/sh/v3/pattern"
	"mvdan.cc/sh/v3/syntax"
)

// mvdan.cc/sh (v3.14.1, the newest) reads `${x/#pat/rep}` and
// `${x/%pat/rep}` as an unanchored replacement of the literal "#pat" or
// "%pat", which leaves the value unchanged without a word: zfs-dkms's
// `${kernel_source_dir/%build/source}` came out as .../build. Such an
// expansion is rewritten, before the file runs, into a command
// substitution of patsubCmd, a built-in that does what bash does. Forms it
// cannot do exactly are refused with the line, never evaluated differently.

const patsubCmd = "__dkms_anchored_replace"

// maxPatsubLen bounds the value an anchored replacement works on: the
// search tries every prefix or suffix.
const maxPatsubLen = 1 << 16

// span is a rewritten expansion: its bytes in the file and what replaces it.
type span struct {
	start, end uint
	node       *syntax.CmdSubst
}

// rewriteAnchored rewrites the anchored replacements of f in place and
// returns the outermost ones.
func rewriteAnchored(path string, f *syntax.File) ([]span, *Error) {
	var spans []span
	var bad *Error
	fail := func(pos syntax.Pos, why string) {
		if bad == nil {
			bad = &Error{File: path, Line: int(pos.Line()), Msg: why + " is not supported in " +
				baseName(path) + " (the evaluator cannot do it exactly)"}
		}
	}
	rewrite := func(parts []syntax.WordPart) {
		for i, p := range parts {
			pe, ok := p.(*syntax.ParamExp)
			if !ok || pe.Repl == nil {
				continue
			}
			anchor := anchorOf(pe.Repl.Orig)
			if anchor == "" && !hasAmpersand(pe.Repl.With) {
				continue // mvdan.cc/sh does these right
			}
			if anchor == "" {
				fail(pe.Pos(), "`&` in the replacement of ${name/pattern/string}")
				continue
			}
			start, end := pe.Pos().Offset(), pe.End().Offset()
			if cs := anchoredCall(pe, anchor, fail); cs != nil {
				parts[i] = cs
				if len(spans) == 0 || start >= spans[len(spans)-1].end {
					spans = append(spans, span{start, end, cs})
				}
			}
		}
	}
	syntax.Walk(f, func(n syntax.Node) bool {
		switch n := n.(type) {
		case *syntax.Word:
			rewrite(n.Parts)
		case *syntax.DblQuoted:
			rewrite(n.Parts)
		}
		return true
	})
	return spans, bad
}

// rewriteSource applies spans to the file's text, keeping every line
// where it was so that messages name the lines of the original.
func rewriteSource(path string, data []byte, spans []span) ([]byte, *Error) {
	var out bytes.Buffer
	last := uint(0)
	pr := syntax.NewPrinter(syntax.SingleLine(true))
	for _, sp := range spans {
		if sp.start < last || sp.end > uint(len(data)) {
			continue
		}
		var b bytes.Buffer
		if err := pr.Print(&b, &syntax.Word{Parts: []syntax.WordPart{sp.node}}); err != nil {
			return nil, &Error{File: path, Msg: "internal evaluator error: " + err.Error()}
		}
		text := b.String()
		lines := bytes.Count(data[sp.start:sp.end], []byte("\n")) - strings.Count(text, "\n")
		if lines < 0 || !strings.HasSuffix(text, ")") {
			return nil, &Error{File: path, Msg: "internal evaluator error: cannot rewrite ${name/#pattern/string}"}
		}
		out.Write(data[last:sp.start])
		out.WriteString(text[:len(text)-1] + strings.Repeat("\n", lines) + ")")
		last = sp.end
	}
	out.Write(data[last:])
	return out.Bytes(), nil
}

func baseName(p string) string {
	if i := strings.LastIndexByte(p, '/'); i >= 0 {
		return p[i+1:]
	}
	return p
}

// anchorOf returns "#" or "%" when the pattern word starts with an
// unquoted one.
func anchorOf(w *syntax.Word) string {
	if w == nil || len(w.Parts) == 0 {
		return ""
	}
	if lit, ok := w.Parts[0].(*syntax.Lit); ok && len(lit.Value) > 0 && (lit.Value[0] == '#' || lit.Value[0] == '%') {
		return lit.Value[:1]
	}
	return ""
}

func hasAmpersand(w *syntax.Word) bool {
	found := false
	if w == nil {
		return false
	}
	syntax.Walk(w, func(n syntax.Node) bool {
		switch n := n.(type) {
		case *syntax.Lit:
			found = found || strings.Contains(n.Value, "&")
		case *syntax.SglQuoted:
			found = found || strings.Contains(n.Value, "&")
		}
		return !found
	})
	return found
}

// anchoredCall builds `$(patsubCmd ANCHOR "$name" KIND TEXT ...)`: g is
// pattern text with its glob characters active, q quoted pattern text,
// w replacement text.
func anchoredCall(pe *syntax.ParamExp, anchor string, fail func(syntax.Pos, string)) *syntax.CmdSubst {
	if pe.Excl || pe.Length || pe.Width || pe.Slice != nil || pe.Exp != nil || pe.Param == nil ||
		pe.Index != nil || !validName.MatchString(pe.Param.Value) {
		fail(pe.Pos(), "an anchored ${name/#pattern/string} on arrays, positional parameters or with other operators")
		return nil
	}
	lit := func(s string) *syntax.Word {
		return &syntax.Word{Parts: []syntax.WordPart{&syntax.SglQuoted{Value: s}}}
	}
	dq := func(p syntax.WordPart) *syntax.Word {
		return &syntax.Word{Parts: []syntax.WordPart{&syntax.DblQuoted{Parts: []syntax.WordPart{p}}}}
	}
	args := []*syntax.Word{lit(patsubCmd), lit(anchor), dq(&syntax.ParamExp{Param: pe.Param})}
	ok := true
	add := func(w *syntax.Word, first bool, glob, repl bool) {
		if w == nil {
			return
		}
		for i, p := range w.Parts {
			switch p := p.(type) {
			case *syntax.Lit:
				v := p.Value
				if first && i == 0 {
					v = v[1:]
				}
				if repl && strings.ContainsAny(v, `\~`) || !repl && strings.HasPrefix(v, "~") {
					fail(p.Pos(), "a backslash or tilde in an anchored ${name/#pattern/string}")
					ok = false
				}
				kind := "g"
				if repl {
					kind = "w"
				}
				args = append(args, lit(kind), lit(v))
			case *syntax.SglQuoted, *syntax.DblQuoted:
				kind := "q"
				if repl {
					kind = "w"
				}
				args = append(args, lit(kind), &syntax.Word{Parts: []syntax.WordPart{p}})
			case *syntax.ParamExp, *syntax.CmdSubst, *syntax.ArithmExp:
				kind := "g" // an unquoted expansion's glob characters count
				if repl {
					kind = "w"
				}
				args = append(args, lit(kind), dq(p))
			default:
				fail(p.Pos(), "this word part in an anchored ${name/#pattern/string}")
				ok = false
			}
		}
	}
	add(pe.Repl.Orig, true, true, false)
	add(pe.Repl.With, false, false, true)
	if !ok {
		return nil
	}
	call := &syntax.CallExpr{Args: args}
	return &syntax.CmdSubst{Left: pe.Dollar, Right: pe.Rbrace, Stmts: []*syntax.Stmt{{Position: pe.Dollar, Cmd: call}}}
}

// cmdAnchoredReplace is patsubCmd: ANCHOR VALUE (KIND TEXT)...
func (ev *evaluation) cmdAnchoredReplace(hc interp.HandlerContext, cancel func(), args []string) error {
	line := int(hc.Pos.Line())
	if len(args) < 3 || len(args)%2 == 0 {
		return ev.refuse(cancel, line, "%s is internal to the evaluator", patsubCmd)
	}
	anchor, val := args[1], args[2]
	var pat, with strings.Builder
	for i := 3; i+1 < len(args); i += 2 {
		switch args[i] {
		case "g":
			pat.WriteString(args[i+1])
		case "q":
			pat.WriteString(pattern.QuoteMeta(args[i+1], 0))
		case "w":
			with.WriteString(args[i+1])
		}
	}
	if len(val) > maxPatsubLen {
		return ev.refuse(cancel, line, "an anchored ${name/#pattern/string} on a value over %d bytes", maxPatsubLen)
	}
	expr, err := pattern.Regexp(pat.String(), pattern.EntireString)
	if err != nil {
		// bash treats a malformed pattern as not matching.
		fmt.Fprint(hc.Stdout, val)
		return nil
	}
	rx, err := regexp.Compile("(?s)" + expr)
	if err != nil {
		fmt.Fprint(hc.Stdout, val)
		return nil
	}
	out := val
	if anchor == "#" {
		for i := len(val); i >= 0; i-- { // longest prefix first
			if (i == len(val) || utf8.RuneStart(val[i])) && rx.MatchString(val[:i]) {
				out = with.String() + val[i:]
				break
			}
		}
	} else {
		for i := 0; i <= len(val); i++ { // longest suffix first
			if (i == len(val) || utf8.RuneStart(val[i])) && rx.MatchString(val[i:]) {
				out = val[:i] + with.String()
				break
			}
		}
	}
	if strings.HasSuffix(out, "\n") {
		return ev.refuse(cancel, line, "an anchored ${name/#pattern/string} whose result ends in a newline is not supported")
	}
	fmt.Fprint(hc.Stdout, out)
	return nil
}

// hasAnchored reports whether f has an expansion rewriteAnchored would
// rewrite (eval and source text run unrewritten, so it is refused there).
func hasAnchored(f *syntax.File) bool {
	found := false
	syntax.Walk(f, func(n syntax.Node) bool {
		if pe, ok := n.(*syntax.ParamExp); ok && pe.Repl != nil && (anchorOf(pe.Repl.Orig) != "" || hasAmpersand(pe.Repl.With)) {
			found = true
		}
		return !found
	})
	return found
}
