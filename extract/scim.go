package extract

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ferry-dev/ferry/internal/core"
	"github.com/ferry-dev/ferry/internal/endpoint"
	"github.com/ferry-dev/ferry/internal/httpx"
	"github.com/ferry-dev/ferry/internal/jsonstream"
	"github.com/ferry-dev/ferry/internal/scimgroups"
	"github.com/ferry-dev/ferry/schemas"
	"github.com/segmentio/encoding/json"
)

// SCIM reads the Users of a SCIM 2.0 service provider (RFC 7644 §3.4.2): by startIndex
// (1-based) and count, a few pages in flight, or by cursor (RFC 9865) when the provider's
// /ServiceProviderConfig advertises it or a list answer carries a nextCursor. Records are
// the users exactly as the server returned them.
//
// Cursors: "index=N" (the first N users of the listing are committed), or for cursor
// paging "cursor=TOKEN&skip=K&offset=N" (the page fetched with TOKEN, of which K users
// are committed, N in all). A cursor the server no longer honours (expired) falls back to
// startIndex N+1 when the server pages by index too.
type SCIM struct {
	base  string
	api   *httpx.Client
	since time.Time
	pager *indexPager

	// resume state
	resumed    bool
	skip       int64  // committed users
	cursorTok  string // cursor paging: the token of the page being read
	cursorSkip int64  // users of that page already committed

	spcOnce sync.Once
	spc     schemas.ServiceProviderConfig
	server  *SCIMServer

	emit func(core.Record) error // set while Users runs
	keys bool                    // ListUsers: userName and active only, no groups (list.go)

	// groups (scim_groups.go), read once
	grpMu    sync.Mutex
	grpRead  bool
	grpList  []scimgroups.Group
	grpErr   error
	memberOf map[string][]string // user id -> group names
}

var (
	_ core.Source      = (*SCIM)(nil)
	_ core.Counter     = (*SCIM)(nil)
	_ core.Resumer     = (*SCIM)(nil)
	_ core.Incremental = (*SCIM)(nil)
)

// scimPageSize is asked for unless the provider advertises a smaller maximum.
const scimPageSize = 100

func init() {
	Register("scim+https", openSCIM)
	Register("scim+http", openSCIM)
}

func openSCIM(_ context.Context, ep *endpoint.Endpoint, opt core.Options) (core.Source, error) {
	return newSCIM(ep, opt, netHooks{})
}

func newSCIM(ep *endpoint.Endpoint, opt core.Options, h netHooks) (*SCIM, error) {
	if ep.Host == "" {
		return nil, fmt.Errorf("scim: %s: want scim+https://HOST/BASE: %w", ep, core.ErrUsage)
	}
	if opt.Format != "" && opt.Format != core.FormatSCIM {
		return nil, fmt.Errorf("scim: the server yields format %q, not %q: %w", core.FormatSCIM, opt.Format, core.ErrUsage)
	}
	scheme := strings.TrimPrefix(ep.Scheme, "scim+")
	if scheme == "http" && !loopback(hostOnly(ep.Host)) {
		return nil, fmt.Errorf("scim: scim+http is for loopback hosts only (the token would cross the network in clear): %w", httpx.ErrInsecure)
	}
	base := scheme + "://" + ep.Host + strings.TrimSuffix(ep.Path, "/")
	over, err := baseOverride(ep)
	if err != nil {
		return nil, fmt.Errorf("scim: %w", err)
	}
	if over != "" {
		base = over
	}
	var tok httpx.TokenSource
	if t := getenv(opt, "SCIM_TOKEN"); t != "" {
		tok = httpx.StaticToken(t)
	}
	s := &SCIM{base: base}
	s.api, err = httpx.New(httpx.Config{
		Name: "scim", BaseURL: base + "/", Token: tok, MediaType: "application/scim+json",
		Limiter:   httpx.SharedLimiter("scim:"+base, httpx.DefaultRate*5, 10),
		Transport: h.transport, Now: h.now, Sleep: h.sleep,
	})
	if err != nil {
		return nil, err
	}
	s.pager = &indexPager{name: "scim: " + endpoint.Redact(base) + "/Users", count: scimPageSize, window: prefetch,
		fetch: s.fetchIndex, idOf: scimID}
	s.pager.cursor = s.followCursor
	return s, nil
}

func hostOnly(hostport string) string {
	if h, _, ok := strings.Cut(hostport, ":"); ok && !strings.HasPrefix(hostport, "[") {
		return h
	}
	return strings.Trim(strings.Split(hostport, "]")[0], "[")
}

// Name implements core.Source.
func (s *SCIM) Name() string { return "scim:" + endpoint.Redact(s.base) }

// Format implements core.Source.
func (s *SCIM) Format() string { return core.FormatSCIM }

// Since implements core.Incremental with the filter meta.lastModified ge T (ge rather than
// gt: a user changed in the very millisecond of the previous run's start is read again
// rather than missed).
func (s *SCIM) Since(t time.Time) error {
	s.since = t.UTC()
	return nil
}

// ResumeAfter implements core.Resumer.
func (s *SCIM) ResumeAfter(cursor string) error {
	bad := fmt.Errorf("scim: bad resume cursor %q (want index=N or cursor=TOKEN&skip=K&offset=N): %w", cursor, core.ErrUsage)
	q, err := url.ParseQuery(cursor)
	if err != nil {
		return bad
	}
	num := func(k string) (int64, bool) {
		n, err := strconv.ParseInt(q.Get(k), 10, 64)
		return n, err == nil && n >= 0
	}
	if q.Has("cursor") {
		k, ok1 := num("skip")
		n, ok2 := num("offset")
		if !ok1 || !ok2 || k > n {
			return bad
		}
		s.cursorTok, s.cursorSkip, s.skip = q.Get("cursor"), k, n
	} else {
		n, ok := num("index")
		if !ok {
			return bad
		}
		s.skip = n
	}
	s.resumed = true
	s.pager.first = s.skip
	return nil
}

// discover reads the server's discovery documents once (scim_discover.go); a server
// without them pages by index.
func (s *SCIM) discover(ctx context.Context) {
	s.spcOnce.Do(func() {
		s.server = discoverServer(ctx, s.api)
		s.spc = s.server.Config
		size := scimPageSize
		if m := s.spc.Filter.MaxResults; m > 0 {
			size = min(size, m)
		}
		if p := s.spc.Pagination; p != nil && p.MaxPageSize > 0 {
			size = min(size, p.MaxPageSize)
		}
		s.pager.count = size
	})
}

// Server returns what the source learned of the service provider (read on first use).
func (s *SCIM) Server(ctx context.Context) *SCIMServer {
	s.discover(ctx)
	return s.server
}

func (s *SCIM) cursorPaging() bool {
	p := s.spc.Pagination
	// A resumed cursor run stays on cursors; an index-only resume stays on indexes.
	if s.resumed {
		return s.cursorTok != "" || (s.skip == 0 && p != nil && p.Cursor)
	}
	return p != nil && p.Cursor
}

func (s *SCIM) indexSupported() bool {
	p := s.spc.Pagination
	return p == nil || p.Index == nil || *p.Index
}

func (s *SCIM) listQuery() url.Values {
	q := url.Values{}
	if !s.since.IsZero() {
		q.Set("filter", `meta.lastModified ge "`+s.since.Format(time.RFC3339Nano)+`"`)
	}
	if s.keys {
		q.Set("attributes", "userName,active") // id is always returned (RFC 7643 §7)
	}
	return q
}

// scimList is a ListResponse (RFC 7644 §3.4.2).
type scimList struct {
	TotalResults *int64           `json:"totalResults"`
	Resources    *json.RawMessage `json:"Resources"`
	NextCursor   string           `json:"nextCursor"`
}

func (s *SCIM) get(ctx context.Context, q url.Values, what string) (*indexPage, error) {
	var l scimList
	if err := s.api.GetJSON(ctx, "Users", q, &l); err != nil {
		return nil, fmt.Errorf("scim: list users %s: %w", what, err)
	}
	p := &indexPage{total: -1, nextCursor: l.NextCursor}
	if l.TotalResults != nil {
		p.total = *l.TotalResults
	}
	if l.Resources != nil {
		items, err := splitArray(*l.Resources)
		if err != nil {
			return nil, fmt.Errorf("scim: list users %s: Resources is not an array: %w", what, ErrHostile)
		}
		p.items = items
	}
	// Resources may be left out when a page is empty (RFC 7644 §3.4.2); the pager treats
	// an empty page as the end, so a server that says otherwise loses nothing silently:
	// the counts in the summary show the gap.
	return p, nil
}

func (s *SCIM) fetchIndex(ctx context.Context, pos int64, count int) (*indexPage, error) {
	q := s.listQuery()
	q.Set("startIndex", strconv.FormatInt(pos+1, 10))
	q.Set("count", strconv.Itoa(count))
	return s.get(ctx, q, "at "+strconv.FormatInt(pos+1, 10))
}

func (s *SCIM) fetchCursor(ctx context.Context, tok string) (*indexPage, error) {
	q := s.listQuery()
	q.Set("cursor", tok)
	q.Set("count", strconv.Itoa(s.pager.count))
	return s.get(ctx, q, "by cursor")
}

// Total implements core.Counter.
func (s *SCIM) Total(ctx context.Context) (int64, bool) {
	s.discover(ctx)
	if s.cursorPaging() {
		p, err := s.fetchCursor(ctx, "")
		if err != nil || p.total < 0 {
			return 0, false
		}
		return max(p.total-s.skip, 0), true
	}
	t := s.pager.total(ctx)
	if t < 0 {
		return 0, false
	}
	return max(t-s.skip, 0), true
}

func scimID(raw json.RawMessage) string {
	var p idProbe
	if json.Unmarshal(raw, &p) != nil {
		return ""
	}
	return jsonstream.IDText(p.ID)
}

// Users implements core.Source.
func (s *SCIM) Users(ctx context.Context, emit func(core.Record) error) error {
	s.discover(ctx)
	if !s.since.IsZero() && s.server.HasConfig && !s.spc.Filter.Supported {
		// --since is a meta.lastModified filter; a server that says it cannot filter would
		// answer with every user or an error, neither of which is what was asked.
		return fmt.Errorf("scim: %s does not support filters (ServiceProviderConfig filter.supported is false), so --since cannot select users changed since a time: %w", endpoint.Redact(s.base), core.ErrUsage)
	}
	if !s.keys { // matching needs no groups
		if _, err := s.groups(ctx); err != nil && !errors.Is(err, core.ErrNoCatalog) {
			return err
		}
	}
	s.emit = emit
	defer func() { s.emit = nil }()
	if s.cursorPaging() {
		return s.cursorRun(ctx, s.cursorTok, s.cursorSkip, s.skip, nil)
	}
	return s.pager.run(ctx, func(pos int64, item json.RawMessage) error {
		return s.emitOne(item, pos, "index="+strconv.FormatInt(pos+1, 10))
	})
}

func (s *SCIM) emitOne(item json.RawMessage, pos int64, cursor string) error {
	ref := scimID(item)
	if ref == "" {
		ref = "user " + strconv.FormatInt(pos+1, 10)
	}
	if s.keys {
		return s.emit(core.Record{Data: item, Ref: ref, Cursor: cursor})
	}
	data := withGroups(item, s.memberOf[scimID(item)])
	return s.emit(core.Record{Data: data, Ref: ref, Cursor: cursor, Err: s.server.checkExtensions(item)})
}

// maxEmptyCursorPages bounds a run of empty pages that still carry a nextCursor.
const maxEmptyCursorPages = 100

// cursorRun follows nextCursor from tok, skipping the first skip users of that page;
// offset is the number of users committed before it.
func (s *SCIM) cursorRun(ctx context.Context, tok string, skip, offset int64, seen *seenIDs) error {
	if seen == nil {
		seen = newSeenIDs()
	}
	used := map[string]bool{}
	empty := 0
	for {
		if used[tok] {
			return fmt.Errorf("scim: list users: nextCursor %q came back twice: %w", tok, ErrHostile)
		}
		used[tok] = true
		p, err := s.fetchCursor(ctx, tok)
		var se *httpx.StatusError
		if err != nil && tok != "" && errors.As(err, &se) && se.Status == http.StatusBadRequest &&
			strings.Contains(se.Body, "Cursor") && s.indexSupported() {
			// The cursor expired (or the server forgot it): carry on by index.
			pg := &indexPager{name: s.pager.name, first: offset, count: s.pager.count, window: prefetch,
				fetch: s.fetchIndex, idOf: scimID}
			return pg.run(ctx, func(pos int64, item json.RawMessage) error {
				return s.emitOne(item, pos, "index="+strconv.FormatInt(pos+1, 10))
			})
		}
		if err != nil {
			return err
		}
		considered, fresh := 0, 0
		for k, it := range p.items {
			if int64(k) < skip {
				continue
			}
			considered++
			pos := offset
			offset++
			c := url.Values{"cursor": {tok}, "skip": {strconv.Itoa(k + 1)}, "offset": {strconv.FormatInt(offset, 10)}}
			if k == len(p.items)-1 && p.nextCursor != "" {
				c = url.Values{"cursor": {p.nextCursor}, "skip": {"0"}, "offset": {strconv.FormatInt(offset, 10)}}
			}
			if !seen.add(scimID(it)) {
				continue
			}
			fresh++
			if err := s.emitOne(it, pos, c.Encode()); err != nil {
				return err
			}
		}
		if considered > 0 && fresh == 0 {
			return fmt.Errorf("scim: list users: a page holds only users already read: %w", ErrHostile)
		}
		skip = 0
		if p.nextCursor == "" {
			return nil
		}
		if len(p.items) == 0 {
			if empty++; empty > maxEmptyCursorPages {
				return fmt.Errorf("scim: list users: %d empty pages in a row, each with a nextCursor: %w", empty, ErrHostile)
			}
		} else {
			empty = 0
		}
		tok = p.nextCursor
	}
}

// followCursor continues a listing by cursor after an index page carried a nextCursor.
func (s *SCIM) followCursor(ctx context.Context, next string, offset int64) error {
	return s.cursorRun(ctx, next, 0, offset, nil)
}
