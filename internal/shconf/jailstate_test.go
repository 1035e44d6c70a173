package shconf

// JailState reports how the last evaluation child was confined:
// "confined", or "unconfined: " and the reason.
func JailState() string {
	s, _ := lastJail.Load().(string)
	return s
}
