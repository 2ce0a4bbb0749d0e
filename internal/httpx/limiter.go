package httpx

import (
	"context"
	"math"
	"net/http"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Limiter paces every request to one tenant, whichever client sends it.
//
// A server that states its budget in x-ratelimit-limit / -remaining / -reset (Auth0, on
// every Management API answer) runs a token bucket: limit tokens at most, refilled
// continuously. The Limiter keeps a copy of that bucket:
//
//   - its level follows the server's remaining count, less the requests still on their
//     way and one token kept in reserve: the burst is spent at the start, and a bucket
//     drained by someone else shows at once;
//   - between answers it refills at the pace. The pace starts at a lower bound of the
//     server's refill rate, inferred from the reset times (refillBounds), creeps up while
//     the reserve stays untouched and drops when an answer finds it spent, never leaving
//     the inferred bounds: once the burst is spent it settles just under the refill rate;
//   - a 429 stops everyone until the server's reset (or Retry-After) and halves the pace.
//
// A server that says nothing but 429 (+ Retry-After) gets AIMD around the configured rate:
// a 429 blocks everyone and halves the rate, each success adds back 2%.
//
// All times come from the callers (the clients' clocks), so tests drive it with a fake
// clock.
type Limiter struct {
	mu       sync.Mutex
	tb       bucket
	base     float64 // configured rate; +Inf: none
	burst    int     // configured burst
	until    time.Time
	blocks   int // how many times a block was set (diagnostics, tests)
	inflight int // granted and not answered yet: the server's count does not show them
	seq      uint64
	freshest uint64 // the latest-sent request answered so far

	// Learned from x-ratelimit-*.
	informed bool
	limit    float64 // the server's bucket size
	pace     float64 // refill rate of the local copy
	refill   refillBounds
	learning time.Time // since when the bounds are being learned afresh

	paced bool // no rate headers: running below base after a 429
}

// ticket is one granted request: its place in the sending order and when it left.
type ticket struct {
	seq  uint64
	sent time.Time
}

// minRate keeps a paced limiter from stopping altogether.
const minRate = rate.Limit(1.0 / 600)

// Pace adjustments on the server's reserve (see Limiter).
const (
	paceProbe = 1.1  // the bucket was full: the refill went to waste
	paceBack  = 0.9  // reserve spent
	paceUnder = 0.99 // share of the refill rate's upper bound the pace may reach
	settle    = 2 * time.Second
)

// DefaultRate and DefaultBurst apply to a client built without a Limiter.
const (
	DefaultRate  = rate.Limit(10)
	DefaultBurst = 10
)

// NewLimiter returns a limiter at r requests per second with the given burst. r <= 0
// means DefaultRate; burst <= 0 means max(1, r). A server's x-ratelimit-* headers, once
// seen, replace both with the server's own bucket.
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
	return &Limiter{tb: newBucket(float64(r), float64(burst)), base: float64(r), burst: burst}
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

// Rate is the current pace in requests per second (once the bucket's level is spent).
func (l *Limiter) Rate() rate.Limit {
	l.mu.Lock()
	defer l.mu.Unlock()
	return rate.Limit(l.tb.rate)
}

// BlockedUntil is the time before which no request will be sent (zero if never blocked).
func (l *Limiter) BlockedUntil() time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.until
}

// wait returns when the caller may send one request: after any block, once a token is
// there. A waiter takes its token only when it is there (no reservation ahead of time),
// so a level lowered by an answer that came in meanwhile holds back waiters too.
func (l *Limiter) wait(ctx context.Context, clk clock) (ticket, error) {
	for {
		if err := ctx.Err(); err != nil {
			return ticket{}, err
		}
		l.mu.Lock()
		now := clk.now()
		var d time.Duration
		if now.Before(l.until) {
			d = l.until.Sub(now)
		} else if d = l.tb.take(now); d <= 0 {
			l.inflight++
			l.seq++
			tk := ticket{seq: l.seq, sent: now}
			l.mu.Unlock()
			return tk, nil
		} else {
			l.tb.give(now) // not there yet: wait and look again
		}
		l.mu.Unlock()
		if err := clk.sleep(ctx, d); err != nil {
			return ticket{}, err
		}
	}
}

// done ends a granted request that got no response (transport error, no token).
func (l *Limiter) done(ticket) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.inflight = max(0, l.inflight-1)
}

// observe ends a granted request and adapts the pace to its response. fallback is how long
// to block on a 429 that names no reset time. ignore429 is set when the caller expects 429
// as an answer (e.g. Auth0's "too many import jobs"), which is then not a sign of the
// request rate.
func (l *Limiter) observe(tk ticket, now time.Time, status int, h http.Header, fallback time.Duration, ignore429 bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.inflight = max(0, l.inflight-1)
	fresh := tk.seq > l.freshest
	if fresh {
		l.freshest = tk.seq
	}
	limited := status == http.StatusTooManyRequests && !ignore429
	if status == http.StatusServiceUnavailable {
		// 503 with Retry-After is the server's "everyone wait": honour it for all clients.
		if d, ok := parseRetryAfter(h.Get("Retry-After"), now); ok {
			l.block(now.Add(d))
		}
		return
	}
	rh := parseRateHeaders(h, now)
	if rh.hasLimit && rh.hasRemaining && rh.limit >= 1 {
		l.follow(tk, now, rh, limited, h, fallback, fresh)
		return
	}
	if limited {
		until := now.Add(fallback)
		if d, ok := serverHint(status, h, now); ok {
			until = now.Add(d)
		}
		l.block(until)
		cur := l.tb.rate
		if math.IsInf(cur, 1) {
			cur = float64(DefaultRate)
		}
		// Halve, but not below a tenth of the configured rate: with no budget signal a
		// server answering 429 to one request in ten (and 2% recovery per success) would
		// otherwise drive the pace to minRate, one request per ten minutes. The block
		// above still keeps every client off the server until the hint or the fallback.
		floor := max(float64(minRate), float64(l.base)/10)
		if math.IsInf(float64(l.base), 1) {
			floor = float64(DefaultRate) / 10
		}
		l.setRate(now, max(floor, cur/2), 1)
		l.paced = true
		return
	}
	if !l.informed && l.paced && status < 400 {
		// No budget signal: creep back up, 2% per success. A faster climb (base/10 per
		// success) was measured bouncing off a 5 rps server every few requests; at 2% the
		// excess drains the server's burst only every ~20 s.
		if next := l.tb.rate*1.02 + float64(minRate); next >= l.base {
			l.setRate(now, l.base, float64(l.burst))
			l.paced = false
		} else {
			l.setRate(now, next, 1)
		}
	}
}

// follow mirrors the server's bucket from one answer's x-ratelimit-* headers.
func (l *Limiter) follow(tk ticket, now time.Time, rh rateHeaders, limited bool, h http.Header, fallback time.Duration, fresh bool) {
	if rh.limit != l.limit {
		// Another bucket (first answer, a plan change): what was learned is void.
		l.limit = rh.limit
		l.refill.reset()
		l.pace = 0
		l.learning = now
	}
	l.informed = true
	l.paced = false
	if rh.hasReset {
		l.refill.add(tk.sent, now, rh.limit, rh.remaining, rh.reset, !limited)
	}
	left := rh.remaining
	probe := false
	switch {
	case limited:
		until := now.Add(fallback)
		if d, ok := serverHint(http.StatusTooManyRequests, h, now); ok {
			until = now.Add(d)
		}
		l.block(until)
		// The bounds let this happen: start again from what the next answers say.
		l.refill.reset()
		l.learning = until
		l.pace /= 2
		left = 0
	case rh.remaining < 1:
		// The reserve is spent: this pace is past the refill rate (once settled; the first
		// answers race each other).
		if now.Sub(l.learning) > settle {
			l.refill.upper(now, l.pace)
		}
		l.pace *= paceBack
	case fresh && rh.remaining >= rh.limit-1:
		// The bucket was full when the request came: the refill went to waste. (A bucket
		// with room for more than the reserve gets any surplus back through the level
		// instead, below; this matters for the smallest buckets, e.g. the free plan's 2.)
		probe = true
	}
	lo, hi := l.refill.bounds(now)
	if l.pace <= 0 {
		// Nothing learned yet: a quarter of the bucket per second is safe for every plan
		// Auth0 documents, and the next answers give bounds.
		l.pace = min(l.base, rh.limit/4)
		if lo > 0 {
			l.pace = lo
		}
	}
	// Stay within what the server's answers allow: at least the lower bound (the refill
	// is surely that fast), at most just under the upper one.
	ceiling := math.Inf(1)
	if hi > 0 {
		ceiling = max(lo, hi*paceUnder)
	}
	if probe {
		l.pace *= paceProbe
	}
	// No bucket refills faster than it holds per second in any plan Auth0 documents; an
	// answer claiming so (a reset a moment away with much missing) is not followed past
	// that, nor past the configured rate if that is higher.
	ceiling = min(ceiling, max(l.base, rh.limit))
	l.pace = max(float64(minRate), min(max(l.pace, lo), ceiling))
	capacity := max(1, rh.limit-1) // one token stays in reserve
	l.setRate(now, l.pace, capacity)
	// What the server will have left once the requests on their way arrive, less the
	// reserve. Only the answer to the latest-sent request may raise the level: an older
	// one predates requests already answered. Lowering it keeps what the bucket refilled
	// since the request left, which the server's count (taken in between) may not show;
	// at most half a token of it, as the count may show it already.
	target := left - float64(l.inflight) - 1
	credit := min(l.pace*now.Sub(tk.sent).Seconds(), 0.5)
	if ceil := target + credit; l.tb.tokens > ceil {
		l.tb.tokens = ceil
	}
	if fresh && target > l.tb.tokens {
		l.tb.tokens = min(target, capacity)
	}
	if limited && h.Get("Retry-After") == "" && rh.hasReset && rh.reset.After(now) {
		// Blocked until the reset, when the bucket is full again (Auth0's meaning): the
		// level then is the whole bucket but for what is on its way.
		l.tb.tokens = min(capacity, rh.limit-1-float64(l.inflight))
		l.tb.last = rh.reset
	}
}

func (l *Limiter) setRate(now time.Time, r, capacity float64) {
	l.tb.set(now, r, capacity)
}

func (l *Limiter) block(until time.Time) {
	if until.After(l.until) {
		l.until = until
		l.blocks++
	}
}

// clock is the time source of a client: real by default, fake in tests.
type clock struct {
	now   func() time.Time
	sleep func(ctx context.Context, d time.Duration) error
}

// Sleep waits d or until ctx is done, whichever comes first; it returns ctx.Err() in the
// second case. Every wait in ferry's connectors goes through it (or a test's fake).
func Sleep(ctx context.Context, d time.Duration) error {
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
