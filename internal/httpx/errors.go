package httpx

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/ferry-dev/ferry/internal/core"
)

// Sentinel errors, matched with errors.Is. A *StatusError matches the one for its status.
var (
	ErrUnauthorized       = errors.New("unauthorized")        // 401, after one token refresh
	ErrForbidden          = errors.New("forbidden")           // 403
	ErrNotFound           = errors.New("not found")           // 404
	ErrConflict           = errors.New("conflict")            // 409
	ErrPreconditionFailed = errors.New("precondition failed") // 412 (stale If-Match)
	ErrTooLarge           = errors.New("too large")           // 413, or a body over the size cap
	ErrRateLimited        = errors.New("rate limited")        // 429 once retries are exhausted
	// ErrInsecure is a configuration error: plain http:// to a host that is not loopback,
	// or a transport that skips TLS verification. It also matches core.ErrUsage (exit 2).
	ErrInsecure = fmt.Errorf("insecure endpoint: %w", core.ErrUsage)
	// ErrIdleTimeout: a streamed response sent nothing (headers or body bytes) for the
	// idle timeout.
	ErrIdleTimeout = errors.New("idle timeout")
)

// snippetMax bounds the response body quoted in a StatusError.
const snippetMax = 512

// StatusError is an HTTP response with a status the caller did not accept. Every field is
// already redacted: URL without secret query parameters, Body without secret values.
type StatusError struct {
	Name       string        // client name: "auth0", "appid", "scim"
	Method     string        // request method
	URL        string        // redacted URL
	Status     int           // HTTP status code
	Body       string        // at most 512 bytes of the response body, scrubbed, one line
	RetryAfter time.Duration // the server's Retry-After / x-ratelimit-reset hint, if any
}

func (e *StatusError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %s %s: %d %s", e.Name, e.Method, e.URL, e.Status, http.StatusText(e.Status))
	if e.RetryAfter > 0 {
		fmt.Fprintf(&b, " (retry after %s)", e.RetryAfter.Round(time.Second))
	}
	if e.Body != "" {
		b.WriteString(": ")
		b.WriteString(e.Body)
	}
	return b.String()
}

// Is maps the status to the package's sentinel errors.
func (e *StatusError) Is(target error) bool {
	switch target {
	case ErrUnauthorized:
		return e.Status == http.StatusUnauthorized
	case ErrForbidden:
		return e.Status == http.StatusForbidden
	case ErrNotFound:
		return e.Status == http.StatusNotFound
	case ErrConflict:
		return e.Status == http.StatusConflict
	case ErrPreconditionFailed:
		return e.Status == http.StatusPreconditionFailed
	case ErrTooLarge:
		return e.Status == http.StatusRequestEntityTooLarge
	case ErrRateLimited:
		return e.Status == http.StatusTooManyRequests
	}
	return false
}

// snippet turns a response body into one printable line of at most snippetMax bytes,
// cut on a rune boundary, after scrubbing (scrub first so a secret straddling the cut
// cannot survive half-redacted).
func snippet(body []byte, s *scrubber) string {
	str := s.scrub(strings.ToValidUTF8(string(body), "\uFFFD"))
	str = strings.Map(func(r rune) rune {
		if r == '\n' || r == '\r' || r == '\t' {
			return ' '
		}
		if r < 0x20 || r == 0x7f {
			return -1
		}
		return r
	}, str)
	str = strings.TrimSpace(str)
	if len(str) > snippetMax {
		cut := snippetMax
		for cut > 0 && !utf8.RuneStart(str[cut]) {
			cut--
		}
		str = str[:cut] + "…"
	}
	return str
}

// opError is every non-status error the client returns: Error is scrubbed, Unwrap gives
// the cause (with any *url.Error rebuilt around a redacted URL) so errors.Is still works
// for context.Canceled, ErrTooLarge, ErrIdleTimeout and the like.
type opError struct {
	msg string
	err error
}

func (e *opError) Error() string { return e.msg }
func (e *opError) Unwrap() error { return e.err }
