package crash

import (
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Status parses `dkms status`: module -> kernel -> state word
// ("installed", "built", "added").
func Status(out string) map[string]map[string]string {
	st := map[string]map[string]string{}
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		if l == "" {
			continue
		}
		head, state, ok := strings.Cut(l, ": ")
		if !ok {
			continue
		}
		f := strings.Split(head, ", ")
		m, _, _ := strings.Cut(f[0], "/")
		k := ""
		if len(f) >= 3 {
			k = f[1]
		}
		if st[m] == nil {
			st[m] = map[string]string{}
		}
		word, _, _ := strings.Cut(state, " ")
		st[m][k] = word
	}
	return st
}

// Inconsistencies compares status with the files and modules.dep: an
// installed module has its file in the kernel's tree, identical to the
// built one, and its modules.dep entry; any other has neither. Status must
// not complain either.
func (w *World) Inconsistencies() []string {
	var bad []string
	r := w.Run(w.Dkms, RunOpts{}, "status")
	if r.Code != 0 || r.Stderr != "" || strings.Contains(r.Stdout, "broken") {
		bad = append(bad, "status: exit "+itoa(r.Code)+": "+r.Stdout+r.Stderr)
	}
	st := Status(r.Stdout)
	for _, k := range []string{w.K, w.K2} {
		kd := w.Root + "/lib/modules/" + k
		dep, _ := os.ReadFile(kd + "/modules.dep")
		for _, m := range Modules {
			var files []string
			filepath.WalkDir(kd, func(p string, de fs.DirEntry, err error) error {
				if err == nil && !de.IsDir() && de.Name() == m+".ko" {
					files = append(files, p)
				}
				return nil
			})
			inDep := false
			for _, l := range strings.Split(string(dep), "\n") {
				name, _, _ := strings.Cut(l, ":")
				if filepath.Base(name) == m+".ko" {
					inDep = true
					if !isFile(kd + "/" + name) {
						bad = append(bad, k+": modules.dep names "+name+", which is not there")
					}
				}
			}
			installed := st[m][k] == "installed"
			switch {
			case installed && len(files) != 1:
				bad = append(bad, k+": "+m+" installed, but "+itoa(len(files))+" module files")
			case installed && !sameContent(files[0], w.Root+"/var/lib/dkms/"+m+"/1.0/"+k+"/"+machine()+"/module/"+m+".ko"):
				bad = append(bad, k+": "+m+" installed, but "+files[0]+" is not the built file")
			case installed && !inDep:
				bad = append(bad, k+": "+m+" installed, but not in modules.dep")
			case !installed && len(files) > 0:
				bad = append(bad, k+": "+m+" "+st[m][k]+", but "+strings.Join(files, " ")+" is there")
			case !installed && inDep:
				bad = append(bad, k+": "+m+" "+st[m][k]+", but in modules.dep")
			}
		}
	}
	return bad
}

// tempNames are the names of the temporaries dkms makes (and of those
// earlier versions made), and of its pending markers.
var tempNames = []string{".dkms-tmp-", ".dkms-copy-", ".tmp_", ".extract-", ".dkms-pending-", "depmod-pending-"}

// Leftovers lists temporaries left in the root, and anything in its tmp.
func (w *World) Leftovers() []string {
	var left []string
	filepath.WalkDir(w.Root, func(p string, de fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		for _, t := range tempNames {
			if strings.HasPrefix(de.Name(), t) {
				left = append(left, p)
			}
		}
		return nil
	})
	ents, _ := os.ReadDir(w.Root + "/tmp")
	for _, de := range ents {
		left = append(left, w.Root+"/tmp/"+de.Name())
	}
	return left
}

func isFile(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.Mode().IsRegular()
}

func sameContent(a, b string) bool {
	x, err1 := os.ReadFile(a)
	y, err2 := os.ReadFile(b)
	return err1 == nil && err2 == nil && bytes.Equal(x, y)
}

func itoa(n int) string { return strconv.Itoa(n) }
