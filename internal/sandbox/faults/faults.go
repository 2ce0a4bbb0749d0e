package faults

import (
	"bytes"
	"context"
	"math/rand/v2"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ferry-dev/ferry/internal/httpx"
)

// Kind is the fault a request drew.
type Kind int

// Fault kinds, in the order their probability ranges are laid out on [0,1).
const (
	None Kind = iota
	Error5xx
	Drop
	Truncate
	Slow
)

var kindNames = [...]string{"none", "5xx", "drop", "truncate", "slow"}

func (k Kind) String() string {
	if k >= 0 && int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "kind(" + strconv.Itoa(int(k)) + ")"
}

// Hooks are what Parse cannot express: the provider's error shape, requests to leave
// alone, and a sleep that tests can replace.
type Hooks struct {
	// ErrorBody renders the body of an injected error in the wrapped provider's shape.
	// Nil gives a small JSON body.
	ErrorBody func(status int) (contentType string, body []byte)
	// Skip exempts a request from every fault (e.g. a token endpoint under test).
	Skip func(*http.Request) bool
	// Sleep waits d or until ctx is done. Nil uses a timer.
	Sleep func(ctx context.Context, d time.Duration) error
}

// Stats counts what the injector did.
type Stats struct {
	Requests, Errors, Drops, Truncates, Slows int64
}

// Injector is the fault-injecting handler.
type Injector struct {
	next  http.Handler
	cfg   Config
	hooks Hooks

	mu  sync.Mutex
	rng *rand.Rand

	requests, errors, drops, truncates, slows atomic.Int64
}

// Wrap returns h with cfg's faults injected.
func Wrap(h http.Handler, cfg Config) http.Handler { return New(h, cfg, Hooks{}) }

// New is Wrap with hooks, returning the Injector so that callers can read Stats.
func New(h http.Handler, cfg Config, hooks Hooks) *Injector {
	seed := uint64(cfg.Seed)
	return &Injector{
		next:  h,
		cfg:   cfg,
		hooks: hooks,
		rng:   rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)),
	}
}

// Stats returns the counts so far.
func (in *Injector) Stats() Stats {
	return Stats{
		Requests: in.requests.Load(), Errors: in.errors.Load(), Drops: in.drops.Load(),
		Truncates: in.truncates.Load(), Slows: in.slows.Load(),
	}
}

// draw picks the fault for the next request. Exactly one number is drawn per request,
// whatever the rates, so that the fault sequence depends only on the seed and the order.
func (in *Injector) draw() Kind {
	in.mu.Lock()
	f := in.rng.Float64()
	in.mu.Unlock()
	c := in.cfg
	for _, k := range []struct {
		kind Kind
		rate float64
	}{{Error5xx, c.Rate5xx}, {Drop, c.Drop}, {Truncate, c.Truncate}, {Slow, c.Slow}} {
		if f < k.rate {
			return k.kind
		}
		f -= k.rate
	}
	return None
}

func (in *Injector) sleep(ctx context.Context, d time.Duration) error {
	if in.hooks.Sleep != nil {
		return in.hooks.Sleep(ctx, d)
	}
	return httpx.Sleep(ctx, d)
}

// ServeHTTP implements http.Handler.
func (in *Injector) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if in.hooks.Skip != nil && in.hooks.Skip(r) {
		in.next.ServeHTTP(w, r)
		return
	}
	in.requests.Add(1)
	kind := in.draw()
	if in.cfg.Latency > 0 {
		if in.sleep(r.Context(), in.cfg.Latency) != nil {
			return // the client is gone
		}
	}
	switch kind {
	case Error5xx:
		in.errors.Add(1)
		in.writeError(w)
	case Drop:
		in.drops.Add(1)
		abort(w, false)
	case Truncate:
		in.truncates.Add(1)
		rec := newRecorder()
		in.next.ServeHTTP(rec, r)
		body := rec.body.Bytes()
		if len(body) == 0 {
			abort(w, false) // nothing to cut short: the closest is a dropped answer
			return
		}
		rec.commit(w, len(body))
		_, _ = w.Write(body[:len(body)/2])
		abort(w, true)
	case Slow:
		in.slows.Add(1)
		rec := newRecorder()
		in.next.ServeHTTP(rec, r)
		in.trickle(w, r, rec)
	default:
		in.next.ServeHTTP(w, r)
	}
}

func (in *Injector) writeError(w http.ResponseWriter) {
	status := in.cfg.Status
	if status == 0 {
		status = http.StatusServiceUnavailable
	}
	ctype, body := "application/json", []byte(`{"error":"injected fault","status":`+strconv.Itoa(status)+`}`)
	if in.hooks.ErrorBody != nil {
		ctype, body = in.hooks.ErrorBody(status)
	}
	w.Header().Set("Content-Type", ctype)
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

func (in *Injector) trickle(w http.ResponseWriter, r *http.Request, rec *recorder) {
	chunk, delay := in.cfg.SlowChunk, in.cfg.SlowDelay
	if chunk <= 0 {
		chunk = 16
	}
	if delay <= 0 {
		delay = 10 * time.Millisecond
	}
	body := rec.body.Bytes()
	rec.commit(w, len(body))
	rc := http.NewResponseController(w)
	for len(body) > 0 {
		n := min(chunk, len(body))
		if _, err := w.Write(body[:n]); err != nil {
			return
		}
		_ = rc.Flush()
		body = body[n:]
		if len(body) > 0 && in.sleep(r.Context(), delay) != nil {
			return
		}
	}
}

// abort ends the exchange without a complete answer: it flushes what was written (when
// asked: a flush of nothing would send a 200 header), then closes the connection under the
// client, hijacking it where the server allows, otherwise by the panic net/http reserves
// for this.
func abort(w http.ResponseWriter, flush bool) {
	rc := http.NewResponseController(w)
	if flush {
		_ = rc.Flush()
	}
	if conn, _, err := rc.Hijack(); err == nil {
		_ = conn.Close()
		return
	}
	panic(http.ErrAbortHandler)
}

// recorder buffers a handler's answer so that the injector can re-send it its own way.
type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func newRecorder() *recorder { return &recorder{header: http.Header{}} }

func (r *recorder) Header() http.Header { return r.header }
func (r *recorder) WriteHeader(s int) {
	if r.status == 0 {
		r.status = s
	}
}
func (r *recorder) Write(p []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.body.Write(p)
}

// commit copies the recorded headers to w, announcing the full length n.
func (r *recorder) commit(w http.ResponseWriter, n int) {
	h := w.Header()
	for k, v := range r.header {
		h[k] = v
	}
	h.Set("Content-Length", strconv.Itoa(n))
	status := r.status
	if status == 0 {
		status = http.StatusOK
	}
	w.WriteHeader(status)
}
