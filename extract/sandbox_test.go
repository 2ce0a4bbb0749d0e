package extract

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/ferry-dev/ferry/internal/core"
	"github.com/ferry-dev/ferry/internal/endpoint"
	"github.com/ferry-dev/ferry/internal/jsonstream"
	"github.com/ferry-dev/ferry/internal/sandbox/faults"
	"github.com/segmentio/encoding/json"
)

// Test plumbing shared by the sandbox tests of every network source: a fake clock that
// sleeps by moving, a transport that records every exchange, and a collector.

// fakeClock is a clock whose Sleep advances it: rate-limit waits, backoffs and job polls
// cost no wall time, and the sandbox (reading the same clock) sees the time pass.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{t: time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func (c *fakeClock) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if d > 0 {
		c.Advance(d)
	}
	return nil
}

// exchange is one request as the client sent it and what came back.
type exchange struct {
	method, path, query string
	sent, got           time.Time // on the test clock
	status              int       // 0: transport error
	header              http.Header
}

// recorder wraps a transport and logs every exchange with the test clock's times.
type recorder struct {
	next http.RoundTripper
	now  func() time.Time
	mu   sync.Mutex
	log  []exchange
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	e := exchange{method: req.Method, path: req.URL.Path, query: req.URL.RawQuery, sent: r.now()}
	resp, err := r.next.RoundTrip(req)
	e.got = r.now()
	if err == nil {
		e.status, e.header = resp.StatusCode, resp.Header.Clone()
	}
	r.mu.Lock()
	r.log = append(r.log, e)
	r.mu.Unlock()
	return resp, err
}

func (r *recorder) exchanges() []exchange {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.log)
}

func (r *recorder) count(status int) int {
	n := 0
	for _, e := range r.exchanges() {
		if e.status == status {
			n++
		}
	}
	return n
}

// checkNo429Window asserts that after the client received a 429, it sent nothing before
// the reset time the answer named (x-ratelimit-reset or Retry-After).
func checkNo429Window(t *testing.T, log []exchange) {
	t.Helper()
	for _, e := range log {
		if e.status != http.StatusTooManyRequests {
			continue
		}
		reset, ok := resetOf(e)
		if !ok {
			continue
		}
		for _, o := range log {
			if o.sent.After(e.got) && o.sent.Before(reset) {
				t.Errorf("%s %s sent at %s, inside the 429 window [%s, %s) of %s %s",
					o.method, o.path, o.sent.Format(time.RFC3339Nano), e.got.Format(time.RFC3339Nano),
					reset.Format(time.RFC3339Nano), e.method, e.path)
				return
			}
		}
	}
}

func resetOf(e exchange) (time.Time, bool) {
	if v := e.header.Get("Retry-After"); v != "" {
		if n, err := strconv.Atoi(v); err == nil {
			return e.got.Add(time.Duration(n) * time.Second), true
		}
	}
	if v := e.header.Get("X-Ratelimit-Reset"); v != "" {
		if n, err := strconv.ParseInt(v, 10, 64); err == nil {
			return time.Unix(n, 0), true
		}
	}
	return time.Time{}, false
}

// serve starts h (wrapped with faults when fc enables any) on a loopback server.
func serve(t testing.TB, h http.Handler, fc faults.Config) *httptest.Server {
	t.Helper()
	if fc.Enabled() {
		h = faults.Wrap(h, fc)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

// mustEndpoint parses an endpoint string.
func mustEndpoint(t testing.TB, s string) *endpoint.Endpoint {
	t.Helper()
	ep, err := endpoint.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return ep
}

func envOf(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

// collect runs a source to the end.
func collect(ctx context.Context, src core.Source) ([]core.Record, error) {
	var out []core.Record
	err := src.Users(ctx, func(r core.Record) error {
		out = append(out, r)
		return nil
	})
	return out, err
}

// ids reads member key of each record.
func ids(t testing.TB, recs []core.Record, key string) []string {
	t.Helper()
	out := make([]string, 0, len(recs))
	for _, r := range recs {
		if r.Err != nil {
			t.Fatalf("record %s: %v", r.Ref, r.Err)
		}
		var m map[string]json.RawMessage
		if err := json.Unmarshal(r.Data, &m); err != nil {
			t.Fatalf("record %s: %v", r.Ref, err)
		}
		out = append(out, jsonstream.IDText(m[key]))
	}
	return out
}

// sameSet reports the first difference between got and want as multisets.
func sameSet(t testing.TB, got, want []string) {
	t.Helper()
	g, w := slices.Clone(got), slices.Clone(want)
	slices.Sort(g)
	slices.Sort(w)
	if len(g) != len(w) {
		t.Errorf("got %d ids, want %d", len(g), len(w))
	}
	for i := 0; i < len(g) && i < len(w); i++ {
		if g[i] != w[i] {
			t.Errorf("first difference at %d: got %q, want %q", i, g[i], w[i])
			return
		}
	}
	for i := 1; i < len(g); i++ {
		if g[i] == g[i-1] {
			t.Errorf("id %q read twice", g[i])
			return
		}
	}
}

func withQuery(raw string, kv ...string) string {
	u, _ := url.Parse(raw)
	q := u.Query()
	for i := 0; i+1 < len(kv); i += 2 {
		q.Set(kv[i], kv[i+1])
	}
	u.RawQuery = q.Encode()
	return u.String()
}
