// Package bench measures ferry end to end on generated users, next to a baseline of plain
// segmentio decode+encode of the same bytes in the same run. bench/run.sh drives it and
// BENCHMARKS.md records the results.
package bench

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ferry-dev/ferry/internal/core"
	"github.com/ferry-dev/ferry/internal/gen"
	"github.com/ferry-dev/ferry/internal/pipeline"
	"github.com/ferry-dev/ferry/run"
	"github.com/ferry-dev/ferry/transform"
	"github.com/segmentio/encoding/json"
)

// users is how many users each benchmark moves per iteration (BENCH_USERS overrides).
func users() int {
	if n, err := strconv.Atoi(os.Getenv("BENCH_USERS")); err == nil && n > 0 {
		return n
	}
	return 100000
}

// nasty is the share of awkward users generated (BENCH_NASTY overrides): with none, the
// metadata rules would scan but never fire. bench/run.sh generates with the same share.
func nasty() float64 {
	if f, err := strconv.ParseFloat(os.Getenv("BENCH_NASTY"), 64); err == nil && f >= 0 && f <= 1 {
		return f
	}
	return 0.05
}

var (
	inputs   = map[string]string{}
	inputsMu sync.Mutex
)

// input generates (once per process) a file of users in a provider's export format.
func input(b *testing.B, provider string) (path string, size int64) {
	b.Helper()
	inputsMu.Lock()
	defer inputsMu.Unlock()
	if p, ok := inputs[provider]; ok {
		st, _ := os.Stat(p)
		return p, st.Size()
	}
	// bench/run.sh hands over the file it generated, so every row measures the same bytes.
	if p := os.Getenv("BENCH_INPUT"); p != "" && provider == "auth0" {
		st, err := os.Stat(p)
		if err != nil {
			b.Fatal(err)
		}
		inputs[provider] = p
		return p, st.Size()
	}
	dir, err := os.MkdirTemp("", "ferry-bench-")
	if err != nil {
		b.Fatal(err)
	}
	path = filepath.Join(dir, provider+".ndjson")
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	app, _ := gen.ForProvider(provider)
	w := bufio.NewWriterSize(f, 1<<20)
	if err := gen.WriteNDJSON(w, app, 1, users(), gen.Options{Nasty: nasty()}); err != nil {
		b.Fatal(err)
	}
	w.Flush()
	f.Close()
	inputs[provider] = path
	st, _ := os.Stat(path)
	return path, st.Size()
}

// report adds the per-user figures the issue asks for. cpu-us/user is the process's CPU
// time (user + system, every thread) per user: on a machine shared with other work, wall
// time swings with the load while CPU time per user stays comparable between runs.
func report(b *testing.B, n int, before counters) {
	after := snapshot()
	total := float64(n) * float64(b.N)
	b.ReportMetric(total/b.Elapsed().Seconds(), "users/s")
	b.ReportMetric(float64(after.mallocs-before.mallocs)/total, "allocs/user")
	b.ReportMetric((after.cpu-before.cpu).Seconds()*1e6/total, "cpu-us/user")
}

type counters struct {
	mallocs uint64
	cpu     time.Duration
}

func snapshot() counters {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return counters{mallocs: ms.Mallocs, cpu: time.Duration(ru.Utime.Nano() + ru.Stime.Nano())}
}

// BenchmarkFileToFile runs the whole migrate pipeline, file to file, as `ferry migrate
// --rules all --rejects R --changes C` wires it: every metadata rule, schema validation,
// the rejects and change logs, and the read-order restoring batcher, on every core.
func BenchmarkFileToFile(b *testing.B) {
	for _, tc := range []struct{ provider, from, to string }{
		{"scim", core.FormatSCIM, core.FormatSCIM},
		{"auth0", core.FormatAuth0, core.FormatSCIM},
	} {
		b.Run(tc.provider+"-to-"+tc.to, func(b *testing.B) {
			in, size := input(b, tc.provider)
			dir := b.TempDir()
			b.SetBytes(size)
			before := snapshot()
			b.ResetTimer()
			var s pipeline.Summary
			for range b.N {
				s = runPipeline(b, in, tc.from, dir, tc.to)
				if s.Read != int64(users()) || s.Written+s.Rejected != s.Read {
					b.Fatalf("read %d, wrote %d, rejected %d of %d users", s.Read, s.Written, s.Rejected, users())
				}
			}
			report(b, users(), before)
			b.ReportMetric(float64(s.Rejected), "rejected")
			b.ReportMetric(float64(s.Changes), "changes")
		})
	}
}

// runPipeline is ferry migrate --from in --from-format from --to DIR/out.ndjson
// --to-format to --rules all --rejects --changes, through run.Migrate as the command runs
// it (no progress display).
func runPipeline(b *testing.B, in, from, dir, to string) pipeline.Summary {
	job := run.Job{From: in, FromFormat: from, To: filepath.Join(dir, "out.ndjson"), ToFormat: to, Concurrency: 4,
		Policy: transform.DefaultPolicyConfig(), Rules: "all", // the strictest set, with the command line's defaults
		Rejects: filepath.Join(dir, "rejects.ndjson"), Changes: filepath.Join(dir, "changes.ndjson")}
	job.Policy.PictureOverride = true
	res, err := run.Migrate(context.Background(), run.Env{Getenv: func(string) string { return "" }, Stdout: io.Discard, Log: io.Discard}, job)
	if err != nil {
		b.Fatal(err)
	}
	return res.Summary
}

// BenchmarkBaselineDecodeEncode is what a plain script does with the same bytes: read each
// line, segmentio-decode it into map[string]any, encode it back, write it. One goroutine,
// no validation, no mapping.
func BenchmarkBaselineDecodeEncode(b *testing.B) {
	for _, provider := range []string{"scim", "auth0"} {
		b.Run(provider, func(b *testing.B) {
			in, size := input(b, provider)
			out := filepath.Join(b.TempDir(), "out.ndjson")
			b.SetBytes(size)
			before := snapshot()
			b.ResetTimer()
			for range b.N {
				if n := baseline(b, in, out); n != users() {
					b.Fatalf("baseline moved %d users", n)
				}
			}
			report(b, users(), before)
		})
	}
}

func baseline(b *testing.B, in, out string) int {
	f, err := os.Open(in)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	o, err := os.Create(out)
	if err != nil {
		b.Fatal(err)
	}
	defer o.Close()
	w := bufio.NewWriterSize(o, 256<<10)
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	n := 0
	for sc.Scan() {
		var v map[string]any
		if err := json.Unmarshal(sc.Bytes(), &v); err != nil {
			b.Fatal(fmt.Errorf("line %d: %w", n+1, err))
		}
		enc, err := json.Marshal(v)
		if err != nil {
			b.Fatal(err)
		}
		w.Write(enc)
		w.WriteByte('\n')
		n++
	}
	if err := sc.Err(); err != nil {
		b.Fatal(err)
	}
	w.Flush()
	return n
}
