package vm

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// ModuleDeps is the dependency table of one kernel, read from modules.dep and
// modules.builtin, keyed by normalised module name (dashes become underscores,
// as the kernel itself treats them as equal).
type ModuleDeps struct {
	dir     string
	files   map[string]string   // name -> path relative to dir
	deps    map[string][]string // name -> direct dependency names
	builtin map[string]bool
}

// ReadModuleDeps parses modulesDir/modules.dep and modules.builtin.
func ReadModuleDeps(modulesDir string) (*ModuleDeps, error) {
	m := &ModuleDeps{dir: modulesDir, files: map[string]string{}, deps: map[string][]string{}, builtin: map[string]bool{}}
	f, err := os.Open(filepath.Join(modulesDir, "modules.dep"))
	if err != nil {
		return nil, fmt.Errorf("reading module dependencies: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		file, rest, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		name := ModuleName(file)
		m.files[name] = file
		for _, d := range strings.Fields(rest) {
			m.deps[name] = append(m.deps[name], ModuleName(d))
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading modules.dep: %w", err)
	}
	// modules.builtin is optional: without it every name must be a file.
	if b, err := os.ReadFile(filepath.Join(modulesDir, "modules.builtin")); err == nil {
		for _, line := range strings.Fields(string(b)) {
			m.builtin[ModuleName(line)] = true
		}
	}
	return m, nil
}

// ModuleName turns a module path such as kernel/net/9p/9pnet-virtio.ko.xz into
// the kernel's name for it, 9pnet_virtio.
func ModuleName(file string) string {
	base := filepath.Base(file)
	if i := strings.Index(base, ".ko"); i >= 0 {
		base = base[:i]
	}
	return strings.ReplaceAll(base, "-", "_")
}

// Resolve returns the module files (relative to the module directory) needed to
// load names, each after everything it depends on and each once. Built-in
// modules need no file and are left out. The order is computed from the graph
// instead of trusting the order within a modules.dep line, so it is right for
// any depmod.
func (m *ModuleDeps) Resolve(names ...string) ([]string, error) {
	var order []string
	state := map[string]int{} // 1 visiting, 2 done
	var visit func(name string, from string) error
	visit = func(name, from string) error {
		switch state[name] {
		case 1:
			return fmt.Errorf("module dependency cycle through %s", name)
		case 2:
			return nil
		}
		file, ok := m.files[name]
		if !ok {
			if m.builtin[name] {
				state[name] = 2
				return nil
			}
			if from != "" {
				return fmt.Errorf("module %s (needed by %s) not in %s/modules.dep", name, from, m.dir)
			}
			return fmt.Errorf("module %s not in %s/modules.dep", name, m.dir)
		}
		state[name] = 1
		for _, d := range m.deps[name] {
			if err := visit(d, name); err != nil {
				return err
			}
		}
		state[name] = 2
		order = append(order, file)
		return nil
	}
	for _, n := range names {
		if err := visit(ModuleName(n), ""); err != nil {
			return nil, err
		}
	}
	return order, nil
}

// Has reports whether name is a module file of this kernel.
func (m *ModuleDeps) Has(name string) bool {
	_, ok := m.files[ModuleName(name)]
	return ok
}
