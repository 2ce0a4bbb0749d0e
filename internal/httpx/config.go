package httpx

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Config describes one endpoint. Only BaseURL is required.
type Config struct {
	// Name prefixes every error: "auth0", "appid", "scim".
	Name string
	// BaseURL is the endpoint root, e.g. https://TENANT/api/v2 or
	// https://REGION.appid.cloud.ibm.com/management/v4/TENANT. http:// is refused unless
	// the host is loopback (ErrInsecure).
	BaseURL string
	// Token supplies the bearer token; nil sends no Authorization header. The token is
	// sent only to BaseURL's scheme and host, never to absolute URLs elsewhere (signed
	// download locations).
	Token TokenSource
	// Limiter paces requests; share one per tenant (SharedLimiter). nil: a private one at
	// DefaultRate.
	Limiter *Limiter
	// UserAgent defaults to "ferry".
	UserAgent string
	// Timeout bounds one attempt of Do (connect, headers and body); default 2 min.
	Timeout time.Duration
	// IdleTimeout bounds how long Stream waits for headers and for each body read;
	// default 60 s.
	IdleTimeout time.Duration
	// MaxRetries is the number of retries after the first attempt; 0 means the default 8,
	// a negative value means none.
	MaxRetries int
	// MaxBody caps a response body read by Do; default 64 MiB. Over it: ErrTooLarge.
	MaxBody int64
	// MaxStreamBody caps a body read through Stream; default 8 GiB.
	MaxStreamBody int64
	// MaxRetryWait is the longest server-requested wait (Retry-After, x-ratelimit-reset)
	// the client sits out; a longer one ends the call with the StatusError and its
	// RetryAfter. Default 10 min.
	MaxRetryWait time.Duration
	// MediaType is the JSON media type of DoJSON/GetJSON/PostJSON (Accept and
	// Content-Type); default application/json, application/scim+json for SCIM.
	MediaType string
	// Secrets are values scrubbed from every error, in addition to the tokens in use and
	// the credentials of a Token that implements SecretHolder.
	Secrets []string
	// Transport replaces the hardened default transport (tests). A *http.Transport that
	// skips TLS verification is refused.
	Transport http.RoundTripper
	// Now and Sleep replace the clock (tests): every backoff, Retry-After and limiter wait
	// goes through Sleep, which must return ctx.Err() when ctx ends first.
	Now   func() time.Time
	Sleep func(ctx context.Context, d time.Duration) error
	// OnRetry, if set, is told about each retry before its wait (progress, verbose logs).
	// The error is scrubbed like every other.
	OnRetry func(RetryEvent)
}

// RetryEvent describes a retry about to happen.
type RetryEvent struct {
	Attempt int           // the attempt that failed, 1-based
	Wait    time.Duration // how long the client waits before the next one
	Err     error         // why
}

// Defaults.
const (
	DefaultTimeout       = 2 * time.Minute
	DefaultIdleTimeout   = 60 * time.Second
	DefaultMaxRetries    = 8
	DefaultMaxBody       = 16 << 20 // list pages are a few MB; bytes.Buffer doubling makes the peak ~3x this
	DefaultMaxStreamBody = 8 << 30
	DefaultMaxRetryWait  = 10 * time.Minute
)

// newTransport is the default transport: bounded dial, TLS handshake and header waits,
// verified TLS 1.2+, enough idle connections per host for concurrent workers.
func newTransport() *http.Transport {
	return &http.Transport{
		Proxy: http.ProxyFromEnvironment,
		DialContext: (&net.Dialer{
			Timeout:   10 * time.Second,
			KeepAlive: 30 * time.Second,
		}).DialContext,
		TLSClientConfig:       &tls.Config{MinVersion: tls.VersionTLS12},
		TLSHandshakeTimeout:   10 * time.Second,
		ResponseHeaderTimeout: 60 * time.Second,
		ExpectContinueTimeout: time.Second,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          128,
		MaxIdleConnsPerHost:   64,
		IdleConnTimeout:       90 * time.Second,
	}
}

// checkURL refuses anything but https, and http to a loopback host (the sandbox).
func checkURL(u *url.URL) error {
	switch strings.ToLower(u.Scheme) {
	case "https":
		return nil
	case "http":
		if isLoopback(u.Hostname()) {
			return nil
		}
		return fmt.Errorf("%s: plain http to a non-loopback host: %w", redactURL(u), ErrInsecure)
	}
	return fmt.Errorf("%s: scheme %q is not http(s): %w", redactURL(u), u.Scheme, ErrInsecure)
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
