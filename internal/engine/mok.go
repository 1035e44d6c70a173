package engine

import (
	"context"

	"github.com/dkms-go/dkms/internal/dkmsconf"
	"github.com/dkms-go/dkms/internal/sign"
	"github.com/dkms-go/dkms/internal/ui"
)

// GenerateMOK runs `dkms generate_mok` (§6.12): only the key and
// certificate step of module signing, with the signing variables of
// framework.conf re-read for the first kernel. Module and kernel
// arguments are accepted but not used.
func (e *Engine) GenerateMOK(ctx context.Context) error {
	k, _ := e.firstPair()
	fw := e.readFramework(ctx, dkmsconf.SigningNames, k)
	_, _, ok := sign.PrepareMOK(ctx, sign.Config{
		Kernel: k, KernelConfig: e.kernelConfig(k), InstallTree: e.L.InstallTree, Distro: e.Distro,
		Key: fw["mok_signing_key"], Cert: fw["mok_certificate"],
		DefaultKey: e.L.MOKKey(), DefaultCert: e.L.MOKCert(),
		KernelSourceDir: e.kernelSourceDir(k), Env: e.Env,
	}, e.P.Stdout())
	if !ok {
		// The reason has been printed by PrepareMOK; upstream shows no
		// error block here.
		return ui.Exit(1)
	}
	return nil
}
