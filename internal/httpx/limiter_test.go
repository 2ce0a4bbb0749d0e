package httpx

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/time/rate"
)

// bucketServer enforces a token bucket in the fake clock's time, the way Auth0 does: every
// answer carries x-ratelimit-limit / -remaining / -reset (UNIX seconds at which the bucket
// is full again), and an empty bucket answers 429. With hideHeaders it behaves like a
// server that only says Retry-After on its 429s. It records every 429's block window
// [sent, reset) and every request that arrived inside one.
type bucketServer struct {
	clk         *fakeClock
	capacity    float64
	refill      float64 // tokens per second
	hideHeaders bool

	mu         sync.Mutex
	minRemain  int // lowest x-ratelimit-remaining sent on a success
	tokens     float64
	last       time.Time
	ok, n429   int
	windows    [][2]time.Time
	violations []time.Time
}

func newBucketServer(t *testing.T, clk *fakeClock, capacity, refill float64) (*bucketServer, *httptest.Server) {
	b := &bucketServer{clk: clk, capacity: capacity, refill: refill, tokens: capacity, last: clk.Now(),
		minRemain: int(capacity)}
	srv := httptest.NewServer(b)
	t.Cleanup(srv.Close)
	return b, srv
}

func (b *bucketServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b.mu.Lock()
	defer b.mu.Unlock()
	now := b.clk.Now()
	b.tokens = math.Min(b.capacity, b.tokens+now.Sub(b.last).Seconds()*b.refill)
	b.last = now
	for _, win := range b.windows {
		// Strictly after the 429: a request sent at that very instant was already on
		// its way when the 429 left the server.
		if now.After(win[0]) && now.Before(win[1]) {
			b.violations = append(b.violations, now)
		}
	}
	if b.tokens < 1 {
		reset := b.reset(now)
		b.n429++
		if b.hideHeaders {
			wait := math.Ceil((1 - b.tokens) / b.refill)
			w.Header().Set("Retry-After", strconv.Itoa(int(wait)))
			b.windows = append(b.windows, [2]time.Time{now, now.Add(time.Duration(wait) * time.Second)})
		} else {
			b.setHeaders(w, 0, reset)
			b.windows = append(b.windows, [2]time.Time{now, reset})
		}
		w.WriteHeader(http.StatusTooManyRequests)
		return
	}
	b.tokens--
	b.ok++
	b.minRemain = min(b.minRemain, int(b.tokens))
	if !b.hideHeaders {
		b.setHeaders(w, int(b.tokens), b.reset(now))
	}
	w.Write([]byte("{}"))
}

// reset is when the bucket, as it is after this request, is full again, rounded up to
// the second: never a reset earlier than true.
func (b *bucketServer) reset(now time.Time) time.Time {
	full := now.Add(time.Duration((b.capacity - b.tokens) / b.refill * float64(time.Second)))
	reset := time.Unix(full.Unix(), 0)
	if reset.Before(full) {
		reset = reset.Add(time.Second)
	}
	return reset
}

func (b *bucketServer) setHeaders(w http.ResponseWriter, remaining int, reset time.Time) {
	w.Header().Set("X-Ratelimit-Limit", strconv.Itoa(int(b.capacity)))
	w.Header().Set("X-Ratelimit-Remaining", strconv.Itoa(remaining))
	w.Header().Set("X-Ratelimit-Reset", strconv.FormatInt(reset.Unix(), 10))
}

func (b *bucketServer) stats() (ok, n429, violations int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.ok, b.n429, len(b.violations)
}

// extractAndLoad builds two clients, as the extract and the load of one tenant would,
// sharing one limiter configured far above what the server allows.
func extractAndLoad(t *testing.T, clk *fakeClock, url string) [2]*Client {
	// The registry is process-wide: a fresh key per run keeps -count=N runs independent.
	key := fmt.Sprintf("%s:%d", t.Name(), keySeq.Add(1))
	lim := SharedLimiter(key, 50, 50)
	if SharedLimiter(key, 1, 1) != lim {
		t.Fatal("SharedLimiter returned a different limiter for the same key")
	}
	var cs [2]*Client
	for i, name := range []string{"extract", "load"} {
		c, err := New(Config{Name: name, BaseURL: url, Limiter: lim, Now: clk.Now, Sleep: clk.Sleep})
		if err != nil {
			t.Fatal(err)
		}
		cs[i] = c
	}
	return cs
}

var keySeq atomic.Int64

func TestPacingSequential(t *testing.T) {
	for _, hide := range []bool{false, true} {
		t.Run(fmt.Sprintf("headers=%v", !hide), func(t *testing.T) {
			clk := newFakeClock()
			b, srv := newBucketServer(t, clk, 20, 5)
			b.hideHeaders = hide
			cs := extractAndLoad(t, clk, srv.URL)
			const n = 300
			start := clk.Now()
			for i := range n {
				if _, err := cs[i%2].Do(context.Background(), &Request{Path: "/users"}); err != nil {
					t.Fatalf("request %d: %v", i, err)
				}
			}
			elapsed := clk.Now().Sub(start)
			ok, n429, violations := b.stats()
			ideal := time.Duration(float64(n-20) / 5 * float64(time.Second)) // burst, then the refill rate
			t.Logf("ok=%d 429s=%d violations=%d fake elapsed=%s (ideal %s)", ok, n429, violations, elapsed, ideal)
			if ok != n || violations != 0 {
				t.Fatalf("ok=%d violations=%d, want %d and 0", ok, violations, n)
			}
			if !hide && (n429 != 0 || b.minRemain < 1) {
				// With the headers the limiter sees the bucket drain and slows down before
				// it is empty: no bouncing, and not even an empty bucket.
				t.Errorf("429s = %d, lowest remaining %d with rate headers, want 0 and >= 1", n429, b.minRemain)
			}
			if hide && n429 > n/10 {
				t.Errorf("429s = %d without rate headers, want at most %d", n429, n/10)
			}
			// Staying under the limit must not cost much throughput (virtual time, so
			// this is deterministic, not a wall-clock threshold).
			if elapsed > ideal*3/2 {
				t.Errorf("took %s of virtual time, ideal %s", elapsed, ideal)
			}
		})
	}
}

func TestPacingConcurrentSharedLimiter(t *testing.T) {
	for _, hide := range []bool{false, true} {
		t.Run(fmt.Sprintf("headers=%v", !hide), func(t *testing.T) {
			clk := newFakeClock()
			b, srv := newBucketServer(t, clk, 20, 5)
			b.hideHeaders = hide
			cs := extractAndLoad(t, clk, srv.URL)
			const workers, each = 8, 40
			var wg sync.WaitGroup
			errs := make(chan error, workers)
			for w := range workers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for range each {
						if _, err := cs[w%2].Do(context.Background(), &Request{Path: "/users"}); err != nil {
							errs <- err
							return
						}
					}
				}()
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Fatal(err)
			}
			ok, n429, violations := b.stats()
			t.Logf("ok=%d 429s=%d violations=%d", ok, n429, violations)
			if ok != workers*each {
				t.Fatalf("ok = %d, want %d", ok, workers*each)
			}
			// A request already on the wire when a 429 is answered cannot be recalled: at
			// most the other workers' requests may land inside its block window.
			if violations > n429*(workers-1) {
				t.Errorf("%d requests inside block windows after %d 429s", violations, n429)
			}
			// With headers the in-flight-aware pacing keeps off the limit entirely
			// (0 in 30 runs); allow one bounce for an unlucky schedule.
			if !hide && n429 > 1 {
				t.Errorf("429s = %d with rate headers, want at most 1", n429)
			}
			if hide && n429 > workers*each/10 {
				t.Errorf("429s = %d without rate headers, want at most %d", n429, workers*each/10)
			}
		})
	}
}

func TestLimiterObserve(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	hdr := func(limit, remaining int, resetIn time.Duration) http.Header {
		return http.Header{
			"X-Ratelimit-Limit":     {strconv.Itoa(limit)},
			"X-Ratelimit-Remaining": {strconv.Itoa(remaining)},
			"X-Ratelimit-Reset":     {strconv.FormatInt(now.Add(resetIn).Unix(), 10)},
		}
	}
	var seq uint64
	tk := func() ticket { seq++; return ticket{seq: seq, sent: now} }

	// Started like the extract source: 50 rps, burst 10. The first answer shows the
	// server's bucket: its burst becomes ours at once, less one token in reserve.
	l := NewLimiter(50, 10)
	l.observe(tk(), now, 200, hdr(50, 49, time.Second), 0, false)
	if l.tb.cap != 49 || l.tb.tokens != 48 {
		t.Fatalf("first answer: capacity %v level %v, want 49 and 48", l.tb.cap, l.tb.tokens)
	}
	// 40 tokens missing, full again within 3 s (rounded up) of the send: the refill is at
	// least 39/3 = 13 per second, and less than 40/(3-1) = 20.
	l.observe(tk(), now, 200, hdr(50, 10, 3*time.Second), 0, false)
	if r := float64(l.Rate()); r < 13 || r > 20 {
		t.Fatalf("pace %v outside the inferred bounds [13, 20]", r)
	}
	if l.tb.tokens != 9 {
		t.Fatalf("level %v, want 10 left - 1 in reserve", l.tb.tokens)
	}
	// An answer to an older request cannot raise the level (it predates answered ones)...
	old := ticket{seq: 1, sent: now}
	l.observe(old, now, 200, hdr(50, 30, 2*time.Second), 0, false)
	if l.tb.tokens != 9 {
		t.Fatalf("stale answer moved the level to %v", l.tb.tokens)
	}
	// ... but lowers it, and requests in flight count as spent.
	l.inflight = 4
	l.observe(old, now, 200, hdr(50, 5, 3*time.Second), 0, false)
	if l.inflight != 3 || l.tb.tokens != 5-3-1 {
		t.Fatalf("inflight %d level %v, want 3 and 1", l.inflight, l.tb.tokens)
	}
	l.inflight = 0
	// The reserve spent: the pace drops (not below the lower bound), nobody is blocked
	// (the bucket refills meanwhile), and the level waits for the refill.
	before := l.Rate()
	l.observe(tk(), now, 200, hdr(50, 0, 4*time.Second), 0, false)
	if l.Rate() > before || l.Rate() < 13 || !l.BlockedUntil().IsZero() || l.tb.tokens != -1 {
		t.Fatalf("reserve spent: pace %v (was %v) blocked %v level %v", l.Rate(), before, l.BlockedUntil(), l.tb.tokens)
	}
	// A 429: everyone waits for the reset, the pace halves, the bounds start over.
	l.observe(tk(), now, 429, hdr(50, 0, 4*time.Second), time.Second, false)
	if !l.BlockedUntil().Equal(now.Add(4*time.Second)) || l.Rate() > before/2+0.001 {
		t.Fatalf("429: blocked until %v pace %v", l.BlockedUntil(), l.Rate())
	}
	l.observe(tk(), now, 429, http.Header{"Retry-After": {"30"}}, time.Second, false)
	if !l.BlockedUntil().Equal(now.Add(30 * time.Second)) {
		t.Fatalf("429 with Retry-After: blocked until %v", l.BlockedUntil())
	}
	// A 429 the caller expects (too many import jobs) says nothing about the pace.
	l2 := NewLimiter(16, 50)
	l2.observe(tk(), now, 429, http.Header{"Retry-After": {"30"}}, time.Second, true)
	if !l2.BlockedUntil().IsZero() || l2.Rate() != 16 {
		t.Fatalf("expected 429 changed the limiter")
	}
	// Without headers, a 429 halves the rate and successes bring it back gradually.
	l3 := NewLimiter(10, 10)
	l3.observe(tk(), now, 429, nil, time.Second, false)
	if l3.Rate() != 5 || !l3.BlockedUntil().Equal(now.Add(time.Second)) {
		t.Fatalf("bare 429: rate %v until %v", l3.Rate(), l3.BlockedUntil())
	}
	l3.observe(tk(), now, 200, nil, 0, false)
	if r := l3.Rate(); r <= 5 || r > 5.2 {
		t.Fatalf("one success after a bare 429: rate %v", r)
	}
	for range 40 {
		l3.observe(tk(), now, 200, nil, 0, false)
	}
	if l3.Rate() != 10 || l3.tb.cap != 10 {
		t.Fatalf("after successes: rate %v burst %v", l3.Rate(), l3.tb.cap)
	}
}

func TestLimiterWaitHonoursBlockAndContext(t *testing.T) {
	clk := newFakeClock()
	l := NewLimiter(rate.Inf, 1)
	l.observe(ticket{}, clk.Now(), 429, http.Header{"Retry-After": {"9"}}, 0, false)
	until := l.BlockedUntil()
	if _, err := l.wait(context.Background(), clock{clk.Now, clk.Sleep}); err != nil {
		t.Fatal(err)
	}
	if clk.Now().Before(until) {
		t.Fatalf("wait returned at %v, before the block ended at %v", clk.Now(), until)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	l.observe(ticket{}, clk.Now(), 429, http.Header{"Retry-After": {"9"}}, 0, false)
	if _, err := l.wait(ctx, clock{clk.Now, clk.Sleep}); err != context.Canceled {
		t.Fatalf("cancelled wait: %v", err)
	}
}
