package doctor

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/dkms-go/dkms/internal/modinfo"
)

// module checks one AUTOINSTALL module for the kernel.
func (kc *kernelCtx) module(ctx context.Context, m *Module, all map[string]*Module) {
	k := kc.k
	row := &ModuleReport{Module: m.Module, Version: m.Version}
	id := m.Module + "/" + m.Version
	if !m.Installed {
		kc.kr.add(row, kc.whyNotInstalled(m, all))
		return
	}
	if len(m.Files) == 0 {
		kc.kr.add(row, Problem{Verdict: Unchecked, Detail: "dkms.conf of " + id + " names no module file for kernel " + k})
		return
	}
	for _, f := range m.Files {
		fr := &ModuleReport{Module: m.Module, Version: m.Version, File: f.Name, Path: f.Installed}
		kc.kr.Modules = append(kc.kr.Modules, fr)
		kc.file(ctx, m, f, fr)
	}
}

// whyNotInstalled explains a module that is not installed for the kernel,
// in the order autoinstall would meet the reasons.
func (kc *kernelCtx) whyNotInstalled(m *Module, all map[string]*Module) Problem {
	k, id := kc.k, m.Module+"/"+m.Version
	auto := "dkms autoinstall -k " + k
	switch {
	case m.Broken:
		return Problem{Verdict: Broken, Detail: id + " has no source directory (dkms status shows it broken)",
			Advice: "reinstall the module's package, or remove it with dkms remove " + id + " --all"}
	case m.ConfError != "":
		return Problem{Verdict: ConfError, Detail: "dkms.conf of " + id + " cannot be read for kernel " + k + ": " + m.ConfError,
			Advice: "fix the module's dkms.conf (or update its package), then run " + auto, Command: auto}
	case m.Excluded != "":
		return Problem{Verdict: Excluded, Detail: id + " is not meant for kernel " + k + " (" + m.Excluded + ")",
			Advice: "nothing to do (a module version that supports this kernel is needed if its hardware is used)"}
	case !kc.kr.HeadersPresent:
		kc.needHeaders = true
		return Problem{Verdict: HeadersMissing, Detail: id + " cannot be built: no kernel headers at " + kc.kr.Headers,
			Advice: headersAdvice(kc.o.Distro, k) + "; the headers package's hook then builds it (or run " + auto + ")"}
	}
	for _, d := range m.Depends {
		dm, ok := all[d]
		if !ok {
			return Problem{Verdict: DepMissing, Detail: id + " needs " + d + " (BUILD_DEPENDS), which DKMS does not have",
				Advice: "install the package that provides the DKMS module " + d + ", then run " + auto}
		}
		if !dm.Installed {
			why := kc.whyNotInstalled(dm, all)
			return Problem{Verdict: DepMissing, Detail: id + " waits for " + d + " (BUILD_DEPENDS), which is not installed for kernel " + k + ": " + string(why.Verdict),
				Advice: "fix " + d + " first (see its row); " + auto + " then builds both in order"}
		}
	}
	if first, ok := failedLog(m.MakeLog, k); ok {
		return Problem{Verdict: BuildFailed, Detail: "the build of " + id + " for kernel " + k + " failed",
			Log: m.MakeLog, LogLine: first,
			Advice: "read the log; a newer version of the module may support this kernel; then run " + auto}
	}
	if m.Built {
		cmd := "dkms install " + id + " -k " + k
		return Problem{Verdict: NotInstalled, Detail: id + " is built for kernel " + k + " but not installed", Command: cmd}
	}
	return Problem{Verdict: NotBuilt, Detail: id + " was never built for kernel " + k + " (autoinstall did not run for it, or was interrupted)",
		Command: auto}
}

var (
	makeLogHead = regexp.MustCompile(`^DKMS \([^)]*\) make\.log for (\S+) for kernel (\S+) \(`)
	compileErr  = regexp.MustCompile(`(^|\s|:)(fatal )?error:|\*\*\* .*Error \d+|undefined reference|ERROR: modpost:`)
)

// failedLog reports whether make.log holds a failed build for kernel k,
// and its first compiler error line. The log stays in the build directory
// only when the build failed; a successful build moves it away.
func failedLog(path, k string) (string, bool) {
	f, err := os.Open(path)
	if err != nil {
		return "", false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	if !sc.Scan() {
		return "", false
	}
	h := makeLogHead.FindStringSubmatch(sc.Text())
	if h != nil && h[2] != k {
		return "", false // the last failed build was for another kernel
	}
	first, last := "", ""
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		last = line
		if first == "" && compileErr.MatchString(line) {
			first = line
			break
		}
	}
	if first == "" {
		first = last
	}
	return first, true
}

// file checks one installed module file.
func (kc *kernelCtx) file(ctx context.Context, m *Module, f File, row *ModuleReport) {
	k, id := kc.k, m.Module+"/"+m.Version
	reinstall := "dkms install --force " + id + " -k " + k
	if f.Installed == "" {
		kc.kr.add(row, Problem{Verdict: FileMissing, Detail: f.Name + " is not in " + kc.o.InstallTree + "/" + k + " where DKMS installed it",
			Command: reinstall})
		return
	}
	if f.Built != "" {
		same, err := sameContent(f.Built, f.Installed)
		switch {
		case err != nil:
			kc.kr.add(row, Problem{Verdict: Unchecked, Detail: "comparing with the built copy: " + err.Error()})
		case !same:
			kc.kr.add(row, Problem{Verdict: FileDiffers, Detail: f.Installed + " is not the file DKMS built (" + f.Built + "); something else replaced it",
				Command: reinstall})
		}
	}
	info, err := modinfo.Read(f.Installed)
	if err != nil {
		kc.kr.add(row, Problem{Verdict: Unchecked, Detail: err.Error()})
	} else {
		kc.checkVermagic(row, info.Get("vermagic"), id)
	}
	kc.checkDep(row, f.Installed)
	kc.shadowRows[f.Installed] = row
	kc.shadowMods = append(kc.shadowMods, installedFile{module: m.Module, version: m.Version, name: f.Name, path: f.Installed})
	if kc.enforced {
		kc.checkSignature(ctx, row, f.Installed, id)
	}
}

// sameContent compares two module files cheaply: the same file, or the
// same size and the same first and last 16 KiB. The tail holds a signed
// module's signature, unique to its content, and the ELF header and
// .modinfo (with srcversion) are near the head; a whole-file compare
// would read every module twice on every run.
func sameContent(a, b string) (bool, error) {
	sa, err := os.Stat(a)
	if err != nil {
		return false, err
	}
	sb, err := os.Stat(b)
	if err != nil {
		return false, err
	}
	if os.SameFile(sa, sb) {
		return true, nil
	}
	if sa.Size() != sb.Size() {
		return false, nil
	}
	const n = 16 << 10
	ra, err := headTail(a, sa.Size(), n)
	if err != nil {
		return false, err
	}
	rb, err := headTail(b, sb.Size(), n)
	if err != nil {
		return false, err
	}
	return bytes.Equal(ra, rb), nil
}

func headTail(p string, size, n int64) ([]byte, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if size <= 2*n {
		return io.ReadAll(f)
	}
	buf := make([]byte, 2*n)
	if _, err := f.ReadAt(buf[:n], 0); err != nil {
		return nil, err
	}
	if _, err := f.ReadAt(buf[n:], size-n); err != nil {
		return nil, err
	}
	return buf, nil
}

// checkVermagic compares a module's vermagic with the kernel's, which is
// read from an in-tree module listed in modules.dep.
func (kc *kernelCtx) checkVermagic(row *ModuleReport, vm, id string) {
	k := kc.k
	kv := kc.kernelVermagic()
	fix := "dkms unbuild " + id + " -k " + k + " && dkms install " + id + " -k " + k
	switch {
	case vm == "":
		kc.kr.add(row, Problem{Verdict: Vermagic, Detail: "the module has no vermagic; the kernel will refuse it", Command: fix})
	case kv != "" && vm != kv:
		kc.kr.add(row, Problem{Verdict: Vermagic, Detail: fmt.Sprintf("built for %q, the kernel is %q; it will refuse the module", vm, kv),
			Advice: "it was built against other headers", Command: fix})
	case kv == "" && strings.Fields(vm)[0] != k:
		kc.kr.add(row, Problem{Verdict: Vermagic, Detail: fmt.Sprintf("built for kernel %s, not %s", strings.Fields(vm)[0], k), Command: fix})
	}
}

func (kc *kernelCtx) kernelVermagic() string {
	if kc.vmRead {
		return kc.vermagic
	}
	kc.vmRead = true
	kc.readDep()
	if kc.dep == nil {
		return ""
	}
	dir := kc.o.InstallTree + "/" + kc.k + "/"
	for _, p := range kc.depOrder {
		if !strings.HasPrefix(p, "kernel/") {
			continue
		}
		if info, err := modinfo.Read(dir + p); err == nil && info.Get("vermagic") != "" {
			kc.vermagic = info.Get("vermagic")
			break
		}
	}
	return kc.vermagic
}

// readDep loads the module paths of modules.dep, once per kernel.
func (kc *kernelCtx) readDep() {
	if kc.depRead {
		return
	}
	kc.depRead = true
	path := kc.o.InstallTree + "/" + kc.k + "/modules.dep"
	b, err := os.ReadFile(path)
	if err != nil {
		kc.depErr = err
		return
	}
	kc.dep = map[string]bool{}
	for len(b) > 0 {
		line := b
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			line, b = b[:i], b[i+1:]
		} else {
			b = nil
		}
		if i := bytes.IndexByte(line, ':'); i > 0 {
			p := string(line[:i])
			kc.dep[p] = true
			if len(kc.depOrder) < 8 && strings.HasPrefix(p, "kernel/") {
				kc.depOrder = append(kc.depOrder, p)
			}
		}
	}
}

// checkDep: modprobe finds a module only through modules.dep.
func (kc *kernelCtx) checkDep(row *ModuleReport, installed string) {
	kc.readDep()
	k := kc.k
	if kc.dep == nil {
		if kc.o.DepmodPending && errors.Is(kc.depErr, fs.ErrNotExist) {
			return
		}
		if !kc.depReported {
			kc.depReported = true
			kc.kr.Problems = append(kc.kr.Problems, Problem{Verdict: NotInDep, Detail: "modules.dep cannot be read: " + kc.depErr.Error(),
				Command: "depmod " + k})
		}
		return
	}
	dir := filepath.Clean(kc.o.InstallTree+"/"+k) + "/"
	rel := strings.TrimPrefix(filepath.Clean(installed), dir)
	if !kc.dep[rel] && !kc.dep[installed] {
		kc.kr.add(row, Problem{Verdict: NotInDep, Detail: rel + " is not in modules.dep, so modprobe cannot load it",
			Command: "depmod " + k})
	}
}

func headersAdvice(distro, k string) string {
	switch {
	case strings.HasPrefix(distro, "debian"), strings.HasPrefix(distro, "ubuntu"):
		return "install the headers: apt-get install linux-headers-" + k
	case strings.HasPrefix(distro, "fedora"), strings.HasPrefix(distro, "rhel"), strings.HasPrefix(distro, "centos"),
		strings.HasPrefix(distro, "rocky"), strings.HasPrefix(distro, "almalinux"):
		return "install the headers: dnf install kernel-devel-" + k
	case strings.HasPrefix(distro, "arch"):
		return "install the headers package of this kernel (linux-headers for linux)"
	case strings.HasPrefix(distro, "opensuse"), strings.HasPrefix(distro, "sles"):
		return "install the headers: zypper install kernel-devel"
	}
	return "install the headers package for kernel " + k
}
