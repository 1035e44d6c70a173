package doctor

import (
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
)

// bootInfo is what the bootloader's configuration says.
type bootInfo struct {
	kernel  string // the default entry's kernel; "" unknown
	source  string // grub or systemd-boot
	cmdline map[string][]string
}

// nextBoot reads the default boot entry of GRUB (grubenv and grub.cfg) or
// systemd-boot (loader.conf and its entries), and each entry's command line.
func nextBoot(bootDir, efiDir string, kernels []string) bootInfo {
	known := map[string]bool{}
	for _, k := range kernels {
		known[k] = true
	}
	for _, dir := range []string{bootDir + "/grub", bootDir + "/grub2"} {
		b, err := os.ReadFile(dir + "/grub.cfg")
		if err != nil {
			continue
		}
		env := readGrubenv(dir + "/grubenv")
		return grubDefault(string(b), env, known)
	}
	for _, esp := range []string{bootDir + "/efi", efiDir, bootDir} {
		if bi, ok := systemdBoot(esp, known); ok {
			return bi
		}
	}
	return bootInfo{}
}

func readGrubenv(p string) map[string]string {
	env := map[string]string{}
	b, err := os.ReadFile(p)
	if err != nil {
		return env
	}
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(line, "="); ok && !strings.HasPrefix(k, "#") {
			env[k] = v
		}
	}
	return env
}

// grubEntry is one menuentry, or a submenu with its entries.
type grubEntry struct {
	title, id string
	kernel    string
	args      []string
	sub       []*grubEntry
	submenu   bool
}

// grubDefault resolves GRUB's default entry as GRUB does at boot:
// next_entry from grubenv when set, else the default variable of grub.cfg
// (saved_entry when it is "saved" or ${saved_entry}); an entry is a
// number path ("1>2"), a title path or an id.
func grubDefault(cfg string, env map[string]string, known map[string]bool) bootInfo {
	bi := bootInfo{source: "grub", cmdline: map[string][]string{}}
	top, def := parseGrubCfg(cfg)
	var walk func([]*grubEntry)
	walk = func(es []*grubEntry) {
		for _, e := range es {
			if e.submenu {
				walk(e.sub)
			} else if e.kernel != "" && bi.cmdline[e.kernel] == nil {
				bi.cmdline[e.kernel] = e.args
			}
		}
	}
	walk(top)
	sel := env["next_entry"]
	if sel == "" {
		sel = def
		if sel == "saved" || sel == "${saved_entry}" || sel == "$saved_entry" {
			sel = env["saved_entry"]
		}
		if sel == "" {
			sel = "0"
		}
	}
	if e := findGrubEntry(top, sel); e != nil && known[e.kernel] {
		bi.kernel = e.kernel
	}
	return bi
}

func findGrubEntry(top []*grubEntry, sel string) *grubEntry {
	es := top
	var cur *grubEntry
	for _, part := range strings.Split(sel, ">") {
		cur = nil
		if n, err := strconv.Atoi(part); err == nil {
			if n >= 0 && n < len(es) {
				cur = es[n]
			}
		} else {
			for _, e := range es {
				if e.title == part || e.id == part {
					cur = e
					break
				}
			}
			if cur == nil && !strings.Contains(sel, ">") {
				cur = findByID(top, part)
			}
		}
		if cur == nil {
			return nil
		}
		es = cur.sub
	}
	if cur != nil && cur.submenu && len(cur.sub) > 0 {
		cur = cur.sub[0]
	}
	return cur
}

func findByID(es []*grubEntry, id string) *grubEntry {
	for _, e := range es {
		if e.id == id || e.title == id {
			return e
		}
		if f := findByID(e.sub, id); f != nil {
			return f
		}
	}
	return nil
}

// parseGrubCfg reads the menu structure and the last literal
// `set default=` outside menu entries.
func parseGrubCfg(cfg string) ([]*grubEntry, string) {
	var top []*grubEntry
	var stack []*grubEntry
	def := ""
	for _, raw := range strings.Split(cfg, "\n") {
		line := strings.TrimSpace(raw)
		fs := grubWords(line)
		if len(fs) == 0 {
			continue
		}
		switch {
		case fs[0] == "menuentry" || fs[0] == "submenu":
			e := &grubEntry{submenu: fs[0] == "submenu"}
			if len(fs) > 1 {
				e.title = fs[1]
			}
			for i := 2; i+1 < len(fs); i++ {
				if fs[i] == "--id" || fs[i] == "$menuentry_id_option" {
					e.id = fs[i+1]
				}
			}
			if len(stack) > 0 {
				p := stack[len(stack)-1]
				p.sub = append(p.sub, e)
			} else {
				top = append(top, e)
			}
			stack = append(stack, e)
		case fs[0] == "}":
			if len(stack) > 0 {
				stack = stack[:len(stack)-1]
			}
		case (fs[0] == "linux" || fs[0] == "linuxefi" || fs[0] == "linux16") && len(stack) > 0 && len(fs) > 1:
			e := stack[len(stack)-1]
			e.kernel = kernelOfImage(fs[1])
			e.args = fs[2:]
		case fs[0] == "set" && len(fs) > 1 && strings.HasPrefix(fs[1], "default=") && len(stack) == 0:
			if v := strings.TrimPrefix(fs[1], "default="); v != "${next_entry}" {
				def = v
			}
		}
	}
	return top, def
}

// grubWords splits a grub.cfg line into words, removing quotes.
func grubWords(line string) []string {
	var out []string
	var b strings.Builder
	in, quote, word := false, byte(0), false
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			} else {
				b.WriteByte(c)
			}
		case c == '\'' || c == '"':
			quote, word = c, true
		case c == ' ' || c == '\t':
			if word {
				out = append(out, b.String())
				b.Reset()
				word = false
			}
		case c == '#' && !word:
			in = true
		default:
			b.WriteByte(c)
			word = true
		}
		if in {
			break
		}
	}
	if word {
		out = append(out, b.String())
	}
	if n := len(out); n > 0 && out[n-1] == "{" {
		out = out[:n-1]
	}
	return out
}

// kernelOfImage names the kernel of an image path: /vmlinuz-K,
// /boot/vmlinuz-K, or the BLS layout /<machine-id>/<K>/linux.
func kernelOfImage(p string) string {
	base := path.Base(p)
	for _, pre := range []string{"vmlinuz-", "vmlinux-", "Image-", "kernel-"} {
		if k, ok := strings.CutPrefix(base, pre); ok {
			return k
		}
	}
	return path.Base(path.Dir(p))
}

// systemdBoot reads <esp>/loader/loader.conf's default (a glob over entry
// ids) and the entries' linux and options lines.
func systemdBoot(esp string, known map[string]bool) (bootInfo, bool) {
	entries, _ := filepath.Glob(esp + "/loader/entries/*.conf")
	lc, err := os.ReadFile(esp + "/loader/loader.conf")
	if err != nil && len(entries) == 0 {
		return bootInfo{}, false
	}
	bi := bootInfo{source: "systemd-boot", cmdline: map[string][]string{}}
	def := ""
	for _, line := range strings.Split(string(lc), "\n") {
		if fs := strings.Fields(line); len(fs) == 2 && fs[0] == "default" {
			def = fs[1]
		}
	}
	def = strings.TrimSuffix(def, ".conf")
	for _, e := range entries {
		b, err := os.ReadFile(e)
		if err != nil {
			continue
		}
		id := strings.TrimSuffix(filepath.Base(e), ".conf")
		k := ""
		var args []string
		for _, line := range strings.Split(string(b), "\n") {
			fs := strings.Fields(line)
			if len(fs) < 2 {
				continue
			}
			switch fs[0] {
			case "linux":
				k = kernelOfImage(fs[1])
			case "version":
				if known[fs[1]] {
					k = fs[1]
				}
			case "options":
				args = append(args, fs[1:]...)
			}
		}
		if !known[k] {
			continue
		}
		bi.cmdline[k] = args
		if ok, _ := path.Match(def, id); ok && def != "" && bi.kernel == "" {
			bi.kernel = k
		}
	}
	return bi, true
}
