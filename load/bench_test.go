package load

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/ferry-dev/ferry/internal/core"
	sbappid "github.com/ferry-dev/ferry/internal/sandbox/appid"
	sbscim "github.com/ferry-dev/ferry/internal/sandbox/scim"
)

// Both benchmarks report users/s; "ceiling" is the share of the rate the target's limit
// allows (requests/s × users per request) that the run achieved. The latency variants
// add 50 ms to every request and compare --concurrency 8 with 1.

func BenchmarkAppIDImport(b *testing.B) {
	const n = 1000
	recs := appIDUsers(n)
	for _, bc := range []struct {
		name   string
		conc   int
		faults string
	}{{"limit50rps/c8", 8, ""}, {"latency50ms/c1", 1, "latency=50ms"}, {"latency50ms/c8", 8, "latency=50ms"}} {
		b.Run(bc.name, func(b *testing.B) {
			var secs float64
			for b.Loop() {
				e := newAppIDEnv(b, sbappid.Config{Limits: sbappid.Limits{RequestsPerSecond: 50}}, bc.faults)
				start := time.Now()
				sum, _ := migrate(b, core.FormatAppID, recs, e.sink(b, false, ""), bc.conc)
				secs += time.Since(start).Seconds()
				if sum.Created != n || e.srv.Stats().Throttled != 0 {
					b.Fatalf("%+v, %d throttled", sum, e.srv.Stats().Throttled)
				}
			}
			ups := float64(n*b.N) / secs
			b.ReportMetric(ups, "users/s")
			b.ReportMetric(ups/(50*appIDBatch), "ceiling")
		})
	}
}

func BenchmarkSCIMImport(b *testing.B) {
	const n = 1000
	recs := scimUsers(n)
	for _, bc := range []struct {
		name   string
		bulk   bool
		rps    int
		conc   int
		faults string
	}{
		{"bulk/limit50rps/c4", true, 50, 4, ""},
		{"posts/limit50rps/c8", false, 50, 8, ""},
		{"posts/latency50ms/c1", false, 1000, 1, "latency=50ms"},
		{"posts/latency50ms/c8", false, 1000, 8, "latency=50ms"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			var secs float64
			perReq := 1
			for b.Loop() {
				e := newSCIMEnv(b, sbscim.Config{BulkMaxOperations: 100}, bc.faults)
				if !bc.bulk {
					e.rec.rewrite = noBulk
				}
				dst := "scim+http://" + strings.TrimPrefix(e.url, "http://") + "?rps=" + itoa(bc.rps)
				s, err := Open(context.Background(), dst, core.Options{Getenv: env("SCIM_TOKEN", "tok"), Concurrency: bc.conc})
				if err != nil {
					b.Fatal(err)
				}
				if bc.bulk {
					perReq = s.(*SCIM).BatchLimits().MaxCount
				}
				start := time.Now()
				sum, _ := migrate(b, core.FormatSCIM, recs, s, bc.conc)
				secs += time.Since(start).Seconds()
				if sum.Created != n {
					b.Fatalf("%+v", sum)
				}
			}
			ups := float64(n*b.N) / secs
			b.ReportMetric(ups, "users/s")
			b.ReportMetric(ups/float64(bc.rps*perReq), "ceiling")
		})
	}
}

func itoa(i int) string {
	const digits = "0123456789"
	if i == 0 {
		return "0"
	}
	var b []byte
	for ; i > 0; i /= 10 {
		b = append([]byte{digits[i%10]}, b...)
	}
	return string(b)
}
