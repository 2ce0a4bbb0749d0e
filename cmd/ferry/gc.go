package main

import (
	"runtime/debug"
)

// gcMemoryLimit is the heap a migration lets build up before the collector runs.
const gcMemoryLimit = 48 << 20

// tuneGC makes a migration collect garbage by a memory limit instead of by heap growth.
// A migration's live heap is small and flat (a few MB of users in flight) while it
// allocates a few KB a user, so the default (collect whenever the heap doubles) ran ~1,500
// collections per million users: 12-15% of the CPU. Collecting when the heap reaches
// 48 MiB costs a flat ~54 MB peak RSS at any user count (the default: 25-31 MB, growing
// with spikes in flight), and the collector is still bounded if a hostile input ever
// holds more than that live (the runtime then caps its share of the CPU at a half).
// GOGC or GOMEMLIMIT in the environment leave the collector as the user set it. The
// returned function restores the previous settings.
func tuneGC(getenv func(string) string) (restore func()) {
	if getenv("GOGC") != "" || getenv("GOMEMLIMIT") != "" {
		return func() {}
	}
	limit := debug.SetMemoryLimit(gcMemoryLimit)
	percent := debug.SetGCPercent(-1)
	return func() {
		debug.SetGCPercent(percent)
		debug.SetMemoryLimit(limit)
	}
}
