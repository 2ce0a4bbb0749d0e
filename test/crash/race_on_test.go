//go:build race

package crash

// raceEnabled: the sandboxes run in this test process, so under the race detector they
// serve several times slower; the campaigns that are slow anyway scale down.
const raceEnabled = true
