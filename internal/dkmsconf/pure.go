package dkmsconf

import (
	"bytes"
	"os"
	"path/filepath"
	"sort"

	"mvdan.cc/sh/v3/syntax"
)

// Candidates returns every file of the §4.2 evaluation chain, whether it
// exists or not, so a caller can fingerprint the whole chain.
func Candidates(o ReadOptions) []string {
	files := []string{o.Path}
	if o.Module == "" {
		return files
	}
	etc := o.EtcDir
	if etc == "" {
		etc = "/etc/dkms"
	}
	m, v, k, a := o.Module, o.Version, o.Kernel, o.Arch
	for _, name := range []string{
		m + ".conf", m + "-" + v + ".conf", m + "-" + v + "-" + k + ".conf",
		m + "-" + v + "-" + k + "-" + a + ".conf", m + "--" + k + ".conf", m + "--" + k + "-" + a + ".conf",
	} {
		files = append(files, filepath.Join(etc, name))
	}
	return files
}

// unstable are shell variables whose value changes between evaluations.
var unstable = map[string]bool{"RANDOM": true, "SRANDOM": true, "SECONDS": true, "BASHPID": true,
	"$": true, "PPID": true, "EPOCHSECONDS": true, "EPOCHREALTIME": true, "LINENO": false}

// Pure reports whether evaluating the given existing files depends on
// nothing but their text and the variables it returns: no command runs, no
// file is read, no command substitution, no redirection, no globbing loop,
// no arithmetic on bare names. Such a result can be cached by the files'
// fingerprints and the values of the named variables.
func Pure(files []string) ([]string, bool) {
	refs := map[string]bool{}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			if os.IsNotExist(err) {
				continue
			}
			return nil, false
		}
		file, err := syntax.NewParser(syntax.Variant(syntax.LangBash)).Parse(bytes.NewReader(data), f)
		if err != nil {
			return nil, false
		}
		pure := true
		syntax.Walk(file, func(n syntax.Node) bool {
			if !pure {
				return false
			}
			switch n := n.(type) {
			case *syntax.CmdSubst, *syntax.ProcSubst, *syntax.Redirect, *syntax.DeclClause,
				*syntax.ArithmExp, *syntax.ArithmCmd, *syntax.ForClause, *syntax.WhileClause,
				*syntax.FuncDecl, *syntax.CoprocClause, *syntax.LetClause, *syntax.TimeClause,
				*syntax.ExtGlob, *syntax.Subshell:
				pure = false
			case *syntax.CallExpr:
				if len(n.Args) > 0 {
					pure = false
				}
			case *syntax.ParamExp:
				if n.Excl || n.Param == nil || unstable[n.Param.Value] {
					pure = false
				} else {
					refs[n.Param.Value] = true
				}
			}
			return pure
		})
		if !pure {
			return nil, false
		}
	}
	out := make([]string, 0, len(refs))
	for r := range refs {
		out = append(out, r)
	}
	sort.Strings(out)
	return out, true
}
