package engine

import (
	"context"
	"errors"
	"io"

	"github.com/dkms-go/dkms/internal/dkmsconf"
	"github.com/dkms-go/dkms/internal/fsops"
	"github.com/dkms-go/dkms/internal/ui"
)

// usesExclusive is the check upstream makes before the "is not installed
// ... Skipping..." line (delta D6): the module's source dkms.conf is read
// for the pair, its messages discarded, and the line is hidden when some
// record has a BUILD_EXCLUSIVE element, whether or not it excludes the
// pair. --directive values are echoed as on every read. A conf that exists
// but cannot be read ends the command with status 4 and no message, as
// upstream's error block goes to the discarded stream.
func (e *Engine) usesExclusive(ctx context.Context, pc *pairCtx) (bool, error) {
	file := e.L.SourceLink(pc.Module, pc.Version) + "/dkms.conf"
	if !fsops.IsRegular(file) {
		return false, nil
	}
	var directives []string
	if e.O != nil {
		directives = e.O.Directives
	}
	c, err := dkmsconf.Read(ctx, dkmsconf.ReadOptions{
		Path: file, EtcDir: e.L.EtcDir(), Module: pc.Module, Version: pc.Version, Kernel: pc.Kernel, Arch: pc.Arch,
		Vars: e.confVars(pc.Target), Env: e.Env, Directives: directives,
		FullShell: dkmsconf.FullShellFor(e.FW, pc.Module),
		Stdout:    e.P.Stdout(), Stderr: io.Discard,
	})
	switch {
	case errors.Is(err, dkmsconf.ErrNotFound):
		return false, ui.Exit(4)
	case c == nil:
		return false, nil
	}
	return dkmsconf.UsesExclusive(c.Records), nil
}
