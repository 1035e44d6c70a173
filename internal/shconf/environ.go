package shconf

import (
	"slices"
	"sort"
	"strings"

	"mvdan.cc/sh/v3/expand"
)

// listEnviron is the dkms shell as the file sees it: exported environment,
// unexported dkms variables and the whitelisted values of earlier files.
type listEnviron struct {
	vars  map[string]expand.Variable
	order []string
}

func (l *listEnviron) Get(name string) expand.Variable { return l.vars[name] }

func (l *listEnviron) Each(f func(string, expand.Variable) bool) {
	for _, n := range l.order {
		if !f(n, l.vars[n]) {
			return
		}
	}
}

func (l *listEnviron) set(name string, v expand.Variable) {
	if _, ok := l.vars[name]; !ok {
		l.order = append(l.order, name)
	}
	l.vars[name] = v
}

func (l *listEnviron) unset(name string) {
	if _, ok := l.vars[name]; ok {
		delete(l.vars, name)
		l.order = slices.DeleteFunc(l.order, func(s string) bool { return s == name })
	}
}

func (ev *evaluation) baseEnviron() expand.Environ {
	l := &listEnviron{vars: map[string]expand.Variable{}}
	for _, kv := range ev.opts.Env {
		name, val, ok := strings.Cut(kv, "=")
		if !ok || !validName.MatchString(name) {
			continue
		}
		l.set(name, expand.Variable{Set: true, Exported: true, Kind: expand.String, Str: val})
	}
	vnames := make([]string, 0, len(ev.opts.Vars))
	for n := range ev.opts.Vars {
		vnames = append(vnames, n)
	}
	sort.Strings(vnames)
	for _, n := range vnames {
		if !validName.MatchString(n) {
			continue
		}
		// Assigning a dkms variable keeps the export flag an
		// environment variable of the same name already had.
		exported := l.vars[n].Exported
		l.set(n, expand.Variable{Set: true, Exported: exported, Kind: expand.String, Str: ev.opts.Vars[n]})
	}
	// Upstream unsets every directive variable before the chain, so only
	// the values earlier files produced are visible.
	for _, n := range ev.names {
		if p := ev.opts.Preset[n]; p.Set {
			l.set(n, toVariable(p))
		} else {
			l.unset(n)
		}
	}
	return l
}

// directiveLines implements the DKMS_DIRECTIVE hook: upstream runs
// `set | grep ^DKMS_DIRECTIVE | cut -d = -f 2-3` in the child and turns
// every resulting word NAME=VALUE into `NAME="VALUE"` for the copy-back.
func directiveLines(vars map[string]expand.Variable) string {
	var names []string
	for n, v := range vars {
		if strings.HasPrefix(n, "DKMS_DIRECTIVE") && v.IsSet() && v.Kind == expand.String {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	var b strings.Builder
	for _, n := range names {
		line := n + "=" + setQuote(vars[n].Str)
		fields := strings.SplitN(line, "=", 4)
		if len(fields) < 2 {
			continue
		}
		cut := strings.Join(fields[1:min(3, len(fields))], "=")
		for _, word := range strings.Fields(cut) {
			name, value, ok := strings.Cut(word, "=")
			if !ok {
				value = word
			}
			b.WriteString(name + "=\"" + value + "\"\n")
		}
	}
	return b.String()
}

// setQuote quotes a value the way bash's `set` prints it.
func setQuote(s string) string {
	if s != "" && !strings.ContainsAny(s, " \t\n'\"\\|&;()<>!{}*[?]^$`~#") {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
