package ui

import (
	"errors"
	"fmt"
	"io"
	"strings"
)

// Printer writes to dkms's two streams. Quiet (-q) swaps both for io.Discard
// from the moment it is met.
type Printer struct {
	out    io.Writer
	err    io.Writer
	silent bool
}

// New returns a Printer writing to stdout and stderr.
func New(stdout, stderr io.Writer) *Printer { return &Printer{out: stdout, err: stderr} }

// Stdout is the standard output stream (or io.Discard after Silence).
func (p *Printer) Stdout() io.Writer {
	if p.silent {
		return io.Discard
	}
	return p.out
}

// Stderr is the standard error stream (or io.Discard after Silence).
func (p *Printer) Stderr() io.Writer {
	if p.silent {
		return io.Discard
	}
	return p.err
}

// Silence discards all later output.
func (p *Printer) Silence() { p.silent = true }

// Out prints to stdout like printf.
func (p *Printer) Out(format string, a ...any) { fmt.Fprintf(p.Stdout(), format, a...) }

// Line prints one line to stdout.
func (p *Printer) Line(s string) { fmt.Fprintln(p.Stdout(), s) }

// ErrorBlock prints an error block: an empty line, then "Error! " and the lines.
func (p *Printer) ErrorBlock(lines ...string) {
	fmt.Fprintf(p.Stderr(), "\nError! %s\n", strings.Join(lines, "\n"))
}

// Warning prints a warning block (no leading empty line).
func (p *Printer) Warning(lines ...string) {
	fmt.Fprintf(p.Stderr(), "Warning: %s\n", strings.Join(lines, "\n"))
}

// Deprecated prints a deprecation notice.
func (p *Printer) Deprecated(s string) { fmt.Fprintf(p.Stderr(), "Deprecated feature: %s\n", s) }

// ExitError ends an action with a status code. Its message has already been
// printed when it is returned.
type ExitError struct{ Code int }

func (e *ExitError) Error() string { return fmt.Sprintf("exit status %d", e.Code) }

// Exit returns an ExitError with the given code (nil for 0).
func Exit(code int) error {
	if code == 0 {
		return nil
	}
	return &ExitError{Code: code}
}

// Die prints an error block and returns the matching ExitError.
func (p *Printer) Die(code int, lines ...string) error {
	p.ErrorBlock(lines...)
	return &ExitError{Code: code}
}

// DieWarn prints a warning block and returns the ExitError (used for 77).
func (p *Printer) DieWarn(code int, lines ...string) error {
	p.Warning(lines...)
	return &ExitError{Code: code}
}

// Code maps an error to dkms's exit status: nil -> 0, ExitError -> its code,
// anything else -> 1.
func Code(err error) int {
	if err == nil {
		return 0
	}
	var ee *ExitError
	if errors.As(err, &ee) {
		return ee.Code
	}
	return 1
}
