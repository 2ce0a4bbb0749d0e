// Package faults is HTTP middleware that makes a sandbox tenant misbehave the way real
// networks and providers do: added latency, 5xx answers, dropped connections, truncated and
// trickled bodies. It is deterministic: one seeded PRNG, drawn once per request under a
// mutex, so the same seed and request order give the same faults.
package faults

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Config says how often each fault happens. Rates are probabilities per request in [0,1];
// at most one of 5xx, drop, truncate and slow hits a request, and their sum must not
// exceed 1.
type Config struct {
	Latency  time.Duration // added before every request is handled
	Rate5xx  float64       // answer with Status (503) and ErrorBody instead of handling
	Drop     float64       // hijack the connection and close it without answering
	Truncate float64       // announce the full Content-Length, send half the body, close
	Slow     float64       // trickle the body SlowChunk bytes at a time, SlowDelay apart
	Seed     int64

	Status    int           // status of injected errors; 503 when zero
	SlowChunk int           // bytes per trickle; 16 when zero
	SlowDelay time.Duration // pause between trickles; 10ms when zero
}

// ErrConfig is wrapped by every Parse error.
var ErrConfig = errors.New("faults: bad config")

// Enabled reports whether cfg injects anything at all.
func (c Config) Enabled() bool {
	return c.Latency > 0 || c.Rate5xx > 0 || c.Drop > 0 || c.Truncate > 0 || c.Slow > 0
}

// Parse reads "latency=50ms,5xx=0.05,drop=0.01,truncate=0.01,slow=0.01,seed=7". Keys may
// come in any order; unknown keys, repeated keys, malformed values and rates outside [0,1]
// (or summing past 1) are errors. The empty string is the zero Config (no faults).
func Parse(s string) (Config, error) {
	var c Config
	s = strings.TrimSpace(s)
	if s == "" {
		return c, nil
	}
	seen := map[string]bool{}
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		k, v, ok := strings.Cut(part, "=")
		k, v = strings.ToLower(strings.TrimSpace(k)), strings.TrimSpace(v)
		if !ok || k == "" || v == "" {
			return Config{}, fmt.Errorf("%w: %q is not key=value", ErrConfig, part)
		}
		if seen[k] {
			return Config{}, fmt.Errorf("%w: %q given twice", ErrConfig, k)
		}
		seen[k] = true
		var err error
		switch k {
		case "latency":
			c.Latency, err = parseDuration(v)
		case "slowdelay":
			c.SlowDelay, err = parseDuration(v)
		case "5xx":
			c.Rate5xx, err = parseRate(v)
		case "drop":
			c.Drop, err = parseRate(v)
		case "truncate":
			c.Truncate, err = parseRate(v)
		case "slow":
			c.Slow, err = parseRate(v)
		case "seed":
			c.Seed, err = strconv.ParseInt(v, 10, 64)
		case "status":
			c.Status, err = strconv.Atoi(v)
			if err == nil && (c.Status < 500 || c.Status > 599) {
				err = errors.New("must be 500-599")
			}
		case "slowchunk":
			c.SlowChunk, err = strconv.Atoi(v)
			if err == nil && (c.SlowChunk < 1 || c.SlowChunk > 1<<20) {
				err = errors.New("must be 1..1048576")
			}
		default:
			return Config{}, fmt.Errorf("%w: unknown key %q", ErrConfig, k)
		}
		if err != nil {
			return Config{}, fmt.Errorf("%w: %s=%q: %v", ErrConfig, k, v, err)
		}
	}
	if sum := c.Rate5xx + c.Drop + c.Truncate + c.Slow; sum > 1+1e-9 {
		return Config{}, fmt.Errorf("%w: rates sum to %g, more than 1", ErrConfig, sum)
	}
	return c, nil
}

func parseDuration(v string) (time.Duration, error) {
	d, err := time.ParseDuration(v)
	if err != nil {
		return 0, err
	}
	if d < 0 || d > time.Hour {
		return 0, errors.New("must be between 0 and 1h")
	}
	return d, nil
}

func parseRate(v string) (float64, error) {
	f, err := strconv.ParseFloat(v, 64)
	if err != nil {
		return 0, err
	}
	if !(f >= 0 && f <= 1) { // also rejects NaN
		return 0, errors.New("must be between 0 and 1")
	}
	return f, nil
}

// String gives the Parse form of c (only the keys that are set), so a config round-trips.
func (c Config) String() string {
	var parts []string
	add := func(k, v string) { parts = append(parts, k+"="+v) }
	if c.Latency > 0 {
		add("latency", c.Latency.String())
	}
	rate := func(k string, f float64) {
		if f > 0 {
			add(k, strconv.FormatFloat(f, 'g', -1, 64))
		}
	}
	rate("5xx", c.Rate5xx)
	rate("drop", c.Drop)
	rate("truncate", c.Truncate)
	rate("slow", c.Slow)
	if c.Seed != 0 {
		add("seed", strconv.FormatInt(c.Seed, 10))
	}
	if c.Status != 0 {
		add("status", strconv.Itoa(c.Status))
	}
	if c.SlowChunk != 0 {
		add("slowchunk", strconv.Itoa(c.SlowChunk))
	}
	if c.SlowDelay > 0 {
		add("slowdelay", c.SlowDelay.String())
	}
	return strings.Join(parts, ",")
}
