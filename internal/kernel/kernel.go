// Package kernel answers what dkms needs to know about a kernel: the
// running one (uname), where a kernel's configuration is inside its
// headers, and which compiler and linker built it (§6.2 step 8, §4.7), so
// that modules are built with the same.
package kernel

import (
	"bufio"
	"context"
	"debug/elf"
	"io"
	"os"
	"os/exec"
	"regexp"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/dkms-go/dkms/internal/ui"
)

// Running is the running system as uname reports it.
type Running struct {
	Release string // uname -r
	Machine string // uname -m
	OS      string // uname -s
}

// Uname returns the running system; fields are empty when uname fails.
func Uname() Running {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return Running{}
	}
	return Running{Release: unix.ByteSliceToString(u.Release[:]),
		Machine: unix.ByteSliceToString(u.Machine[:]), OS: unix.ByteSliceToString(u.Sysname[:])}
}

// Config is the configuration file of the kernel whose headers are in
// sourceDir: include/config/auto.conf when present, else .config (§4.1).
func Config(sourceDir string) string {
	if _, err := os.Lstat(sourceDir + "/include/config/auto.conf"); err == nil {
		return sourceDir + "/include/config/auto.conf"
	}
	return sourceDir + "/.config"
}

var ccVersionText = regexp.MustCompile(`^CONFIG_CC_VERSION_TEXT="?([^" ]+)`)

// Toolchain is §6.2 step 8: the compiler and linker the kernel in
// sourceDir (with configuration config) was built with, when they are
// installed; "" for either means make's default.
func Toolchain(ctx context.Context, sourceDir, config string) (cc, ld string) {
	if _, err := os.Lstat(sourceDir + "/.kernelvariables"); err == nil {
		out, err := ui.Output(ctx, "make", "-s", "-f", sourceDir+"/.kernelvariables", "--eval", "print-cc:\n\t@echo $(CC)", "print-cc")
		if err == nil && out != "" {
			cc = out
		}
	}
	if f, err := os.Open(config); err == nil {
		ccs, clang, lld := configCompilers(f)
		f.Close()
		for _, c := range ccs {
			if lookPath(c) {
				cc = c
			}
		}
		if clang && lookPath("clang") {
			cc = "clang"
		}
		if lld && lookPath("ld.lld") {
			ld = "ld.lld"
		}
	}
	return cc, ld
}

// lookPath reports whether a program is available in PATH.
func lookPath(name string) bool {
	_, err := exec.LookPath(name)
	return err == nil
}

// configCompilers reads a kernel config for §6.2 step 8: the first word of
// every CONFIG_CC_VERSION_TEXT line, and whether some line contains
// CONFIG_CC_IS_CLANG=y or CONFIG_LD_IS_LLD=y (a text search, as grep does).
func configCompilers(r io.Reader) (ccs []string, clang, lld bool) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		line := sc.Text()
		if mm := ccVersionText.FindStringSubmatch(line); mm != nil {
			ccs = append(ccs, mm[1])
		}
		clang = clang || strings.Contains(line, "CONFIG_CC_IS_CLANG=y")
		lld = lld || strings.Contains(line, "CONFIG_LD_IS_LLD=y")
	}
	return ccs, clang, lld
}

// Clang reports whether the kernel was built with clang (§4.7 step 4):
// from its vmlinux when the headers have one, else from its config.
func Clang(sourceDir, config string) bool {
	if _, err := os.Stat(sourceDir + "/vmlinux"); err == nil {
		return vmlinuxIsClang(sourceDir + "/vmlinux")
	}
	return configHas(config, "CONFIG_CC_IS_CLANG=y")
}

func vmlinuxIsClang(p string) bool {
	f, err := elf.Open(p)
	if err != nil {
		return false
	}
	defer f.Close()
	s := f.Section(".comment")
	if s == nil {
		return false
	}
	b, err := s.Data()
	return err == nil && strings.Contains(string(b), "clang")
}

// configHas reports whether a line of the file contains text (grep -q).
func configHas(path, text string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		if strings.Contains(sc.Text(), text) {
			return true
		}
	}
	return false
}
