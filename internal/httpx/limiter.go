package httpx

import (
	"context"
	"net/http"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Limiter paces every request to one tenant, whichever client sends it. It starts at a
// configured rate and then follows what the server says:
//
//   - x-ratelimit-remaining running low: the remaining requests are spread over the time
//     until x-ratelimit-reset (burst 1), so a long run glides under the limit instead of
//     draining the bucket and bouncing off 429s;
//   - remaining 0, or a 429: nobody sends anything until the reset (Retry-After or
//     x-ratelimit-reset; without either, the client's backoff), and a 429 halves the rate;
//   - the bucket refilled (remaining back over half the limit): the configured rate again;
//     without rate headers the rate climbs back by 2% after each success.
//
// All times come from the callers (the clients' clocks), so tests can drive it with a
// fake clock; rate.Limiter is used only through its explicit-time methods.
type Limiter struct {
	mu     sync.Mutex
	lim    *rate.Limiter
	base   rate.Limit
	burst  int
	until  time.Time // nobody sends before this
	paced  bool      // running below base because the server said so
	blocks int       // how many times a block was set (diagnostics, tests)
	// inflight counts requests granted and not yet answered: the server's remaining
	// count does not include them yet.
	inflight int
}

// minRate keeps a paced limiter from stopping altogether (rate.Limiter never grants at 0).
const minRate = rate.Limit(1.0 / 600)

// DefaultRate and DefaultBurst apply to a client built without a Limiter.
const (
	DefaultRate  = rate.Limit(10)
	DefaultBurst = 10
)

// NewLimiter returns a limiter at r requests per second with the given burst. r <= 0
// means DefaultRate; burst <= 0 means max(1, r).
func NewLimiter(r rate.Limit, burst int) *Limiter {
	if r <= 0 {
		r = DefaultRate
	}
	if burst <= 0 {
		burst = 1
		if r != rate.Inf && int(r) > 1 {
			burst = int(r)
		}
	}
	return &Limiter{lim: rate.NewLimiter(r, burst), base: r, burst: burst}
}

var shared struct {
	sync.Mutex
	m map[string]*Limiter
}

// SharedLimiter returns the process-wide limiter for key (e.g. "auth0:TENANT_DOMAIN"),
// creating it at the given rate and burst on first use; later callers get the same
// limiter whatever rate they pass, so extract and load of one tenant share one budget.
func SharedLimiter(key string, initial rate.Limit, burst int) *Limiter {
	shared.Lock()
	defer shared.Unlock()
	if shared.m == nil {
		shared.m = make(map[string]*Limiter)
	}
	if l, ok := shared.m[key]; ok {
		return l
	}
	l := NewLimiter(initial, burst)
	shared.m[key] = l
	return l
}

// Rate is the current pace in requests per second.
func (l *Limiter) Rate() rate.Limit {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.lim.Limit()
}

// BlockedUntil is the time before which no request will be sent (zero if never blocked).
func (l *Limiter) BlockedUntil() time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.until
}

// wait returns when the caller may send one request: after any block and after its turn
// in the token bucket. A block set while the caller slept is honoured too.
func (l *Limiter) wait(ctx context.Context, clk clock) error {
	reserved := false
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		l.mu.Lock()
		now := clk.now()
		if now.Before(l.until) {
			d := l.until.Sub(now)
			l.mu.Unlock()
			if err := clk.sleep(ctx, d); err != nil {
				return err
			}
			continue
		}
		if reserved {
			l.inflight++
			l.mu.Unlock()
			return nil
		}
		r := l.lim.ReserveN(now, 1)
		l.mu.Unlock()
		reserved = true
		d := r.DelayFrom(now)
		if d <= 0 {
			continue // re-check the block under the lock, then go
		}
		if err := clk.sleep(ctx, d); err != nil {
			r.CancelAt(clk.now())
			return err
		}
	}
}

// done ends a granted request that got no response (transport error, no token).
func (l *Limiter) done() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.inflight = max(0, l.inflight-1)
}

// observe ends a granted request and adapts the pace to its response. fallback is how long to block on a 429 that
// names no reset time. ignore429 is set when the caller expects 429 as an answer (e.g.
// Auth0's "too many import jobs"), which is then not a sign of the request rate.
func (l *Limiter) observe(now time.Time, status int, h http.Header, fallback time.Duration, ignore429 bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.inflight = max(0, l.inflight-1)
	rh := parseRateHeaders(h, now)
	switch {
	case status == http.StatusTooManyRequests && !ignore429:
		until := now.Add(fallback)
		if d, ok := serverHint(status, h, now); ok {
			until = now.Add(d)
		}
		l.block(until)
		cur := l.lim.Limit()
		if cur == rate.Inf {
			cur = DefaultRate
		}
		l.slow(now, max(minRate, cur/2))
		return
	case status == http.StatusServiceUnavailable:
		// 503 with Retry-After is the server's "everyone wait": honour it for all clients.
		if d, ok := parseRetryAfter(h.Get("Retry-After"), now); ok {
			l.block(now.Add(d))
		}
		return
	}
	if !rh.hasRemaining {
		if l.paced && status < 400 {
			// No budget signal: creep back up, 2% per success. A faster climb (base/10
			// per success) was measured bouncing off a 5 rps server every few requests;
			// at 2% the excess drains the server's burst only every ~20 s.
			next := l.lim.Limit()*1.02 + minRate
			if next >= l.base {
				l.restore(now)
			} else {
				l.lim.SetLimitAt(now, next)
			}
		}
		return
	}
	limit := float64(l.burst)
	if rh.hasLimit && rh.limit > 0 {
		limit = rh.limit
	}
	// What is really left once the requests already on their way are counted.
	left := rh.remaining - float64(l.inflight)
	switch {
	case rh.remaining < 1 && rh.hasReset:
		// The bucket is empty: the next request would be a 429. Wait for the reset.
		l.block(rh.reset)
	case left < limit/4 || (l.paced && left < limit/2):
		secs := max(rh.reset.Sub(now).Seconds(), 1)
		if !rh.hasReset {
			secs = 1 // unknown window: assume the shortest plausible one
		}
		l.slow(now, min(max(rate.Limit(max(left, 1)/secs), minRate), l.base))
	default:
		if l.paced {
			l.restore(now)
		}
		// Never allow a burst bigger than half of what is left: with several workers,
		// responses arrive out of order and the count lags behind.
		l.lim.SetBurstAt(now, min(l.burst, max(1, int(left/2))))
	}
}

func (l *Limiter) block(until time.Time) {
	if until.After(l.until) {
		l.until = until
		l.blocks++
	}
}

func (l *Limiter) slow(now time.Time, r rate.Limit) {
	l.lim.SetLimitAt(now, r)
	l.lim.SetBurstAt(now, 1)
	l.paced = true
}

func (l *Limiter) restore(now time.Time) {
	l.lim.SetLimitAt(now, l.base)
	l.lim.SetBurstAt(now, l.burst)
	l.paced = false
}

// clock is the time source of a client: real by default, fake in tests.
type clock struct {
	now   func() time.Time
	sleep func(ctx context.Context, d time.Duration) error
}

func realSleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
