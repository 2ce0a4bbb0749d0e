package httpx

import (
	"math"
	"time"
)

// bucket is a token bucket driven by explicit times. rate.Limiter cannot be told how many
// tokens it holds, and the Limiter must set that from the server's x-ratelimit-remaining;
// hence this small one. tokens may go negative: that many requests are already promised
// and wait for the refill.
type bucket struct {
	rate   float64 // tokens per second; +Inf: no limit
	cap    float64 // most tokens held at once (the burst)
	tokens float64
	last   time.Time
}

func newBucket(rate, capacity float64) bucket {
	return bucket{rate: rate, cap: capacity, tokens: capacity}
}

// advance refills the bucket up to now.
func (b *bucket) advance(now time.Time) {
	if b.last.IsZero() {
		b.last = now
		return
	}
	if now.Before(b.last) {
		return // the level was set as of a later time (the end of a block)
	}
	if math.IsInf(b.rate, 1) {
		b.tokens = b.cap
	} else {
		b.tokens = math.Min(b.cap, b.tokens+now.Sub(b.last).Seconds()*b.rate)
	}
	b.last = now
}

// take spends one token at now and says how long to wait before it is there.
func (b *bucket) take(now time.Time) time.Duration {
	b.advance(now)
	b.tokens--
	if b.tokens >= 0 || math.IsInf(b.rate, 1) {
		return 0
	}
	if b.rate <= 0 {
		return maxHintSeconds * time.Second
	}
	return time.Duration(math.Ceil(-b.tokens / b.rate * float64(time.Second)))
}

// give returns a token taken but not used (the caller gave up waiting).
func (b *bucket) give(now time.Time) {
	b.advance(now)
	b.tokens = math.Min(b.cap, b.tokens+1)
}

// set changes the rate and the capacity from now on, keeping what is in the bucket.
func (b *bucket) set(now time.Time, rate, capacity float64) {
	b.advance(now)
	b.rate, b.cap = rate, capacity
	b.tokens = math.Min(b.tokens, capacity)
}
