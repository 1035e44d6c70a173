package engine

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"strings"
	"testing"
)

// treeChanges are the calls that change the file system: the os functions
// and the wrappers of internal/fsops, as called from other packages
// (qualified) and inside fsops itself (added in init).
var treeChanges = map[string]bool{
	"os.Remove": true, "os.RemoveAll": true, "os.Rename": true, "os.Symlink": true, "os.Link": true,
	"os.Mkdir": true, "os.MkdirAll": true, "os.WriteFile": true, "os.Chmod": true, "os.Chown": true,
	"os.Lchown": true, "os.Chtimes": true, "os.Truncate": true, "syscall.Flock": true, "unix.Rmdir": true,
	"fsops.MkdirAll": true, "fsops.RemoveFile": true, "fsops.RemoveTree": true, "fsops.RenamePath": true,
	"fsops.SymlinkAt": true, "fsops.WriteFile": true, "fsops.WriteFileAtomic": true, "fsops.SymlinkAtomic": true,
	"fsops.RemoveTreeAtomic": true, "fsops.RemoveIfEmpty": true, "fsops.CopyFile": true, "fsops.CopyFileVia": true,
	"fsops.CopyTree": true, "fsops.keepMeta": true, "fsops.keepOwner": true, "renameReplace": true,
	"fsops.RemoveEmptyDirs": true,
}

func init() {
	for name := range treeChanges {
		if n, ok := strings.CutPrefix(name, "fsops."); ok {
			treeChanges[n] = true
		}
	}
}

// TestNoDroppedTreeErrors is an errcheck for this package and the ones it
// changes the trees through: the error of a
// change to the tree is never dropped, neither as a statement of its own,
// nor deferred, nor assigned to _. Each is handled or reported (e.warn
// names the operation and the file).
func TestNoDroppedTreeErrors(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	// fsops itself, and the packages that change the trees for the engine
	// (tarball's own staging, removed on its error paths, is not the trees).
	for _, glob := range []string{"fsops/*.go", "tree/*.go", "modinst/*.go", "build/*.go", "depmod/*.go",
		"rpmsafe/*.go", "tarball/layout.go"} {
		more, err := filepath.Glob("../" + glob)
		if err != nil || len(more) == 0 {
			t.Fatal("no files internal/"+glob, err)
		}
		files = append(files, more...)
	}
	fset := token.NewFileSet()
	checked := 0
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		file, err := parser.ParseFile(fset, f, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		checked++
		ast.Inspect(file, func(n ast.Node) bool {
			var call *ast.CallExpr
			switch s := n.(type) {
			case *ast.ExprStmt:
				call, _ = s.X.(*ast.CallExpr)
			case *ast.DeferStmt:
				call = s.Call
			case *ast.GoStmt:
				call = s.Call
			case *ast.AssignStmt:
				blank := true
				for _, l := range s.Lhs {
					if id, ok := l.(*ast.Ident); !ok || id.Name != "_" {
						blank = false
					}
				}
				if blank && len(s.Rhs) == 1 {
					call, _ = s.Rhs[0].(*ast.CallExpr)
				}
			}
			if call == nil {
				return true
			}
			if name := callName(call.Fun); treeChanges[name] {
				t.Errorf("%s: the error of %s is dropped", fset.Position(call.Pos()), name)
			}
			return true
		})
	}
	if checked == 0 {
		t.Fatal("no files checked")
	}
}

func callName(fun ast.Expr) string {
	switch f := fun.(type) {
	case *ast.Ident:
		return f.Name
	case *ast.SelectorExpr:
		if x, ok := f.X.(*ast.Ident); ok {
			return x.Name + "." + f.Sel.Name
		}
	}
	return ""
}
