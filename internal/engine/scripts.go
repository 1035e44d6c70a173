package engine

import (
	"context"
	"strings"

	"github.com/dkms-go/dkms/internal/modscript"

	"github.com/dkms-go/dkms/internal/ui"
)

// runTerminalScript runs post_add, pre_install, post_install, post_remove
// of module m: output straight to the terminal, working directory = source
// or the /etc/dkms/<m> override (§7.1, delta D9).
func (e *Engine) runTerminalScript(ctx context.Context, m, typ, value, dir string) int {
	if value == "" {
		return 0
	}
	dir = modscript.Dir(e.L.EtcDir()+"/"+m, value, dir)
	prog, args, ok := modscript.Find(dir, value)
	if !ok {
		e.P.Line("")
		e.P.Warning("The " + typ + " script is not executable.")
		return 0
	}
	e.P.Line("Running the " + typ + " script:")
	err := modscript.Run(ctx, prog, args, dir, e.scriptEnv(), e.P.Stdout(), e.P.Stderr())
	return ui.ExitStatus(err)
}

// runLoggedScript runs pre_build/post_build through the invoke helper with
// output in make.log (§7.1). It prints the "Consult" line on failure.
func (e *Engine) runLoggedScript(ctx context.Context, pc *pairCtx, typ, value string) int {
	if value == "" {
		return 0
	}
	m, v := pc.Module, pc.Version
	dir := modscript.Dir(e.L.EtcDir()+"/"+m, value, e.L.BuildDir(m, v))
	if _, _, ok := modscript.Find(dir, value); !ok {
		e.P.Line("")
		e.P.Warning("The " + typ + " script is not executable.")
		return 0
	}
	cmdline := "cd " + dir + "/ && " + dir + "/" + value
	code := e.P.Invoke(ctx, ui.Step{
		Desc: "Running the " + typ + " script", Cmd: cmdline, Dir: dir,
		Env: pc.buildEnv, Log: e.L.MakeLog(m, v), Verbose: e.Verbose, Dots: ui.DotsFor(m),
	})
	if code != 0 {
		e.P.Line("Consult " + e.L.MakeLog(m, v) + " for more information.")
	}
	return code
}

// scriptEnv is the exported environment scripts see: ours plus the
// --directive variables.
func (e *Engine) scriptEnv() []string {
	env := append([]string(nil), e.Env...)
	if e.O != nil {
		for _, d := range e.O.Directives {
			if strings.Contains(d, "=") {
				env = append(env, d)
			}
		}
	}
	return env
}
