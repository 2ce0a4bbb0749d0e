package httpx

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/ferry-dev/ferry/internal/core"
)

// Client talks to one endpoint. It is safe for concurrent use; build one per endpoint
// and share it between workers.
type Client struct {
	name      string
	base      *url.URL
	hc        *http.Client
	tok       TokenSource
	lim       *Limiter
	clk       clock
	ua        string
	media     string
	timeout   time.Duration
	idle      time.Duration
	maxWait   time.Duration
	retries   int
	maxBody   int64
	maxStream int64
	scrub     *scrubber
	onRetry   func(RetryEvent)
}

// New validates cfg and builds a client. Configuration errors match core.ErrUsage;
// an insecure endpoint also matches ErrInsecure.
func New(cfg Config) (*Client, error) {
	name := cfg.Name
	if name == "" {
		name = "http"
	}
	if cfg.BaseURL == "" {
		return nil, fmt.Errorf("%s: no base URL: %w", name, core.ErrUsage)
	}
	base, err := url.Parse(cfg.BaseURL)
	if err != nil || base.Host == "" {
		// The parse error would quote the URL, which may hold a key: say less.
		return nil, fmt.Errorf("%s: base URL %s is not an absolute URL: %w", name, RedactURL(cfg.BaseURL), core.ErrUsage)
	}
	if base.User != nil {
		return nil, fmt.Errorf("%s: base URL %s: credentials in a URL are refused, use the environment: %w",
			name, redactURL(base), core.ErrUsage)
	}
	if err := checkURL(base); err != nil {
		return nil, fmt.Errorf("%s: base URL %w", name, err)
	}
	tr := cfg.Transport
	if tr == nil {
		tr = newTransport()
	} else if t, ok := tr.(*http.Transport); ok && t.TLSClientConfig != nil && t.TLSClientConfig.InsecureSkipVerify {
		return nil, fmt.Errorf("%s: transport skips TLS verification: %w", name, ErrInsecure)
	}
	c := &Client{
		name:      name,
		base:      base,
		tok:       cfg.Token,
		lim:       cfg.Limiter,
		clk:       clock{now: cfg.Now, sleep: cfg.Sleep},
		ua:        cmp(cfg.UserAgent, "ferry"),
		media:     cmp(cfg.MediaType, "application/json"),
		timeout:   cmp(cfg.Timeout, DefaultTimeout),
		idle:      cmp(cfg.IdleTimeout, DefaultIdleTimeout),
		maxWait:   cmp(cfg.MaxRetryWait, DefaultMaxRetryWait),
		retries:   cmp(cfg.MaxRetries, DefaultMaxRetries),
		maxBody:   cmp(cfg.MaxBody, DefaultMaxBody),
		maxStream: cmp(cfg.MaxStreamBody, DefaultMaxStreamBody),
		scrub:     newScrubber(cfg.Secrets),
		onRetry:   cfg.OnRetry,
	}
	if c.retries < 0 {
		c.retries = 0
	}
	if c.clk.now == nil {
		c.clk.now = time.Now
	}
	if c.clk.sleep == nil {
		c.clk.sleep = Sleep
	}
	if c.lim == nil {
		c.lim = NewLimiter(DefaultRate, DefaultBurst)
	}
	if sh, ok := cfg.Token.(SecretHolder); ok {
		c.scrub.add(sh.Secrets()...)
	}
	c.hc = &http.Client{
		Transport: tr,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) >= 10 {
				return errors.New("stopped after 10 redirects")
			}
			// No downgrade to plain http on the way. Go itself drops Authorization when a
			// redirect leaves the original host.
			return checkURL(req.URL)
		},
	}
	return c, nil
}

// cmp returns v unless it is the zero value, then def.
func cmp[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

// Name is the client's name, as used in its errors.
func (c *Client) Name() string { return c.name }

// Limiter is the limiter the client paces through.
func (c *Client) Limiter() *Limiter { return c.lim }

// Redact scrubs the client's secrets and tokens from s, for callers that build their own
// messages out of server data.
func (c *Client) Redact(s string) string { return c.scrub.scrub(s) }

// Do sends r, retrying as the package doc says, and returns the response with its body
// read in full (at most MaxBody bytes). A status outside 2xx and r.AllowStatus is a
// *StatusError.
func (c *Client) Do(ctx context.Context, r *Request) (*Response, error) {
	o, err := c.exchange(ctx, r, false)
	if err != nil {
		return nil, err
	}
	return &Response{Status: o.resp.StatusCode, Header: o.resp.Header, Body: o.body}, nil
}

// outcome is the accepted response of a call: its body read (Do) or open (Stream).
type outcome struct {
	resp *http.Response
	body []byte
	ctl  *streamCtl
}

// exchange runs the attempts of one call.
func (c *Client) exchange(ctx context.Context, r *Request, stream bool) (*outcome, error) {
	method := r.method()
	u, err := resolve(c.base, r.Path, r.Query)
	if err != nil {
		return nil, c.opErr(method, RedactURL(r.Path), "bad request URL", core.ErrUsage)
	}
	rurl := redactURL(u)
	if err := checkURL(u); err != nil {
		return nil, c.opErr(method, rurl, "refused", err)
	}
	// The token goes only where it belongs: an absolute URL elsewhere (a signed export
	// location) gets none.
	auth := c.tok != nil && strings.EqualFold(u.Scheme, c.base.Scheme) && strings.EqualFold(u.Host, c.base.Host)
	idem := r.idempotent()
	maxBody := c.maxBody
	if stream {
		maxBody = c.maxStream
	}
	if r.MaxBody > 0 {
		maxBody = r.MaxBody
	}
	refreshed := false
	var last error
	for attempt := 1; ; attempt++ {
		tk, err := c.lim.wait(ctx, c.clk)
		if err != nil {
			return nil, c.stopped(method, rurl, err, last)
		}
		var tok string
		if auth {
			if tok, err = c.tok.Token(ctx); err != nil {
				c.lim.done(tk)
				if ctx.Err() != nil {
					return nil, c.stopped(method, rurl, ctx.Err(), last)
				}
				return nil, c.opErr(method, rurl, "get token", err)
			}
			c.scrub.addToken(tok)
		}
		t := c.attempt(ctx, r, method, u, tok, stream, maxBody)
		if t.err != nil {
			c.lim.done(tk)
			if ctx.Err() != nil {
				return nil, c.stopped(method, rurl, ctx.Err(), t.err)
			}
			last = t.err
			if retryableErr(t.err) && (idem || !t.sent) && attempt <= c.retries {
				if err := c.pause(ctx, attempt, backoff(attempt-1), c.opErr(method, rurl, "", t.err)); err != nil {
					return nil, c.stopped(method, rurl, err, last)
				}
				continue
			}
			return nil, c.opErr(method, rurl, attempts(attempt), t.err)
		}

		status, h := t.resp.StatusCode, t.resp.Header
		now := c.clk.now()
		hint, hasHint := serverHint(status, h, now)
		fallback := backoff(attempt - 1)
		c.lim.observe(tk, now, status, h, fallback, slices.Contains(r.AllowStatus, http.StatusTooManyRequests))
		if r.allowed(status) {
			return &outcome{resp: t.resp, body: t.body, ctl: t.ctl}, nil
		}
		if status == http.StatusUnauthorized && auth && !refreshed {
			if inv, ok := c.tok.(Invalidator); ok {
				// One fresh token, once: a revoked grant must not loop.
				inv.Invalidate(tok)
				refreshed = true
				attempt--
				continue
			}
		}
		se := &StatusError{Name: c.name, Method: method, URL: c.scrub.scrub(rurl), Status: status,
			Body: snippet(t.body, c.scrub)}
		if hasHint {
			se.RetryAfter = hint
		}
		last = se
		_, hasRetryAfter := parseRetryAfter(h.Get("Retry-After"), now)
		// A POST that reached the server is resent only when the server said it did not
		// act on it: 429, or 503 with Retry-After.
		mayRetry := idem || status == http.StatusTooManyRequests ||
			(status == http.StatusServiceUnavailable && hasRetryAfter)
		if !retryableStatus(status) || !mayRetry || attempt > c.retries || (hasHint && hint > c.maxWait) {
			return nil, se
		}
		if err := c.pause(ctx, attempt, max(fallback, hint), se); err != nil {
			return nil, c.stopped(method, rurl, err, last)
		}
	}
}

func attempts(n int) string {
	if n == 1 {
		return ""
	}
	return fmt.Sprintf("after %d attempts", n)
}

// pause reports a retry and sits out its wait.
func (c *Client) pause(ctx context.Context, attempt int, wait time.Duration, why error) error {
	if c.onRetry != nil {
		c.onRetry(RetryEvent{Attempt: attempt, Wait: wait, Err: why})
	}
	return c.clk.sleep(ctx, wait)
}

// try is what one attempt produced.
type try struct {
	resp *http.Response
	body []byte
	err  error // transport or body-read error
	sent bool  // the request headers were written: the server may have acted on it
	ctl  *streamCtl
}

// errBodyLimit bounds how much of an error response is read (for the snippet, and to let
// the connection be reused).
const errBodyLimit = 64 << 10

func (c *Client) attempt(ctx context.Context, r *Request, method string, u *url.URL, tok string, stream bool, maxBody int64) try {
	var (
		actx   context.Context
		cancel func()
		ctl    *streamCtl
	)
	if stream {
		ctl = newStreamCtl(ctx, c.idle)
		actx, cancel = ctl.ctx, ctl.close
	} else {
		tctx, tcancel := context.WithTimeout(ctx, c.timeout)
		actx, cancel = tctx, tcancel
	}
	var sent atomic.Bool
	actx = httptrace.WithClientTrace(actx, &httptrace.ClientTrace{WroteHeaders: func() { sent.Store(true) }})
	var body io.Reader
	if r.Body != nil {
		body = bytes.NewReader(r.Body) // NewRequest sets GetBody from it: redirects resend it
	}
	req, err := http.NewRequestWithContext(actx, method, u.String(), body)
	if err != nil {
		cancel()
		return try{err: err}
	}
	for k, vs := range r.Header {
		req.Header[http.CanonicalHeaderKey(k)] = slices.Clone(vs)
	}
	setDefault(req.Header, "User-Agent", c.ua)
	setDefault(req.Header, "Accept", c.media)
	if r.Body != nil {
		setDefault(req.Header, "Content-Type", cmp(r.ContentType, c.media))
	}
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}

	resp, err := c.hc.Do(req)
	if err != nil {
		err = c.explain(ctx, actx, ctl, sanitize(err))
		cancel()
		return try{err: err, sent: sent.Load()}
	}
	if stream {
		ctl.timer.Stop()
		if r.allowed(resp.StatusCode) {
			return try{resp: resp, sent: true, ctl: ctl}
		}
		ctl.timer.Reset(c.idle) // a stalled error body must not hang the call
	}
	defer cancel()
	defer resp.Body.Close()
	if !r.allowed(resp.StatusCode) {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, errBodyLimit))
		return try{resp: resp, body: b, sent: true}
	}
	b, err := readBody(resp, maxBody)
	if err != nil {
		return try{err: c.explain(ctx, actx, ctl, err), sent: true}
	}
	return try{resp: resp, body: b, sent: true}
}

// explain names the timeouts the client itself imposed, which would otherwise surface as
// a bare "context deadline exceeded".
func (c *Client) explain(parent, actx context.Context, ctl *streamCtl, err error) error {
	if parent.Err() != nil {
		return err
	}
	if ctl != nil && errors.Is(context.Cause(ctl.ctx), ErrIdleTimeout) {
		return fmt.Errorf("nothing received for %s: %w", c.idle, ErrIdleTimeout)
	}
	if errors.Is(actx.Err(), context.DeadlineExceeded) {
		return fmt.Errorf("attempt timed out after %s: %w", c.timeout, err)
	}
	return err
}

func setDefault(h http.Header, k, v string) {
	if h.Get(k) == "" {
		h.Set(k, v)
	}
}

func readBody(resp *http.Response, limit int64) ([]byte, error) {
	if resp.ContentLength > limit {
		return nil, fmt.Errorf("response of %d bytes is over the %d-byte cap: %w", resp.ContentLength, limit, ErrTooLarge)
	}
	var buf bytes.Buffer
	if resp.ContentLength > 0 {
		buf.Grow(int(resp.ContentLength))
	}
	n, err := buf.ReadFrom(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, fmt.Errorf("read body: %w", err)
	}
	if n > limit {
		return nil, fmt.Errorf("response is over the %d-byte cap: %w", limit, ErrTooLarge)
	}
	return buf.Bytes(), nil
}

// opErr builds a scrubbed error "name: METHOD url: what: cause".
func (c *Client) opErr(method, rurl, what string, err error) error {
	err = sanitize(err)
	msg := c.name + ": " + method + " " + rurl + ": "
	if what != "" {
		msg += what + ": "
	}
	msg += causeText(err)
	return &opError{msg: c.scrub.scrub(msg), err: err}
}

// stopped is the error for a call ended by its context while waiting or in flight.
func (c *Client) stopped(method, rurl string, err, last error) error {
	if last != nil {
		return c.opErr(method, rurl, "stopped (last error: "+causeText(sanitize(last))+")", err)
	}
	return c.opErr(method, rurl, "stopped", err)
}

// causeText avoids repeating the URL that a *url.Error or *StatusError already prints.
func causeText(err error) string {
	if ue, ok := err.(*url.Error); ok && ue.Err != nil {
		return ue.Err.Error()
	}
	var ge *GrantError
	if errors.As(err, &ge) {
		return ge.Error() // names the token endpoint, which the caller's URL is not
	}
	var se *StatusError
	if errors.As(err, &se) {
		s := fmt.Sprintf("%d %s", se.Status, http.StatusText(se.Status))
		if se.Body != "" {
			s += ": " + se.Body
		}
		return s
	}
	return err.Error()
}

// sanitize rebuilds the *url.Error that http.Client returns around the redacted URL, so
// that a caller unwrapping the error cannot print a key that was in the query.
func sanitize(err error) error {
	if ue, ok := err.(*url.Error); ok {
		return &url.Error{Op: ue.Op, URL: RedactURL(ue.URL), Err: ue.Err}
	}
	return err
}
