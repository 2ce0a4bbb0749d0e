package httpx

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"
)

// TestRefillBounds feeds refillBounds the answers of an exact token bucket (reset = the
// second, rounded up, at which the bucket is full again; remaining rounded down) to
// requests with a round trip of latency, and checks that the bounds hold the true refill
// rate and close in on it.
func TestRefillBounds(t *testing.T) {
	cases := []struct {
		name            string
		limit, rate     float64
		latency         time.Duration
		minLo, maxHi    float64 // as shares of the true rate, after the run (measured, with slack)
		sendEvery       time.Duration
		requests        int
		serverAtReceive bool // the server answers at the end of the round trip
	}{
		{"enterprise", 50, 16, 50 * time.Millisecond, 0.9, 1.1, 60 * time.Millisecond, 600, true},
		// A longer round trip with the server halfway: a looser bracket.
		{"enterprise-midway", 50, 16, 100 * time.Millisecond, 0.7, 1.3, 62 * time.Millisecond, 600, false},
		// Two tokens say little: the pace's probing does the rest (see Limiter).
		{"free", 2, 2, 50 * time.Millisecond, 0.6, 2.0, 500 * time.Millisecond, 120, true},
		{"self-service-read", 40, 500.0 / 60, 30 * time.Millisecond, 0.8, 1.6, 121 * time.Millisecond, 400, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(1, 2))
			var e refillBounds
			now := time.Unix(1_700_000_000, 0)
			tokens, last := c.limit, now
			for range c.requests {
				sent := now.Add(time.Duration(rng.Int64N(int64(c.sendEvery / 2))))
				srv := sent.Add(c.latency / 2)
				if c.serverAtReceive {
					srv = sent.Add(c.latency)
				}
				recv := sent.Add(c.latency)
				tokens = math.Min(c.limit, tokens+srv.Sub(last).Seconds()*c.rate)
				last = srv
				spent := tokens >= 1
				if spent {
					tokens--
				}
				full := srv.Add(time.Duration((c.limit - tokens) / c.rate * float64(time.Second)))
				reset := time.Unix(full.Unix(), 0)
				if reset.Before(full) {
					reset = reset.Add(time.Second)
				}
				e.add(sent, recv, c.limit, math.Floor(tokens), reset, spent)
				lo, hi := e.bounds(recv)
				if lo > c.rate*1.0001 || (hi > 0 && hi < c.rate*0.9999) {
					t.Fatalf("bounds [%v, %v] exclude the true rate %v", lo, hi, c.rate)
				}
				now = now.Add(c.sendEvery)
			}
			lo, hi := e.bounds(now)
			t.Logf("bounds [%.3f, %.3f] for %v", lo, hi, c.rate)
			if lo < c.minLo*c.rate || hi == 0 || hi > c.maxHi*c.rate {
				t.Errorf("bounds [%.3f, %.3f] too loose for %v", lo, hi, c.rate)
			}
		})
	}
}

func TestRefillBoundsExpire(t *testing.T) {
	var e refillBounds
	t0 := time.Unix(1_700_000_000, 0)
	e.add(t0, t0, 50, 10, t0.Add(3*time.Second), true)
	if lo, _ := e.bounds(t0); lo != 13 {
		t.Fatalf("lo %v, want 39/3", lo)
	}
	if lo, _ := e.bounds(t0.Add(refillWindow + time.Second)); lo != 13 {
		t.Fatalf("one window later the bound is still kept: %v", lo)
	}
	if lo, hi := e.bounds(t0.Add(3 * refillWindow)); lo != 0 || hi != 0 {
		t.Fatalf("stale bounds kept: [%v, %v]", lo, hi)
	}
}
