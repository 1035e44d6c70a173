//go:build !faultinject

package fault

func point(op, path string) {}

func locked() {}
