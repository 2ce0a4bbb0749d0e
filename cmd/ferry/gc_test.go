package main

import (
	"runtime/debug"
	"testing"
)

// gcPercent reads the collector's GOGC setting (SetGCPercent only reports it by changing it).
func gcPercent() int {
	p := debug.SetGCPercent(100)
	debug.SetGCPercent(p)
	return p
}

// TestTuneGC: a migration collects by the memory limit unless the user set GOGC or
// GOMEMLIMIT, and the previous settings come back afterwards.
func TestTuneGC(t *testing.T) {
	for _, tc := range []struct {
		name  string
		env   map[string]string
		tuned bool
	}{
		{"default", nil, true},
		{"GOGC set", map[string]string{"GOGC": "200"}, false},
		{"GOMEMLIMIT set", map[string]string{"GOMEMLIMIT": "1GiB"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			percent, limit := gcPercent(), debug.SetMemoryLimit(-1)
			restore := tuneGC(func(k string) string { return tc.env[k] })
			gotPercent, gotLimit := gcPercent(), debug.SetMemoryLimit(-1)
			restore()
			if tc.tuned && (gotPercent != -1 || gotLimit != gcMemoryLimit) {
				t.Errorf("GOGC %d, limit %d during the run; want off and %d", gotPercent, gotLimit, gcMemoryLimit)
			}
			if !tc.tuned && (gotPercent != percent || gotLimit != limit) {
				t.Errorf("settings changed although the user set them: GOGC %d, limit %d", gotPercent, gotLimit)
			}
			if p, l := gcPercent(), debug.SetMemoryLimit(-1); p != percent || l != limit {
				t.Errorf("after the run GOGC %d, limit %d; want %d, %d back", p, l, percent, limit)
			}
		})
	}
}
