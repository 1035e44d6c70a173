package engine

import "context"

// Actions whose implementation lands with issue 7 and the initramfs check.

func (e *Engine) Match(ctx context.Context) error {
	return e.P.Die(1, "match: not available in this build")
}
func (e *Engine) MkTarball(ctx context.Context) error {
	return e.P.Die(1, "mktarball: not available in this build")
}
func (e *Engine) LdTarball(ctx context.Context) error {
	return e.P.Die(1, "ldtarball: not available in this build")
}
func (e *Engine) GenerateMOK(ctx context.Context) error {
	return e.P.Die(1, "generate_mok: not available in this build")
}
func (e *Engine) MkPackage(ctx context.Context) error {
	return e.P.Die(1, "mkdeb: not available in this build")
}
func (e *Engine) loadTarball(ctx context.Context) error { return e.LdTarball(ctx) }
