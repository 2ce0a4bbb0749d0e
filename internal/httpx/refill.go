package httpx

import (
	"math"
	"time"
)

// refillBounds brackets the refill rate of a server's token bucket from what its answers
// said. Auth0 documents x-ratelimit-limit as the bucket size, x-ratelimit-remaining as the
// tokens left, and x-ratelimit-reset as the UNIX second at which the limit "resets", that
// is at which remaining is back up to limit (auth0/docs: "Remaining time until the rate
// limit (X-RateLimit-Limit) resets. The value is in UTC epoch seconds"; the requests
// "are added back" continuously). So one answer says: (limit - remaining_exact) tokens
// refill in (reset - t) seconds, with remaining rounded down, reset rounded up to the
// second, and t somewhere between when the request left and when its answer came back.
// Each answer gives a lower and an upper bound; the tightest of the last minute or so are
// kept (older ones expire, so a plan change or a new consumer of the budget shows).
type refillBounds struct {
	lo, hi      [2]float64 // [current, previous] window; hi 0 means unknown
	windowStart time.Time
}

const refillWindow = 30 * time.Second

func (e *refillBounds) roll(now time.Time) {
	if e.windowStart.IsZero() {
		e.windowStart = now
		return
	}
	for now.Sub(e.windowStart) >= refillWindow {
		e.lo[1], e.hi[1] = e.lo[0], e.hi[0]
		e.lo[0], e.hi[0] = 0, 0
		e.windowStart = e.windowStart.Add(refillWindow)
		if now.Sub(e.windowStart) >= refillWindow {
			// Long idle: both windows are stale.
			e.lo, e.hi = [2]float64{}, [2]float64{}
			e.windowStart = now
		}
	}
}

// add records one answer. spent says the request took a token (a success): then at least
// one token is missing and at most limit-1 are left.
func (e *refillBounds) add(sent, received time.Time, limit, remaining float64, reset time.Time, spent bool) {
	e.roll(received)
	// Tokens missing from the full bucket, exactly, lie in (minMissing, maxMissing].
	maxMissing := limit - remaining
	minMissing := limit - remaining - 1
	if spent {
		minMissing = math.Max(minMissing, 1)
	}
	if minMissing > 0 {
		// The refill takes at most until the reset, counted from the earliest moment the
		// server could have answered.
		if secs := reset.Sub(sent).Seconds(); secs > 0 {
			e.lo[0] = math.Max(e.lo[0], minMissing/secs)
		}
	}
	// ... and at least until a second before the reset (rounded up), counted from the
	// latest moment.
	if secs := reset.Add(-time.Second).Sub(received).Seconds(); secs > 0 && maxMissing > 0 {
		if h := maxMissing / secs; e.hi[0] == 0 || h < e.hi[0] {
			e.hi[0] = h
		}
	}
}

// upper records a rate known to be above the refill rate.
func (e *refillBounds) upper(now time.Time, r float64) {
	e.roll(now)
	if r > 0 && (e.hi[0] == 0 || r < e.hi[0]) {
		e.hi[0] = r
	}
}

// bounds returns the tightest bracket known at now (0 where nothing is known). When the
// bounds cross (a clock skewed against the server's, or a bucket that changed), the lower
// one wins: it is the one measured against the server's own reset.
func (e *refillBounds) bounds(now time.Time) (lo, hi float64) {
	e.roll(now)
	lo = math.Max(e.lo[0], e.lo[1])
	for _, h := range e.hi {
		if h > 0 && (hi == 0 || h < hi) {
			hi = h
		}
	}
	if hi > 0 && hi < lo {
		hi = lo
	}
	return lo, hi
}

func (e *refillBounds) reset() { *e = refillBounds{} }
