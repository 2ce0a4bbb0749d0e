package extract

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/ferry-dev/ferry/internal/auth0export"
	"github.com/ferry-dev/ferry/internal/core"
	"github.com/ferry-dev/ferry/internal/endpoint"
	"github.com/ferry-dev/ferry/internal/httpx"
	"github.com/segmentio/encoding/json"
)

// What the network sources (auth0.go, appid.go, scim.go) share: test hooks, the ordered
// page prefetcher, duplicate and no-progress detection, and small JSON helpers.

// netHooks replace the clock and the transport of a network source (tests, benchmarks).
// The zero value means the real ones.
type netHooks struct {
	now       func() time.Time
	sleep     func(ctx context.Context, d time.Duration) error
	transport http.RoundTripper
}

func (h netHooks) clockNow() time.Time {
	if h.now != nil {
		return h.now()
	}
	return time.Now()
}

func (h netHooks) pause(ctx context.Context, d time.Duration) error {
	if h.sleep != nil {
		return h.sleep(ctx, d)
	}
	return httpx.Sleep(ctx, d)
}

// prefetch is how many page requests a source keeps in flight. The tenant's shared
// limiter paces them; a few in flight hide the round-trip latency, which otherwise caps a
// sequential reader at 1/latency pages per second whatever the rate limit allows.
const prefetch = 4

// ErrHostile is core.ErrHostile, under the name the sources' callers have always used.
var ErrHostile = core.ErrHostile

// baseOverride returns ?base= (the sandbox or a proxy), or "".
func baseOverride(ep *endpoint.Endpoint) (string, error) {
	b := ep.Query.Get("base")
	if b == "" {
		return "", nil
	}
	u, err := url.Parse(b)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return "", fmt.Errorf("?base=%s is not an absolute http(s) URL: %w", endpoint.Redact(b), core.ErrUsage)
	}
	return strings.TrimSuffix(b, "/"), nil
}

// getenv reads a credential through opt.Getenv (tests substitute it).
func getenv(opt core.Options, name string) string {
	if opt.Getenv == nil {
		return ""
	}
	return strings.TrimSpace(opt.Getenv(name))
}

// future is one page request in flight.
type future[P any] struct {
	done chan struct{}
	page P
	err  error
}

// fetchInOrder fetches pages first, first+1, ... up to last (inclusive; last < 0: until
// handle says stop) with up to window requests in flight, and hands each page to handle in
// order. handle returns false to stop early (an empty page, the end of the data); pages
// fetched ahead are then discarded.
func fetchInOrder[P any](ctx context.Context, window, first, last int,
	fetch func(ctx context.Context, i int) (P, error), handle func(i int, p P) (bool, error)) error {
	if window < 1 {
		window = 1
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// The buffer holds window-1 futures; the producer blocks on the next send, so at most
	// window requests are in flight while handle runs.
	futs := make(chan *future[P], window-1)
	go func() {
		defer close(futs)
		for i := first; last < 0 || i <= last; i++ {
			f := &future[P]{done: make(chan struct{})}
			select {
			case futs <- f:
			case <-ctx.Done():
				return
			}
			go func(i int) {
				defer close(f.done)
				f.page, f.err = fetch(ctx, i)
			}(i)
		}
	}()
	stop := func() {
		cancel()
		for f := range futs {
			<-f.done
		}
	}
	i := first
	for f := range futs {
		select {
		case <-f.done:
		case <-ctx.Done():
			<-f.done
		}
		if f.err != nil {
			stop()
			return f.err
		}
		more, err := handle(i, f.page)
		if err != nil || !more {
			stop()
			return err
		}
		i++
	}
	return ctx.Err()
}

// seenIDs detects users a server returns twice (offset paging over a changing tenant, or a
// server that ignores startIndex) and pages that bring nothing new.
type seenIDs struct {
	m    map[string]struct{}
	dups int64
}

func newSeenIDs() *seenIDs { return &seenIDs{m: make(map[string]struct{}, 1024)} }

// add reports whether id is new. An empty id (a record that could not be read) counts as
// new: the pipeline rejects it with its reason.
func (s *seenIDs) add(id string) bool {
	if id == "" {
		return true
	}
	if _, ok := s.m[id]; ok {
		s.dups++
		return false
	}
	s.m[id] = struct{}{}
	return true
}

// spliceMember returns obj (a JSON object) with "key":val appended as its last member.
// ok is false when obj is not an object.
func spliceMember(obj []byte, key string, val []byte) ([]byte, bool) {
	t := bytes.TrimRight(obj, " \t\r\n")
	if len(t) < 2 || t[len(t)-1] != '}' {
		return obj, false
	}
	head := bytes.TrimRight(t[:len(t)-1], " \t\r\n")
	out := make([]byte, 0, len(head)+len(key)+len(val)+8)
	out = append(out, head...)
	if len(head) > 0 && head[len(head)-1] != '{' {
		out = append(out, ',')
	}
	kb, _ := json.Marshal(key)
	out = append(out, kb...)
	out = append(out, ':')
	out = append(out, val...)
	out = append(out, '}')
	return out, true
}

// splitArray splits a JSON array into its raw elements. null is the empty array.
func splitArray(raw []byte) ([]json.RawMessage, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return nil, nil
	}
	var out []json.RawMessage
	if err := json.Unmarshal(raw, &out); err != nil {
		return nil, err
	}
	return out, nil
}

// loopback reports whether host (no port) is localhost or a loopback address: where plain
// http is allowed (the sandboxes). The export client's check, shared so there is one.
func loopback(host string) bool { return auth0export.Loopback(host) }

// idProbe reads only the "id" member of a record (App ID, SCIM).
type idProbe struct {
	ID json.RawMessage `json:"id"`
}
