// Package bench measures ferry end to end on generated users, next to a baseline of plain
// segmentio decode+encode of the same bytes in the same run. bench/run.sh drives it and
// BENCHMARKS.md records the results.
package bench

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"testing"

	"github.com/ferry-dev/ferry/extract"
	"github.com/ferry-dev/ferry/internal/core"
	"github.com/ferry-dev/ferry/internal/gen"
	"github.com/ferry-dev/ferry/internal/pipeline"
	"github.com/ferry-dev/ferry/load"
	"github.com/ferry-dev/ferry/schemas"
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
	if err := gen.WriteNDJSON(w, app, 1, users(), gen.Options{}); err != nil {
		b.Fatal(err)
	}
	w.Flush()
	f.Close()
	inputs[provider] = path
	st, _ := os.Stat(path)
	return path, st.Size()
}

// report adds the per-user figures the issue asks for.
func report(b *testing.B, n int, allocsBefore uint64) {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	total := float64(n) * float64(b.N)
	b.ReportMetric(total/b.Elapsed().Seconds(), "users/s")
	b.ReportMetric(float64(ms.Mallocs-allocsBefore)/total, "allocs/user")
}

func mallocs() uint64 {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.Mallocs
}

// BenchmarkFileToFile runs the whole migrate pipeline, file to file, with validation and
// the read-order restoring batcher, on every core.
func BenchmarkFileToFile(b *testing.B) {
	for _, tc := range []struct{ provider, from, to string }{
		{"scim", core.FormatSCIM, core.FormatSCIM},
		{"auth0", core.FormatAuth0, core.FormatSCIM},
	} {
		b.Run(tc.provider+"-to-"+tc.to, func(b *testing.B) {
			in, size := input(b, tc.provider)
			out := filepath.Join(b.TempDir(), "out.ndjson")
			b.SetBytes(size)
			before := mallocs()
			b.ResetTimer()
			for range b.N {
				s := runPipeline(b, in, tc.from, out, tc.to)
				if s.Written != int64(users()) {
					b.Fatalf("wrote %d of %d users (rejected %d)", s.Written, users(), s.Rejected)
				}
			}
			report(b, users(), before)
		})
	}
}

func runPipeline(b *testing.B, in, from, out, to string) pipeline.Summary {
	ctx := context.Background()
	src, err := extract.Open(ctx, in, core.Options{Format: from})
	if err != nil {
		b.Fatal(err)
	}
	dst, err := load.Open(ctx, out, core.Options{Format: to, Source: src.Name()})
	if err != nil {
		b.Fatal(err)
	}
	dec, _ := transform.DecoderFor(from)
	enc, _ := transform.EncoderFor(to)
	s, err := pipeline.Run(ctx, pipeline.Config{Source: src, Sink: dst, Decoder: dec, Encoder: enc,
		Validate: func(u *schemas.User) error { return schemas.Violations(schemas.Validate(u)).Err() }})
	if err != nil {
		b.Fatal(err)
	}
	return s
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
			before := mallocs()
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
