package load

import (
	"net/http"
	"testing"
	"time"

	"github.com/ferry-dev/ferry/internal/httpx"
	sandbox "github.com/ferry-dev/ferry/internal/sandbox/auth0"
	"github.com/ferry-dev/ferry/internal/sandbox/faults"
	"github.com/ferry-dev/ferry/schemas"
	"golang.org/x/time/rate"
)

// Run with: go test -run '^$' -bench Auth0 -benchtime 1x ./load

// BenchmarkAuth0RateLimited imports users into a sandbox that enforces a global rate limit
// of limitRPS, and reports users/s next to the ceiling that limit allows: every import
// file costs at least three requests (create, one status poll, the errors), so at most
// limitRPS/3 files a second, each of usersPerFile users.
func BenchmarkAuth0RateLimited(b *testing.B) {
	const (
		limitRPS = 5.0
		users    = 800
		fileSize = 20 * 1024
		delay    = 100 * time.Millisecond
	)
	us := make([]*schemas.User, users)
	for i := range us {
		us[i] = mkUser(i)
	}
	for i := 0; i < b.N; i++ {
		tn := newTenant(b, sandbox.Config{ImportDelay: delay,
			Buckets: map[string]sandbox.Bucket{sandbox.BucketGlobal: {Burst: 5, PerSecond: limitRPS}}})
		sink := tn.sink(b, func(c *Auth0Config) {
			c.FileLimit = fileSize
			c.PollInitial, c.PollMax = delay, time.Second
			// The client starts at the plan's rate and follows the x-ratelimit headers.
			c.Limiter = httpx.NewLimiter(rate.Limit(limitRPS), 5)
		})
		start := time.Now()
		sum := runPipeline(b, sink, us, 8)
		secs := time.Since(start).Seconds()
		if sum.Created != users {
			b.Fatalf("summary %+v", sum)
		}
		tn.rec.mu.Lock()
		files := tn.rec.files
		tn.rec.mu.Unlock()
		perFile := float64(users) / float64(files)
		ceiling := limitRPS / 3 * perFile
		got := float64(users) / secs
		b.ReportMetric(got, "users/s")
		b.ReportMetric(ceiling, "ceiling-users/s")
		b.ReportMetric(got/ceiling, "ratio")
	}
}

// BenchmarkAuth0Concurrency measures the speed-up of 8 writers over 1 when every request
// takes 50 ms more (the sandbox behind the fault injector's latency).
func BenchmarkAuth0Concurrency(b *testing.B) {
	const (
		users    = 1200
		fileSize = 20 * 1024
		delay    = 100 * time.Millisecond
	)
	us := make([]*schemas.User, users)
	for i := range us {
		us[i] = mkUser(i, "viewer")
	}
	run := func(conc int) float64 {
		tn := newTenant(b, sandbox.Config{ImportDelay: delay}, func(h http.Handler) http.Handler {
			return faults.Wrap(h, faults.Config{Latency: 50 * time.Millisecond})
		})
		sink := tn.sink(b, func(c *Auth0Config) {
			c.FileLimit = fileSize
			c.PollInitial, c.PollMax = delay, time.Second
		})
		start := time.Now()
		sum := runPipeline(b, sink, us, conc)
		if sum.Created != users {
			b.Fatalf("summary %+v", sum)
		}
		return float64(users) / time.Since(start).Seconds()
	}
	for i := 0; i < b.N; i++ {
		one := run(1)
		eight := run(8)
		b.ReportMetric(one, "users/s-c1")
		b.ReportMetric(eight, "users/s-c8")
		b.ReportMetric(eight/one, "speedup")
	}
}
