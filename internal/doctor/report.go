package doctor

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
)

// Verdict names one finding; docs/DOCTOR.md explains each.
type Verdict string

// The verdicts. OK, Excluded and EnrollPending are not problems; Unchecked
// means something could not be read.
const (
	OK             Verdict = "ok"
	Excluded       Verdict = "excluded"
	EnrollPending  Verdict = "enroll-pending"
	HeadersMissing Verdict = "headers-missing"
	BuildFailed    Verdict = "build-failed"
	DepMissing     Verdict = "dependency"
	ConfError      Verdict = "conf-error"
	Broken         Verdict = "broken"
	NotBuilt       Verdict = "not-built"
	NotInstalled   Verdict = "not-installed"
	FileMissing    Verdict = "file-missing"
	FileDiffers    Verdict = "file-differs"
	Vermagic       Verdict = "vermagic"
	NotInDep       Verdict = "not-in-modules-dep"
	Shadowed       Verdict = "shadowed"
	Unsigned       Verdict = "unsigned"
	Untrusted      Verdict = "untrusted"
	Unchecked      Verdict = "unchecked"
)

// Severity of a verdict: "ok", "info", "problem" or "unchecked".
func (v Verdict) Severity() string {
	switch v {
	case OK:
		return "ok"
	case Excluded, EnrollPending:
		return "info"
	case Unchecked:
		return "unchecked"
	}
	return "problem"
}

// Problem is one finding with what to do about it.
type Problem struct {
	Verdict Verdict `json:"verdict"`
	Detail  string  `json:"detail"`
	Advice  string  `json:"advice,omitempty"`
	// Log and LogLine: the make.log of a failed build and its first
	// compiler error line.
	Log     string `json:"log,omitempty"`
	LogLine string `json:"log_line,omitempty"`
	// Command is the exact command that fixes it, when there is one.
	Command string `json:"command,omitempty"`
}

// ModuleReport is the result for one DKMS module (File empty: the module
// as a whole, when it is not installed) or one of its module files.
type ModuleReport struct {
	Module  string `json:"module"`
	Version string `json:"version"`
	// File is the kernel module name; Path its installed copy.
	File string `json:"file,omitempty"`
	Path string `json:"path,omitempty"`
	// Verdict is the first problem's, else the first info's, else ok.
	Verdict  Verdict   `json:"verdict"`
	Severity string    `json:"severity"`
	Signer   string    `json:"signer,omitempty"`
	Problems []Problem `json:"problems"`
}

// KernelReport is the result for one kernel.
type KernelReport struct {
	Kernel         string `json:"kernel"`
	NextBoot       bool   `json:"next_boot"`
	Headers        string `json:"headers"`
	HeadersPresent bool   `json:"headers_present"`
	// SignatureEnforced: the kernel refuses modules without a trusted
	// signature; EnforcedBy says why.
	SignatureEnforced bool     `json:"signature_enforced"`
	EnforcedBy        []string `json:"enforced_by"`
	Initramfs         string   `json:"initramfs,omitempty"`
	// Problems are about the kernel itself (headers missing, initramfs or
	// modules.dep unreadable).
	Problems []Problem       `json:"problems"`
	Modules  []*ModuleReport `json:"modules"`
	// Status: healthy, problem or unchecked.
	Status string `json:"status"`
}

// Report is the result of Check.
type Report struct {
	// NextBoot is the kernel the next boot uses; NextBootFrom says how it
	// was found: grub, systemd-boot or newest.
	NextBoot     string          `json:"next_boot"`
	NextBootFrom string          `json:"next_boot_from"`
	SecureBoot   string          `json:"secure_boot"`
	Kernels      []*KernelReport `json:"kernels"`
	Status       string          `json:"status"`
}

func (kr *KernelReport) add(m *ModuleReport, p Problem) {
	m.Problems = append(m.Problems, p)
	for _, r := range kr.Modules {
		if r == m {
			return
		}
	}
	kr.Modules = append(kr.Modules, m)
}

func worst(ps []Problem) (Verdict, string) {
	best, rank := OK, 0
	order := map[string]int{"ok": 0, "info": 1, "unchecked": 2, "problem": 3}
	for _, p := range ps {
		if r := order[p.Verdict.Severity()]; r > rank {
			best, rank = p.Verdict, r
		}
	}
	return best, best.Severity()
}

func status(sev ...string) string {
	st := "healthy"
	for _, s := range sev {
		switch s {
		case "problem":
			return "problem"
		case "unchecked":
			st = "unchecked"
		}
	}
	return st
}

func (r *Report) summarise() {
	var all []string
	for _, kr := range r.Kernels {
		var sev []string
		for _, p := range kr.Problems {
			sev = append(sev, p.Verdict.Severity())
		}
		for _, m := range kr.Modules {
			if m.Problems == nil {
				m.Problems = []Problem{}
			}
			m.Verdict, m.Severity = worst(m.Problems)
			sev = append(sev, m.Severity)
		}
		if kr.Problems == nil {
			kr.Problems = []Problem{}
		}
		if kr.EnforcedBy == nil {
			kr.EnforcedBy = []string{}
		}
		kr.Status = status(sev...)
		all = append(all, kr.Status)
	}
	r.Status = status(all...)
}

// ExitCode is 0 when healthy, 1 when a problem was found, 2 when nothing
// is wrong but something could not be checked.
func (r *Report) ExitCode() int {
	switch r.Status {
	case "problem":
		return 1
	case "unchecked":
		return 2
	}
	return 0
}

// Finding is one problem or unchecked finding with the kernel and module
// it is about, for the one-line summaries of the hooks and the boot unit.
type Finding struct {
	Kernel, Module, Version, File string
	Problem
}

// Findings returns the problems and unchecked findings of every kernel:
// those of its modules first, then those of the kernel itself.
func (r *Report) Findings() []Finding {
	var out []Finding
	serious := func(p Problem) bool { s := p.Verdict.Severity(); return s == "problem" || s == "unchecked" }
	for _, kr := range r.Kernels {
		for _, m := range kr.Modules {
			for _, p := range m.Problems {
				if serious(p) {
					out = append(out, Finding{Kernel: kr.Kernel, Module: m.Module, Version: m.Version, File: m.File, Problem: p})
				}
			}
		}
		for _, p := range kr.Problems {
			if serious(p) {
				out = append(out, Finding{Kernel: kr.Kernel, Problem: p})
			}
		}
	}
	return out
}

func (f Finding) who() string {
	switch {
	case f.Module == "":
		return "kernel " + f.Kernel
	case f.File != "" && f.File != f.Module:
		return f.Module + "/" + f.Version + " (" + f.File + ") for kernel " + f.Kernel
	}
	return f.Module + "/" + f.Version + " for kernel " + f.Kernel
}

// Line is the one-line summary of a finding: who, verdict, detail, the
// failed build's first error and log, and the command or advice.
func (f Finding) Line() string {
	s := f.who() + ": " + string(f.Verdict) + ": " + f.Detail
	if f.LogLine != "" {
		s += ": " + f.LogLine
	}
	if f.Log != "" {
		s += "; see " + f.Log
	}
	if f.Command != "" {
		s += "; run: " + f.Command
	} else if f.Advice != "" {
		s += "; " + f.Advice
	}
	return s
}

// Short is Line without the detail and advice, for a status line.
func (f Finding) Short() string {
	s := f.who() + ": " + string(f.Verdict)
	switch {
	case f.Log != "":
		s += "; see " + f.Log
	case f.Command != "":
		s += "; run: " + f.Command
	}
	return s
}

// WriteJSON writes the report as one JSON document.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// WriteText writes one short table per kernel, the next boot's first.
func (r *Report) WriteText(w io.Writer) error {
	var b strings.Builder
	if len(r.Kernels) == 0 {
		b.WriteString("No installed kernel found.\n")
	}
	for i, kr := range r.Kernels {
		if i > 0 {
			b.WriteString("\n")
		}
		mark := ""
		if kr.NextBoot {
			mark = " (next boot, " + r.NextBootFrom + ")"
		}
		fmt.Fprintf(&b, "Kernel %s%s: %s\n", kr.Kernel, mark, kr.Status)
		headers := "present"
		if !kr.HeadersPresent {
			headers = "MISSING"
		}
		fmt.Fprintf(&b, "  headers     %s (%s)\n", kr.Headers, headers)
		sig := "not enforced"
		if kr.SignatureEnforced {
			sig = "enforced (" + strings.Join(kr.EnforcedBy, ", ") + ")"
		}
		fmt.Fprintf(&b, "  signatures  %s\n", sig)
		for _, p := range kr.Problems {
			writeProblem(&b, p)
		}
		if len(kr.Modules) == 0 {
			b.WriteString("  no AUTOINSTALL module\n")
			continue
		}
		wm, wv := len("MODULE"), len("VERSION")
		for _, m := range kr.Modules {
			wm, wv = max(wm, len(label(m))), max(wv, len(m.Version))
		}
		fmt.Fprintf(&b, "  %-*s  %-*s  %s\n", wm, "MODULE", wv, "VERSION", "VERDICT")
		for _, m := range kr.Modules {
			fmt.Fprintf(&b, "  %-*s  %-*s  %s\n", wm, label(m), wv, m.Version, m.Verdict)
			for _, p := range m.Problems {
				writeProblem(&b, p)
			}
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func label(m *ModuleReport) string {
	if m.File != "" && m.File != m.Module {
		return m.Module + " (" + m.File + ")"
	}
	return m.Module
}

func writeProblem(b *strings.Builder, p Problem) {
	fmt.Fprintf(b, "    %s: %s\n", p.Verdict, p.Detail)
	if p.Log != "" {
		fmt.Fprintf(b, "      log: %s\n", p.Log)
	}
	if p.LogLine != "" {
		fmt.Fprintf(b, "      first error: %s\n", p.LogLine)
	}
	if p.Command != "" {
		fmt.Fprintf(b, "      run: %s\n", p.Command)
	}
	if p.Advice != "" {
		fmt.Fprintf(b, "      %s\n", p.Advice)
	}
}
