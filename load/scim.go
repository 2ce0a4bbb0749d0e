package load

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"unicode/utf8"

	"github.com/segmentio/encoding/json"
	"golang.org/x/time/rate"

	"github.com/ferry-dev/ferry/internal/core"
	"github.com/ferry-dev/ferry/internal/endpoint"
	"github.com/ferry-dev/ferry/internal/httpx"
	"github.com/ferry-dev/ferry/schemas"
	"github.com/ferry-dev/ferry/transform"
)

func init() {
	Register("scim+https", openSCIM)
	Register("scim+http", openSCIM)
}

// SCIM writes users to a SCIM 2.0 service provider (RFC 7643/7644).
//
// It reads /ServiceProviderConfig once: with bulk.supported it sends POST /Bulk requests
// within maxOperations and maxPayloadSize (a 413 splits the request, never drops it),
// otherwise concurrent POST /Users. With --upsert it looks users up first by
// `userName eq` (several names per request), compares what it finds with what it would
// write, and PUTs only users that differ (If-Match meta.version when the provider
// supports ETags); a 409 on create falls back to the same lookup. Without --upsert a 409
// is a rejection. Requests that fail in a way that leaves the outcome unknown (5xx, a
// dropped connection, a bulk response that leaves operations out) are settled by looking
// the users up before anything is retried or reported, so nothing is lost or created twice.
type SCIM struct {
	c      *httpx.Client
	target string // the endpoint, without credentials
	upsert bool
	conc   int

	sp    schemas.ServiceProviderConfig // the part the sink uses: bulk, filter, etag
	known map[string]bool               // lower-cased top-level attributes and extension URNs the provider declares; nil: unknown
	// unsupported lists the extension URNs the provider does not declare: their data is
	// not sent (a strict provider refuses the whole user, a lenient one drops it).
	unsupported []string
	// declared holds the lower-cased extension URNs the provider declares for Users; nil
	// when it publishes no schemas (then custom extensions are sent as they are).
	declared map[string]bool
	// dropUnknown: write users without the custom extensions the provider does not
	// declare (--drop-unknown-extensions); otherwise such a user aborts the run.
	dropUnknown bool

	bulkOff atomic.Bool // the provider refused /Bulk: POST each user
	orOff   atomic.Bool // the provider refused "or" filters: look names up one by one
	dropped sync.Map    // lower-cased attribute paths the provider does not keep (learned)
	hidden  sync.Map    // lower-cased paths its /Schemas says are not returned: kept, unseen

	// sleep waits between recovery rounds; tests replace it.
	sleep func(ctx context.Context, n int) error
	// sem bounds the single-user requests in flight across all Writes: --concurrency N
	// means N requests at once, not N per batch.
	sem chan struct{}

	grpOnce sync.Once
	grp     *scimGroupState // scim_groups.go
}

var (
	_ core.Sink    = (*SCIM)(nil)
	_ core.Batched = (*SCIM)(nil)
	_ core.Keyed   = (*SCIM)(nil)
)

// SCIM message URNs (RFC 7644 §3.7, §3.12).
const (
	scimBulkRequestURN = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"
	scimMediaType      = "application/scim+json"
)

// Sane caps whatever a provider advertises: a bulk request stays a few hundred users so a
// failure costs little to settle, and lookups stay within URL lengths every server takes.
const (
	scimMaxBulkOps     = 200
	scimLookupChunk    = 20
	scimDefaultRate    = 50
	scimRecoverRounds  = 6
	scimBulkEnvelope   = 128 // {"schemas":[...],"Operations":[ ... ]}
	scimBulkOpOverhead = 96  // {"method":"POST","bulkId":"u123","path":"/Users","data":}
)

func openSCIM(ctx context.Context, ep *endpoint.Endpoint, opt core.Options) (core.Sink, error) {
	if opt.Format != "" && opt.Format != core.FormatSCIM {
		return nil, fmt.Errorf("scim: a SCIM target takes SCIM records, not --to-format %s: %w", opt.Format, core.ErrUsage)
	}
	base := ep.Query.Get("base")
	if base == "" {
		scheme := strings.TrimPrefix(ep.Scheme, "scim+")
		base = scheme + "://" + ep.Host + ep.Path
	}
	base = strings.TrimRight(base, "/")
	getenv := opt.Getenv
	if getenv == nil {
		return nil, fmt.Errorf("scim: no environment to read SCIM_TOKEN from: %w", core.ErrUsage)
	}
	tok := getenv("SCIM_TOKEN")
	if tok == "" {
		return nil, fmt.Errorf("scim: SCIM_TOKEN is not set: %w", core.ErrUsage)
	}
	rps := scimDefaultRate
	if v := ep.Query.Get("rps"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			return nil, fmt.Errorf("scim: rps=%q is not a positive integer: %w", v, core.ErrUsage)
		}
		rps = n
	}
	c, err := httpx.New(httpx.Config{
		Name: "scim", BaseURL: base, Token: httpx.StaticToken(tok), MediaType: scimMediaType,
		Limiter: httpx.SharedLimiter("scim:"+base, rate.Limit(rps), rps),
	})
	if err != nil {
		return nil, err
	}
	s, err := NewSCIM(ctx, c, opt)
	if err != nil {
		return nil, err
	}
	s.target = ep.String()
	return s, nil
}

// NewSCIM builds the sink on a client for the provider's base URL and reads the
// provider's configuration. Tests build the client themselves.
func NewSCIM(ctx context.Context, c *httpx.Client, opt core.Options) (*SCIM, error) {
	s := &SCIM{c: c, target: "scim", upsert: opt.Upsert, conc: max(1, opt.Concurrency), sleep: backoffSleep, dropUnknown: opt.DropUnknownExtensions}
	s.sem = make(chan struct{}, s.conc)
	if err := s.discover(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

// discover reads /ServiceProviderConfig (required to be meaningful: a 404 means a provider
// that publishes nothing, which gets the most conservative settings) and, best effort,
// /Schemas and /ResourceTypes for the attributes and extensions the provider keeps.
func (s *SCIM) discover(ctx context.Context) error {
	resp, err := s.c.Do(ctx, &httpx.Request{Path: "ServiceProviderConfig", AllowStatus: []int{404, 501}})
	if err != nil {
		return fmt.Errorf("scim: read ServiceProviderConfig: %w", err)
	}
	if resp.Status == http.StatusOK {
		if err := json.Unmarshal(resp.Body, &s.sp); err != nil {
			return fmt.Errorf("scim: ServiceProviderConfig is not valid JSON: %v", err)
		}
	} else {
		s.sp.Filter.Supported = true // filtering on userName is near universal; a 400 turns it off below
	}
	s.discoverSchemas(ctx)
	return nil
}

func (s *SCIM) discoverSchemas(ctx context.Context) {
	var list struct {
		Resources []struct {
			ID         string `json:"id"`
			Attributes []struct {
				Name string `json:"name"`
			} `json:"attributes"`
			// ResourceType members
			Schema           string `json:"schema"`
			SchemaExtensions []struct {
				Schema string `json:"schema"`
			} `json:"schemaExtensions"`
		} `json:"Resources"`
	}
	var raw json.RawMessage
	if err := s.c.GetJSON(ctx, "Schemas", nil, &raw); err != nil {
		return
	}
	if json.Unmarshal(raw, &list) != nil {
		return
	}
	s.learnHidden(raw)
	known := map[string]bool{"externalid": true}
	core := false
	for _, r := range list.Resources {
		if strings.EqualFold(r.ID, schemas.CoreUserURN) {
			core = true
			for _, a := range r.Attributes {
				known[strings.ToLower(a.Name)] = true
			}
		}
	}
	if !core {
		return
	}
	// Extensions of User: from /ResourceTypes when published, else every non-core schema
	// /Schemas lists (a provider publishes schemas it implements).
	exts := map[string]bool{}
	var rts struct {
		Resources []struct {
			Schema           string `json:"schema"`
			SchemaExtensions []struct {
				Schema string `json:"schema"`
			} `json:"schemaExtensions"`
		} `json:"Resources"`
	}
	if err := s.c.GetJSON(ctx, "ResourceTypes", nil, &rts); err == nil && len(rts.Resources) > 0 {
		for _, rt := range rts.Resources {
			if strings.EqualFold(rt.Schema, schemas.CoreUserURN) {
				for _, e := range rt.SchemaExtensions {
					exts[strings.ToLower(e.Schema)] = true
				}
			}
		}
	} else {
		for _, r := range list.Resources {
			if !strings.EqualFold(r.ID, schemas.CoreUserURN) && !strings.EqualFold(r.ID, schemas.CoreGroupURN) {
				exts[strings.ToLower(r.ID)] = true
			}
		}
	}
	for e := range exts {
		known[e] = true
	}
	s.declared = exts
	for _, urn := range []string{schemas.EnterpriseUserURN, schemas.FerryUserURN} {
		if !exts[strings.ToLower(urn)] {
			s.unsupported = append(s.unsupported, urn)
		}
	}
	s.known = known
}

// Name implements core.Sink.
func (s *SCIM) Name() string { return s.c.Redact(s.target) }

// Format implements core.Sink.
func (s *SCIM) Format() string { return core.FormatSCIM }

// UserKey implements core.Keyed: userName is unique on a SCIM service provider
// (RFC 7643 §4.1.1, uniqueness "server", caseExact false), and --upsert finds users by it.
func (s *SCIM) UserKey(u *schemas.User) (string, string) { return "userName", u.UserName }

// Unsupported lists the schema extensions the provider does not declare; their data is
// left out of what is written (the CLI should say so once).
func (s *SCIM) Unsupported() []string { return slices.Clone(s.unsupported) }

// BatchLimits implements core.Batched: a bulk request's limits, less the envelope, when
// the provider takes /Bulk; otherwise batches small enough to keep results flowing.
func (s *SCIM) BatchLimits() core.BatchLimits {
	if !s.bulk() {
		return core.BatchLimits{MaxCount: 10 * s.conc}
	}
	n := s.bulkOps()
	b := s.sp.Bulk.MaxPayloadSize - scimBulkEnvelope - n*scimBulkOpOverhead
	if s.sp.Bulk.MaxPayloadSize <= 0 {
		b = 0
	} else if b < s.sp.Bulk.MaxPayloadSize/2 {
		b = s.sp.Bulk.MaxPayloadSize / 2
	}
	return core.BatchLimits{MaxCount: n, MaxBytes: b}
}

func (s *SCIM) bulk() bool { return s.sp.Bulk.Supported && !s.bulkOff.Load() }

func (s *SCIM) bulkOps() int {
	n := s.sp.Bulk.MaxOperations
	if n <= 0 || n > scimMaxBulkOps {
		n = scimMaxBulkOps
	}
	return n
}

// scimOp is one user on its way: its index in the batch and the body to send.
type scimOp struct {
	idx      int
	userName string
	body     []byte
	want     map[string]any // body decoded, for comparisons (lazily)
}

func (op *scimOp) wanted() (map[string]any, error) {
	if op.want == nil {
		if err := json.Unmarshal(op.body, &op.want); err != nil {
			return nil, err
		}
	}
	return op.want, nil
}

// Write implements core.Sink.
func (s *SCIM) Write(ctx context.Context, batch []core.Item) ([]core.Result, error) {
	w := &scimWrite{s: s, res: make([]core.Result, len(batch))}
	ops := make([]*scimOp, 0, len(batch))
	for i := range batch {
		op, err := s.prepare(i, &batch[i])
		if err != nil {
			w.res[i] = core.Result{Outcome: core.Rejected, Reason: err.Error()}
			continue
		}
		ops = append(ops, op)
	}
	if err := s.refuseUndeclared(batch); err != nil {
		return nil, err
	}
	var err error
	if s.upsert && s.sp.Filter.Supported {
		ops, err = w.settleExisting(ctx, ops)
		if err != nil {
			return nil, err
		}
	}
	if err := w.create(ctx, ops); err != nil {
		return nil, err
	}
	if err := s.writeMemberships(ctx, batch, w.res); err != nil {
		return nil, err
	}
	for i, r := range w.res {
		if r.Outcome == 0 {
			return nil, fmt.Errorf("scim: internal error: no result for %s", batch[i].Ref)
		}
	}
	return w.res, nil
}

// prepare builds the body sent for an item: the user without the source's id and meta
// (the provider issues its own) and without extensions the provider does not declare.
func (s *SCIM) prepare(i int, it *core.Item) (*scimOp, error) {
	u := it.User
	if u == nil {
		d, err := transform.DecoderFor(core.FormatSCIM)
		if err != nil {
			return nil, err
		}
		if u, err = d.Decode(it.Data); err != nil {
			return nil, err
		}
	}
	if u.UserName == "" {
		return nil, errors.New("userName: missing (a SCIM provider requires it)")
	}
	body := it.Data
	// Roles travel as group memberships (scim_groups.go), not as a roles attribute.
	strip := u.ID != "" || u.Meta != nil || len(body) == 0 || len(u.Roles) > 0 || s.listsUndeclared(u)
	for _, urn := range s.unsupported {
		if (urn == schemas.EnterpriseUserURN && u.Enterprise != nil) || (urn == schemas.FerryUserURN && u.Ferry != nil) || u.HasSchema(urn) {
			strip = true
		}
	}
	if strip {
		c := *u
		c.ID, c.Meta, c.Roles = "", nil, nil
		c.Schemas = slices.DeleteFunc(slices.Clone(c.Schemas), func(x string) bool {
			return slices.ContainsFunc(s.unsupported, func(y string) bool { return strings.EqualFold(x, y) })
		})
		for _, urn := range s.unsupported {
			switch urn {
			case schemas.EnterpriseUserURN:
				c.Enterprise = nil
			case schemas.FerryUserURN:
				c.Ferry = nil
			}
		}
		s.stripUndeclared(&c)
		enc, err := transform.EncoderFor(core.FormatSCIM)
		if err != nil {
			return nil, err
		}
		if body, err = enc.Encode(nil, &c); err != nil {
			return nil, err
		}
	}
	return &scimOp{idx: i, userName: u.UserName, body: body}, nil
}

// scimWrite is one Write call: its results, filled in by the steps concurrently (each
// step owns distinct indices).
type scimWrite struct {
	s   *SCIM
	mu  sync.Mutex
	res []core.Result
}

func (w *scimWrite) set(op *scimOp, r core.Result) {
	w.mu.Lock()
	w.res[op.idx] = r
	w.mu.Unlock()
}

func (w *scimWrite) reject(op *scimOp, format string, args ...any) {
	w.set(op, core.Result{Outcome: core.Rejected, Reason: w.s.c.Redact(fmt.Sprintf(format, args...))})
}

// each runs f for every op, at most conc at once, and returns the first fatal error.
func (w *scimWrite) each(ctx context.Context, ops []*scimOp, f func(context.Context, *scimOp) error) error {
	if len(ops) == 0 {
		return nil
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	sem := w.s.sem
	var wg sync.WaitGroup
	var once sync.Once
	var first error
	for _, op := range ops {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			if err := f(ctx, op); err != nil {
				once.Do(func() { first = err; cancel(err) })
			}
		}()
	}
	wg.Wait()
	if first != nil {
		return first
	}
	return context.Cause(ctx)
}

// fatal says whether an error ends the run rather than one user: credentials refused,
// or the run itself cancelled.
func fatal(ctx context.Context, err error) bool {
	return ctx.Err() != nil || errors.Is(err, httpx.ErrUnauthorized) || errors.Is(err, httpx.ErrForbidden) ||
		errors.Is(err, core.ErrUsage)
}

// scimError reads a SCIM error response (RFC 7644 §3.12) into a rejection reason:
// "409 uniqueness: detail". Providers send status as a string, a number, or not at all.
func scimError(status int, body []byte, redact func(string) string) (reason, scimType string) {
	var e struct {
		ScimType string          `json:"scimType"`
		Detail   string          `json:"detail"`
		Status   json.RawMessage `json:"status"`
		Message  string          `json:"message"`
		Error    json.RawMessage `json:"error"`
	}
	msg := ""
	if json.Unmarshal(body, &e) == nil {
		msg = e.Detail
		if msg == "" {
			msg = e.Message
		}
		if msg == "" && len(e.Error) > 0 {
			var s string
			if json.Unmarshal(e.Error, &s) == nil {
				msg = s
			} else {
				msg = string(e.Error)
			}
		}
	} else {
		msg = strings.TrimSpace(string(body))
	}
	msg = strings.Join(strings.Fields(strings.ToValidUTF8(msg, "\uFFFD")), " ")
	msg = cut(msg, 400)
	reason = strconv.Itoa(status)
	if e.ScimType != "" {
		reason += " " + e.ScimType
	}
	if msg != "" {
		reason += ": " + msg
	}
	return redact(reason), e.ScimType
}

// idFromLocation takes the id from a resource location ".../Users/{id}".
func idFromLocation(loc string) string {
	if u, err := url.Parse(loc); err == nil {
		loc = u.Path
	}
	loc = strings.TrimRight(loc, "/")
	if i := strings.LastIndexByte(loc, '/'); i >= 0 {
		loc = loc[i+1:]
	}
	if s, err := url.PathUnescape(loc); err == nil {
		return s
	}
	return loc
}

// cut shortens s to at most n bytes on a rune boundary, marking the cut.
func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}
