package httpx_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ferry-dev/ferry/internal/httpx"
	sbauth0 "github.com/ferry-dev/ferry/internal/sandbox/auth0"
	"github.com/ferry-dev/ferry/internal/sandbox/faults"
)

// BenchmarkPacingAuth0 pages GET /api/v2/users of an Auth0 sandbox on the wall clock, with
// 50 ms of latency per request, through one client and its limiter (started, like the
// extract source's, at 50 rps and burst 10: above every plan, so the x-ratelimit-* headers
// set the pace). It reports the steady rate (successful requests sent after the warm-up,
// once the burst is spent) over the plan's refill rate, and the 429s met after the warm-up.
//
//	go test ./internal/httpx -run '^$' -bench PacingAuth0 -benchtime 1x
func BenchmarkPacingAuth0(b *testing.B) {
	cases := []struct {
		plan   string
		refill float64
		conc   int
		warm   time.Duration // burst spent and pace settled
		run    time.Duration
	}{
		{"enterprise", 16, 2, 8 * time.Second, 18 * time.Second},
		{"enterprise", 16, 8, 4 * time.Second, 14 * time.Second},
		{"free", 2, 4, 4 * time.Second, 20 * time.Second},
	}
	for _, c := range cases {
		b.Run(fmt.Sprintf("%s/c%d", c.plan, c.conc), func(b *testing.B) {
			for range b.N {
				st := pace(b, c.plan, c.conc, c.warm, c.run)
				b.ReportMetric(st.steady, "req/s")
				b.ReportMetric(st.steady/c.refill, "ratio")
				b.ReportMetric(float64(st.late429), "429s-after-warmup")
				b.ReportMetric(float64(st.all429), "429s")
			}
		})
	}
}

type paceStats struct {
	steady          float64 // successful requests/s sent in [warm, end)
	late429, all429 int
}

// sendLog records when each request left and what came back.
type sendLog struct {
	next http.RoundTripper
	mu   sync.Mutex
	sent []time.Time
	st   []int
}

func (l *sendLog) RoundTrip(r *http.Request) (*http.Response, error) {
	t := time.Now()
	resp, err := l.next.RoundTrip(r)
	code := 0
	if resp != nil {
		code = resp.StatusCode
	}
	l.mu.Lock()
	l.sent, l.st = append(l.sent, t), append(l.st, code)
	l.mu.Unlock()
	return resp, err
}

func pace(b *testing.B, plan string, conc int, warm, run time.Duration) paceStats {
	b.Helper()
	s, err := sbauth0.New(sbauth0.Config{Users: 1000, Seed: 1, Plan: plan})
	if err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewServer(faults.Wrap(s.Handler(), faults.Config{Latency: 50 * time.Millisecond}))
	defer srv.Close()
	log := &sendLog{next: http.DefaultTransport}
	c, err := httpx.New(httpx.Config{Name: "auth0", BaseURL: srv.URL + "/api/v2/",
		Token: httpx.StaticToken(s.Token()), Limiter: httpx.NewLimiter(50, 10), Transport: log})
	if err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	end := start.Add(run)
	var page atomic.Int64
	var wg sync.WaitGroup
	for range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(end) {
				p := page.Add(1) % 10
				q := map[string][]string{"page": {strconv.FormatInt(p, 10)}, "per_page": {"100"}}
				if _, err := c.Do(context.Background(), &httpx.Request{Path: "users", Query: q}); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	// Requests sent in each second (and 429s), for the -v log: bursts and gaps show here.
	perSec := make([]int, int(run/time.Second)+2)
	bounced := make([]int, len(perSec))
	for i, t := range log.sent {
		k := min(int(t.Sub(start)/time.Second), len(perSec)-1)
		perSec[k]++
		if log.st[i] == http.StatusTooManyRequests {
			bounced[k]++
		}
	}
	b.Logf("sent per second %v; 429s per second %v", perSec, bounced)
	var st paceStats
	from := start.Add(warm)
	var n int
	var first, last time.Time
	for i, t := range log.sent {
		late := !t.Before(from)
		if log.st[i] == http.StatusTooManyRequests {
			st.all429++
			if late {
				st.late429++
			}
		}
		if late && t.Before(end) && log.st[i] == http.StatusOK {
			if n == 0 || t.Before(first) {
				first = t
			}
			if t.After(last) {
				last = t
			}
			n++
		}
	}
	// n sends from first to last span n-1 gaps.
	if secs := last.Sub(first).Seconds(); n > 1 && secs > 0 {
		st.steady = float64(n-1) / secs
	}
	return st
}
