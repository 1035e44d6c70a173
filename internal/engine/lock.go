package engine

import (
	"context"

	"github.com/dkms-go/dkms/internal/fsops"
)

// lock creates the dkms tree if need be and takes its lock (tree.Lock)
// for the rest of the process. status reads without it.
func (e *Engine) lock() error {
	if e.tree.Locked() {
		return nil
	}
	if err := fsops.MkdirAll(e.L.DKMSTree); err != nil {
		return e.P.Die(1, "Could not create the DKMS tree "+e.L.DKMSTree+": "+err.Error())
	}
	if err := e.tree.Lock(); err != nil {
		return e.P.Die(1, "Could not lock "+e.L.LockFile()+": "+err.Error())
	}
	return nil
}

// lockIfWritable takes the lock, and repairs what killed runs left, when
// the tree exists and we may write to it; the action's own gates report
// every other case.
func (e *Engine) lockIfWritable(ctx context.Context) error {
	if fsops.IsDir(e.L.DKMSTree) && e.writable() {
		return e.LockTree(ctx)
	}
	return nil
}

// Unlock releases the tree lock.
func (e *Engine) Unlock() {
	e.tree.Unlock()
}
