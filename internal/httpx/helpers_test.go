package httpx

import (
	"context"
	"net/http"
	"net/http/httptest"
	"runtime"
	"sync"
	"testing"
	"time"
)

// fakeClock is virtual time: Sleep returns at once and moves the clock forward, so tests
// that wait "30 s" take microseconds and can assert exact times. Server handlers read the
// same clock, so the server and the client agree on what "before the reset" means.
type fakeClock struct {
	mu     sync.Mutex
	t      time.Time
	sleeps []time.Duration
}

func newFakeClock() *fakeClock { return &fakeClock{t: time.Unix(1_700_000_000, 0)} }

func (f *fakeClock) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.t
}

func (f *fakeClock) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	f.mu.Lock()
	f.sleeps = append(f.sleeps, d)
	if d > 0 {
		f.t = f.t.Add(d)
	}
	f.mu.Unlock()
	runtime.Gosched()
	return ctx.Err()
}

func (f *fakeClock) Advance(d time.Duration) {
	f.mu.Lock()
	f.t = f.t.Add(d)
	f.mu.Unlock()
}

func (f *fakeClock) Sleeps() []time.Duration {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]time.Duration(nil), f.sleeps...)
}

func (f *fakeClock) Slept() time.Duration {
	var sum time.Duration
	for _, d := range f.Sleeps() {
		sum += d
	}
	return sum
}

// newTestClient starts handler on loopback and returns a client for it with a fake clock
// and a limiter that does not get in the way.
func newTestClient(t *testing.T, handler http.HandlerFunc, mod func(*Config)) (*Client, *fakeClock, *httptest.Server) {
	t.Helper()
	srv := httptest.NewServer(handler)
	t.Cleanup(srv.Close)
	clk := newFakeClock()
	cfg := Config{
		Name:    "test",
		BaseURL: srv.URL + "/api",
		Limiter: NewLimiter(1000, 1000),
		Now:     clk.Now,
		Sleep:   clk.Sleep,
	}
	if mod != nil {
		mod(&cfg)
	}
	c, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return c, clk, srv
}
