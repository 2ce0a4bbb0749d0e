package httpx

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"math"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Backoff bounds (full jitter: each wait is uniform in [0, min(cap, base·2^attempt)]), after
// the AWS architecture blog's "Exponential Backoff And Jitter", which showed full jitter
// finishing contended work soonest with the fewest calls.
const (
	backoffBase = 250 * time.Millisecond
	backoffCap  = 30 * time.Second
)

func backoff(attempt int) time.Duration {
	ceil := backoffCap
	if attempt < 20 {
		if d := backoffBase << attempt; d < ceil {
			ceil = d
		}
	}
	return rand.N(ceil + 1)
}

// retryableStatus: statuses worth another attempt. 429 and 503 mean "not now"; 500, 502,
// 504 are the usual transient failures of a gateway or an overloaded backend.
func retryableStatus(code int) bool {
	switch code {
	case http.StatusTooManyRequests, http.StatusInternalServerError, http.StatusBadGateway,
		http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return true
	}
	return false
}

// retryableErr reports whether a transport error may go away on its own. Certificate and
// protocol errors will not, and neither will the caller's own cancellation.
func retryableErr(err error) bool {
	var (
		unknownCA *x509.UnknownAuthorityError
		hostErr   x509.HostnameError
		certErr   x509.CertificateInvalidError
		verifyErr *tls.CertificateVerificationError
		recordErr tls.RecordHeaderError
	)
	switch {
	case errors.Is(err, context.Canceled), errors.Is(err, ErrInsecure), errors.Is(err, ErrTooLarge):
		return false
	case errors.As(err, &unknownCA), errors.As(err, &hostErr), errors.As(err, &certErr),
		errors.As(err, &verifyErr), errors.As(err, &recordErr):
		return false
	}
	return true
}

// maxHintSeconds bounds parsed hints so that absurd values cannot overflow a Duration.
const maxHintSeconds = 7 * 24 * 3600

// parseRetryAfter reads Retry-After (RFC 9110 §10.2.3): delay-seconds or an HTTP-date.
func parseRetryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if n, err := strconv.ParseUint(v, 10, 64); err == nil {
		return time.Duration(min(n, maxHintSeconds)) * time.Second, true
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return 0, false
	}
	d := t.Sub(now)
	return min(max(d, 0), maxHintSeconds*time.Second), true
}

// rateHeaders is what a response said about the caller's budget. Auth0 sends
// x-ratelimit-limit, x-ratelimit-remaining and x-ratelimit-reset (UNIX epoch seconds) on
// every Management API response; others send the reset as seconds from now.
type rateHeaders struct {
	limit, remaining       float64
	hasLimit, hasRemaining bool
	reset                  time.Time
	hasReset               bool
}

// epochFloor separates a reset given as UNIX seconds from one given as a delay: no delay
// is a billion seconds long, and no epoch reset is before 2001.
const epochFloor = 1e9

func parseRateHeaders(h http.Header, now time.Time) rateHeaders {
	var r rateHeaders
	num := func(name string) (float64, bool) {
		v := strings.TrimSpace(h.Get(name))
		if v == "" {
			return 0, false
		}
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) || f < 0 {
			return 0, false
		}
		return f, true
	}
	r.limit, r.hasLimit = num("X-Ratelimit-Limit")
	r.remaining, r.hasRemaining = num("X-Ratelimit-Remaining")
	// Past year 5138 in UNIX seconds is no reset time but noise (or milliseconds): ignore.
	if f, ok := num("X-Ratelimit-Reset"); ok && f < 1e11 {
		var d time.Duration
		if f >= epochFloor {
			sec, frac := math.Modf(f)
			d = time.Unix(int64(sec), int64(frac*1e9)).Sub(now)
		} else {
			d = time.Duration(f * float64(time.Second))
		}
		r.reset = now.Add(min(max(d, 0), maxHintSeconds*time.Second))
		r.hasReset = true
	}
	return r
}

// serverHint is how long the server asked us to wait: Retry-After first (it is the more
// specific), else for a 429 the x-ratelimit-reset time.
func serverHint(status int, h http.Header, now time.Time) (time.Duration, bool) {
	if d, ok := parseRetryAfter(h.Get("Retry-After"), now); ok {
		return d, true
	}
	if status == http.StatusTooManyRequests {
		if rh := parseRateHeaders(h, now); rh.hasReset {
			return rh.reset.Sub(now), true
		}
	}
	return 0, false
}
