package extract

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/ferry-dev/ferry/internal/core"
	"github.com/ferry-dev/ferry/internal/gen"
	sbappid "github.com/ferry-dev/ferry/internal/sandbox/appid"
	sbauth0 "github.com/ferry-dev/ferry/internal/sandbox/auth0"
	"github.com/ferry-dev/ferry/internal/sandbox/faults"
	sbscim "github.com/ferry-dev/ferry/internal/sandbox/scim"
	"github.com/segmentio/encoding/json"
)

// The benchmarks run on the wall clock against sandboxes with 50 ms of latency per request
// and report users/s, requests/s, and ratio: users/s over the ceiling the provider's rate
// limit sets for paging (requests/s x users per page). Every iteration reads the whole
// tenant with a fresh source; the tenant's limiter is shared across iterations, as it is
// across the clients of one run, so b.N iterations measure the sustained pace, not a burst.

const benchLatency = 50 * time.Millisecond

func runBench(b *testing.B, ceiling float64, open func(h netHooks) core.Source) {
	b.Helper()
	var users int64
	rec := &recorder{next: http.DefaultTransport, now: time.Now}
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		src := open(netHooks{transport: rec})
		err := src.Users(context.Background(), func(core.Record) error { users++; return nil })
		if err != nil {
			b.Fatal(err)
		}
	}
	secs := time.Since(start).Seconds()
	requests := int64(len(rec.exchanges()))
	b.ReportMetric(float64(users)/secs, "users/s")
	b.ReportMetric(float64(requests)/secs, "req/s")
	b.ReportMetric(float64(users)/secs/ceiling, "ratio")
	if n := rec.count(http.StatusTooManyRequests); n > 0 {
		b.ReportMetric(float64(n), "429s")
	}
}

// BenchmarkAuth0List reads 1,000 users (the listing's maximum) from an enterprise-plan
// tenant (16 rps, burst 50). Ceiling: 16 rps x 100 users per page = 1,600 users/s; the
// role-member walk spends part of the same budget.
func BenchmarkAuth0List(b *testing.B) {
	benchAuth0(b, 1000, time.Second)
}

// BenchmarkAuth0Export reads 20,000 users through an export job that the sandbox completes
// in 2 s. The job costs a handful of API calls whatever the tenant's size, so the rate
// limit no longer sets the pace: the ratio over the paging ceiling (1,600 users/s) shows
// how much faster than the best possible paging the export path is.
func BenchmarkAuth0Export(b *testing.B) {
	benchAuth0(b, 20000, 2*time.Second)
}

func benchAuth0(b *testing.B, users int, delay time.Duration) {
	s, err := sbauth0.New(sbauth0.Config{Users: users, Seed: 1, Plan: "enterprise", ExportDelay: delay})
	if err != nil {
		b.Fatal(err)
	}
	srv := serve(b, s.Handler(), faults.Config{Latency: benchLatency})
	env := map[string]string{"AUTH0_TOKEN": s.Token()}
	runBench(b, 16*100, func(h netHooks) core.Source {
		a, err := newAuth0(mustEndpoint(b, "auth0://sandbox?base="+srv.URL), core.Options{Getenv: envOf(env)}, h)
		if err != nil {
			b.Fatal(err)
		}
		return a
	})
}

// BenchmarkAppIDExport reads 5,000 profiles. Ceiling: 50 rps x 50 users per page = 2,500 users/s.
func BenchmarkAppIDExport(b *testing.B) {
	const seed = 5
	apps, roles := appidRoles()
	s, err := sbappid.New(sbappid.Config{Applications: apps, Roles: roles, UserCount: 5000,
		UserGen: func(i int) []byte { return gen.AppID(seed, i, gen.Options{}) }})
	if err != nil {
		b.Fatal(err)
	}
	srv := serve(b, s.Handler(), faults.Config{Latency: benchLatency})
	c := s.Credentials()
	env := map[string]string{"IBMCLOUD_API_KEY": c.APIKey}
	raw := fmt.Sprintf("appid://%s/%s?base=%s&iam=%s", c.Region, c.TenantID, srv.URL, srv.URL)
	runBench(b, 50*50, func(h netHooks) core.Source {
		a, err := newAppID(mustEndpoint(b, raw), core.Options{Getenv: envOf(env)}, h)
		if err != nil {
			b.Fatal(err)
		}
		return a
	})
	if st := s.Stats(); st.Throttled > 0 {
		b.Errorf("%d requests throttled", st.Throttled)
	}
}

// BenchmarkSCIMIndex and BenchmarkSCIMCursor read 5,000 users. A SCIM server publishes no
// rate limit; ferry paces a SCIM base URL at 50 rps, so the ceiling is 50 rps x 100 users
// per page = 5,000 users/s. Cursor paging cannot have two pages in flight (each page names
// the next), so at 50 ms per request it tops out at 20 pages/s whatever the limit.
func BenchmarkSCIMIndex(b *testing.B)  { benchSCIM(b, true) }
func BenchmarkSCIMCursor(b *testing.B) { benchSCIM(b, false) }

func benchSCIM(b *testing.B, indexOnly bool) {
	seed := make([]json.RawMessage, 5000)
	for i := range seed {
		seed[i] = gen.SCIM(3, i, gen.Options{})
	}
	s, err := sbscim.New(sbscim.Config{Users: seed, BasePath: "/scim/v2", Token: "t"})
	if err != nil {
		b.Fatal(err)
	}
	var h http.Handler = s.Handler()
	if indexOnly {
		h = rewriting(h, "/scim/v2/ServiceProviderConfig", func(_ string, body []byte) []byte {
			return bytes.Replace(body, []byte(`"cursor":true`), []byte(`"cursor":false`), 1)
		})
	}
	srv := serve(b, h, faults.Config{Latency: benchLatency})
	runBench(b, 50*100, func(hk netHooks) core.Source {
		sc, err := newSCIM(mustEndpoint(b, "scim+"+srv.URL+"/scim/v2"), core.Options{Getenv: envOf(map[string]string{"SCIM_TOKEN": "t"})}, hk)
		if err != nil {
			b.Fatal(err)
		}
		return sc
	})
}
