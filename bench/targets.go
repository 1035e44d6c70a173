package main

import (
	"fmt"
	"strings"
	"time"
)

func verdict(ok bool) string {
	if ok {
		return "**met**"
	}
	return "**MISSED**"
}

// targets checks the numbers of the issues (3, 4 and 6) against this run.
func (b *bench) targets() []string {
	var ts []string
	if b.small {
		ts = append(ts, "Small run (BENCH_SMALL=1): trees are tiny, so the targets below say nothing about real scale.")
	}
	for _, r := range b.res.Rows {
		switch {
		case r.ID == "1":
			ts = append(ts,
				fmt.Sprintf("status under 20 ms (%s): %s %s.", strings.ReplaceAll(r.Name, "`", ""), fmtDur(r.Ours.Wall), verdict(r.Ours.Wall < 20*time.Millisecond)),
				fmt.Sprintf("status at least 100x faster than upstream: %s %s.", fmtRatio(ratio(r.Ours.Wall, r.Up.Wall)), verdict(r.Up.Wall >= 100*r.Ours.Wall)))
		case r.ID == "3":
			ts = append(ts, fmt.Sprintf("nothing-to-do under 10 ms (`%s`): %s %s.", r.OursCmd, fmtDur(r.Ours.Wall), verdict(r.Ours.Wall < 10*time.Millisecond)))
		case r.ID == "4":
			ts = append(ts, fmt.Sprintf("kernel removal of the modules under 10 s (`%s`): %s %s.", r.OursCmd, fmtDur(r.Ours.Wall), verdict(r.Ours.Wall < 10*time.Second)))
		case r.ID == "5" && strings.Contains(r.Name, "PRE_BUILD"):
			ts = append(ts,
				fmt.Sprintf("PRE_BUILD case at most 0.6x upstream's wall time: %s %s.", fmtRatio(ratio(r.Ours.Wall, r.Up.Wall)), verdict(ratio(r.Ours.Wall, r.Up.Wall) <= 0.6)),
				fmt.Sprintf("PRE_BUILD case within 1.2x of the ideal (CPU/cores): %.2fx %s.", ratio(r.Ours.Wall, b.ideal(r.Ours)), verdict(ratio(r.Ours.Wall, b.ideal(r.Ours)) <= 1.2)))
		case r.ID == "7":
			ts = append(ts, fmt.Sprintf("doctor under 200 ms (%s): %s %s.", strings.ReplaceAll(r.Name, "`", ""), fmtDur(r.Ours.Wall), verdict(r.Ours.Wall < 200*time.Millisecond)))
		case r.ID == "6":
			ts = append(ts,
				fmt.Sprintf("initramfs scan at most half of lsinitramfs's wall time: %s %s.", fmtRatio(ratio(r.Ours.Wall, r.Up.Wall)), verdict(ratio(r.Ours.Wall, r.Up.Wall) <= 0.5)),
				fmt.Sprintf("initramfs scan under 64 MB resident: %s %s.", fmtRSS(r.Ours.MaxRSS), verdict(r.Ours.MaxRSS < 64*1024)))
		}
	}
	if g, ok := b.growth(); ok {
		ts = append(ts, g)
	}
	return ts
}

// growth compares ours' per-version cost at the largest size with the
// cost at the first size of at least 100 versions, where the fixed
// start-up cost no longer dominates. Linear growth keeps them equal.
func (b *bench) growth() (string, bool) {
	sw := b.res.Sweep
	if len(sw) < 2 {
		return "", false
	}
	ref := sw[0]
	for _, p := range sw {
		if p.N >= 100 {
			ref = p
			break
		}
	}
	last := sw[len(sw)-1]
	if last.N == ref.N {
		return "", false
	}
	per := func(p sweepPoint) float64 { return float64(p.Ours.Wall) / float64(p.N) }
	r := per(last) / per(ref)
	return fmt.Sprintf("status growth linear in module versions: per-version wall time at %d versions is %.2fx the one at %d versions (%s vs %s per version; 1.0 = exactly linear, below 1 = start-up cost still amortising) %s.",
		last.N, r, ref.N, fmtDur(time.Duration(per(last))), fmtDur(time.Duration(per(ref))), verdict(r <= 1.5)), true
}
