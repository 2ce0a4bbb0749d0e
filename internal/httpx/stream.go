package httpx

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"
)

// Stream sends r like Do but hands back the response body unread, for large downloads
// (export files). There is no overall timeout; instead the call fails with ErrIdleTimeout
// when the server sends nothing (headers, then body bytes) for the idle timeout, and a
// body over MaxStreamBody (or r.MaxBody) fails with ErrTooLarge. The caller must close
// the body. Retries cover everything up to the response headers; a body broken half-way
// is the caller's to restart.
func (c *Client) Stream(ctx context.Context, r *Request) (io.ReadCloser, http.Header, error) {
	o, err := c.exchange(ctx, r, true)
	if err != nil {
		return nil, nil, err
	}
	limit := c.maxStream
	if r.MaxBody > 0 {
		limit = r.MaxBody
	}
	u, _ := resolve(c.base, r.Path, r.Query) // resolved once already: cannot fail now
	return &streamBody{
		rc: o.resp.Body, ctl: o.ctl, c: c, limit: limit,
		method: r.method(), rurl: redactURL(u),
	}, o.resp.Header, nil
}

// streamCtl is the context of one streamed attempt and its idle watchdog.
type streamCtl struct {
	ctx    context.Context
	cancel context.CancelCauseFunc
	timer  *time.Timer
	idle   time.Duration
}

func newStreamCtl(parent context.Context, idle time.Duration) *streamCtl {
	ctx, cancel := context.WithCancelCause(parent)
	s := &streamCtl{ctx: ctx, cancel: cancel, idle: idle}
	// Armed now: it covers the wait for the response headers.
	s.timer = time.AfterFunc(idle, func() { cancel(ErrIdleTimeout) })
	return s
}

func (s *streamCtl) close() {
	s.timer.Stop()
	s.cancel(context.Canceled)
}

// streamBody counts what it reads against the cap and arms the idle watchdog around each
// Read, so that a slow consumer is never blamed on the server.
type streamBody struct {
	rc     io.ReadCloser
	ctl    *streamCtl
	c      *Client
	limit  int64
	n      int64
	method string
	rurl   string
	err    error
}

func (b *streamBody) Read(p []byte) (int, error) {
	if b.err != nil {
		return 0, b.err
	}
	if int64(len(p)) > b.limit-b.n+1 {
		p = p[:b.limit-b.n+1] // read at most one byte past the cap to detect it
	}
	b.ctl.timer.Reset(b.ctl.idle)
	n, err := b.rc.Read(p)
	b.ctl.timer.Stop()
	b.n += int64(n)
	if b.n > b.limit {
		n -= int(b.n - b.limit)
		b.err = b.c.opErr(b.method, b.rurl, "read body",
			fmt.Errorf("over the %d-byte cap: %w", b.limit, ErrTooLarge))
		b.close()
		return n, b.err
	}
	if err != nil && err != io.EOF {
		if errors.Is(context.Cause(b.ctl.ctx), ErrIdleTimeout) {
			err = fmt.Errorf("nothing received for %s: %w", b.ctl.idle, ErrIdleTimeout)
		}
		b.err = b.c.opErr(b.method, b.rurl, "read body", err)
		return n, b.err
	}
	return n, err
}

func (b *streamBody) close() {
	b.rc.Close()
	b.ctl.close()
}

func (b *streamBody) Close() error {
	b.close()
	return nil
}
