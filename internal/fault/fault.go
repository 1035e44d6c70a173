// Package fault is the seam of the crash harness (test/crash): Point is
// called before every change dkms makes to the file system and before it
// starts or right after it has started a program. In a normal build Point
// does nothing; built with -tags faultinject, the process kills itself
// with SIGKILL at the N-th point when DKMS_FAULT_AT=N, and appends every
// point to the file DKMS_FAULT_LOG names, so the harness can count them.
package fault

// Point marks one file-changing operation op on path.
func Point(op, path string) { point(op, path) }

// Locked is called once the tree lock is held: the faultinject build logs
// the process (its pid and DKMS_LOCK_TAG) to DKMS_LOCK_LOG, whose order is
// then the order in which processes held the lock.
func Locked() { locked() }
