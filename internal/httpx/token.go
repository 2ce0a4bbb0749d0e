package httpx

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/segmentio/encoding/json"

	"github.com/ferry-dev/ferry/internal/core"
)

// TokenSource yields the bearer token for the next request. Implementations must be safe
// for concurrent use.
type TokenSource interface {
	Token(ctx context.Context) (string, error)
}

// Invalidator is a TokenSource that can drop a token the server refused (401). The client
// passes the token it sent, so that many requests failing with the same stale token cause
// one refresh, not one each.
type Invalidator interface {
	Invalidate(token string)
}

// SecretHolder is a TokenSource that holds long-lived credentials (client secret, API
// key); a client scrubs them from every error it returns.
type SecretHolder interface {
	Secrets() []string
}

// StaticToken is a fixed bearer token (SCIM_TOKEN, AUTH0_TOKEN). It cannot be refreshed:
// a 401 is final.
type StaticToken string

var (
	_ TokenSource  = StaticToken("")
	_ SecretHolder = StaticToken("")
)

// Token returns the token, or an error if it is empty.
func (s StaticToken) Token(context.Context) (string, error) {
	if s == "" {
		return "", errors.New("empty bearer token")
	}
	return string(s), nil
}

// Secrets lists the token itself.
func (s StaticToken) Secrets() []string { return []string{string(s)} }

// fetchFunc obtains a fresh token and its lifetime.
type fetchFunc func(ctx context.Context) (token string, ttl time.Duration, err error)

// tokenCache keeps one token, refreshes it before it expires, and lets concurrent callers
// share one refresh (single-flight). A refresh that fails while the old token still has
// time left keeps serving the old one and tries again a little later.
type tokenCache struct {
	fetch fetchFunc
	now   func() time.Time

	mu        sync.Mutex
	tok       string
	refreshAt time.Time
	expiresAt time.Time
	call      *tokenCall
}

type tokenCall struct {
	done chan struct{}
	tok  string
	err  error
}

// expirySafety is how long before expiry a token stops being handed out at all: a request
// still has to reach the server and be checked there.
const expirySafety = 10 * time.Second

// refreshMargin is how long before expiry to refresh: 20% of the lifetime, at least 60 s,
// but never more than half the lifetime (a 30 s token is refreshed at 15 s, not at once).
func refreshMargin(ttl time.Duration) time.Duration {
	return min(max(ttl/5, time.Minute), ttl/2)
}

func (c *tokenCache) Token(ctx context.Context) (string, error) {
	c.mu.Lock()
	if c.tok != "" && c.now().Before(c.refreshAt) {
		tok := c.tok
		c.mu.Unlock()
		return tok, nil
	}
	call := c.call
	if call == nil {
		call = &tokenCall{done: make(chan struct{})}
		c.call = call
		// The refresh outlives the caller who started it: others may be waiting on it.
		go c.refresh(context.WithoutCancel(ctx), call)
	}
	c.mu.Unlock()
	select {
	case <-call.done:
	case <-ctx.Done():
		return "", ctx.Err()
	}
	if call.err == nil {
		return call.tok, nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.tok != "" && c.now().Before(c.expiresAt.Add(-expirySafety)) {
		return c.tok, nil
	}
	return "", call.err
}

func (c *tokenCache) refresh(ctx context.Context, call *tokenCall) {
	start := c.now()
	tok, ttl, err := c.fetch(ctx)
	if err == nil && tok == "" {
		err = errors.New("token endpoint returned an empty access_token")
	}
	if err == nil && ttl <= 0 {
		err = errors.New("token endpoint returned a token that has already expired")
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if err == nil {
		c.tok = tok
		c.expiresAt = start.Add(ttl)
		c.refreshAt = c.expiresAt.Add(-refreshMargin(ttl))
	} else if c.tok != "" {
		// Keep the old token while it lasts, retry in a while rather than on every call.
		if left := c.expiresAt.Sub(c.now()); left > 0 {
			c.refreshAt = c.now().Add(min(30*time.Second, left/2))
		}
	}
	call.tok, call.err = tok, err
	c.call = nil
	close(call.done)
}

// Invalidate drops tok if it is the cached token, forcing the next call to refresh.
func (c *tokenCache) Invalidate(tok string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if tok != "" && c.tok == tok {
		c.tok = ""
		c.refreshAt, c.expiresAt = time.Time{}, time.Time{}
	}
}

// grant is what the credential grants share: the token client and request are built on
// first use (so a grant's exported fields can be set after it is made), then a tokenCache
// sits in front of one POST to the token endpoint, whose answer is a tokenResponse.
type grant struct {
	once  sync.Once
	err   error
	cache *tokenCache
	// kind names the grant ("client credentials", "API key") and hint the settings a user
	// should check when the token endpoint refuses it; set by the request builder.
	kind, hint string
}

// describe names the grant for GrantError; request builders call it.
func (g *grant) describe(kind, hint string) { g.kind, g.hint = kind, hint }

// GrantError is a token endpoint's refusal (4xx but 429) of a grant: wrong credentials, a
// client not allowed the grant or the audience. It carries the endpoint's own code and
// description (OAuth 2.0 error/error_description, RFC 6749 §5.2, as Auth0 answers; IBM IAM's
// errorCode/errorMessage) and unwraps to the *StatusError, so errors.Is(err, ErrUnauthorized)
// and ErrForbidden still hold. Like every error of this package it holds no secret.
type GrantError struct {
	Grant       string // "client credentials", "API key"
	Code        string // access_denied, unauthorized_client, BXNIM0415E, ...
	Description string
	Hint        string
	Err         *StatusError
}

func (e *GrantError) Error() string {
	msg := fmt.Sprintf("%s: %s %s refused the %s grant: %d", e.Err.Name, e.Err.Method, e.Err.URL, e.Grant, e.Err.Status)
	detail := e.Code
	if e.Description != "" {
		if detail != "" {
			detail += ": "
		}
		detail += e.Description
	}
	if detail == "" {
		detail = e.Err.Body
	}
	if detail != "" {
		msg += " " + detail
	}
	if e.Hint != "" {
		msg += "; check " + e.Hint
	}
	return msg
}

func (e *GrantError) Unwrap() error { return e.Err }

// Is makes a refused grant a configuration error (core.ErrUsage: exit status 2): the
// credentials, the application's grants or the audience need changing, and no retry helps.
func (e *GrantError) Is(target error) bool { return target == core.ErrUsage }

// refusal turns a token endpoint's 4xx answer into a GrantError; other errors pass. The
// body was scrubbed as it came, but the code and description are JSON strings, whose
// escapes (\u0073, \n) can spell a secret or a line break only once decoded: they are
// scrubbed and made one line again after decoding.
func (g *grant) refusal(err error, scrub *scrubber) error {
	var se *StatusError
	if !errors.As(err, &se) || se.Status < 400 || se.Status > 499 || se.Status == http.StatusTooManyRequests {
		return err
	}
	ge := &GrantError{Grant: cmp(g.kind, "token"), Hint: g.hint, Err: se}
	var body map[string]json.RawMessage
	if json.Unmarshal([]byte(se.Body), &body) == nil {
		text := func(keys ...string) string {
			for _, k := range keys {
				var s string
				if json.Unmarshal(body[k], &s) == nil && s != "" {
					return s
				}
			}
			return ""
		}
		ge.Code = snippet([]byte(text("error", "errorCode")), scrub)
		ge.Description = snippet([]byte(text("error_description", "errorMessage")), scrub)
	}
	return ge
}

// grantRequest builds a grant's token client and its request; in is the JSON body, or
// nil when the request carries its own.
type grantRequest func() (c *Client, r *Request, in any, err error)

func (g *grant) start(build grantRequest) {
	g.once.Do(func() {
		c, r, in, err := build()
		if err != nil {
			g.err = err
			return
		}
		g.cache = &tokenCache{now: c.clk.now, fetch: func(ctx context.Context) (string, time.Duration, error) {
			var out tokenResponse
			if _, err := c.DoJSON(ctx, r, in, &out); err != nil {
				return "", 0, g.refusal(err, c.scrub)
			}
			return out.AccessToken, out.ttl(c.clk.now()), nil
		}}
	})
}

func (g *grant) token(ctx context.Context, build grantRequest) (string, error) {
	g.start(build)
	if g.err != nil {
		return "", g.err
	}
	return g.cache.Token(ctx)
}

func (g *grant) invalidate(build grantRequest, tok string) {
	g.start(build)
	if g.cache != nil {
		g.cache.Invalidate(tok)
	}
}
