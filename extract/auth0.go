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

	"github.com/ferry-dev/ferry/internal/auth0api"
	"github.com/ferry-dev/ferry/internal/core"
	"github.com/ferry-dev/ferry/internal/endpoint"
	"github.com/ferry-dev/ferry/internal/httpx"
	"github.com/ferry-dev/ferry/internal/jsonstream"
	"github.com/segmentio/encoding/json"
)

// Auth0 reads the users of an Auth0 tenant through the Management API v2.
//
// Small tenants (at most 1,000 users matching the query) are listed with GET /api/v2/users,
// sorted by created_at, a few pages in flight; larger ones through a users-exports job whose
// gzipped NDJSON file is streamed line by line. Either way, every user carries the names of
// its roles in a "roles" member, read beforehand from the members of each role
// (GET /api/v2/roles/{id}/users, checkpoint paging), so there is no call per user.
//
// Cursors: "offset=N" when listing (the first N users in created_at order are committed),
// "export=JOB;line=N" for an export (the first N lines of the job's file are committed).
// A resumed export reuses the job while Auth0 keeps it (24 h); past that a new job is
// started and its first N lines skipped, which is exact only if the tenant did not change
// in between (the new file is a new snapshot).
type Auth0 struct {
	tenant     string
	conn       string        // ?connection=
	root       string        // https://TENANT or ?base=
	api        *httpx.Client // root + /api/v2/
	overridden bool          // ?base= given: export files must come from its host
	hooks      netHooks

	since      time.Time
	resume     auth0Cursor
	perPage    int
	maxInflate int64         // cap on a decompressed export file
	pollMax    time.Duration // give up on an export job that does not finish
	window     int           // pages in flight; lowered on tiny plans
	keys       bool          // ListUsers: matching fields only, no roles (list.go)

	mu        sync.Mutex
	plan      *auth0Plan
	catalog   *auth0api.Lister
	roleList  []auth0api.Role
	rolesRead bool
}

var (
	_ core.Source      = (*Auth0)(nil)
	_ core.Counter     = (*Auth0)(nil)
	_ core.Resumer     = (*Auth0)(nil)
	_ core.Incremental = (*Auth0)(nil)
	_ core.RoleReader  = (*Auth0)(nil)
)

// Auth0 limits (DESIGN.md, provider facts).
const (
	auth0MaxResults   = 1000 // results reachable through search paging, however paged
	auth0PerPage      = 100
	auth0ExportMaxAge = 24 * time.Hour // a job's file can be re-requested this long
	// auth0MaxInflate caps a decompressed export: 20 GiB is about ten million profiles of
	// 2 KB, far past any real tenant, and small enough that a gzip bomb stops early.
	auth0MaxInflate = 20 << 30
	auth0PollMax    = 6 * time.Hour
	// auth0Rate is where the tenant's shared limiter starts: above every plan's refill, so
	// that the x-ratelimit-* headers, not a guess, set the pace (the limiter only slows down).
	auth0Rate  = 50
	auth0Burst = 10
)

// auth0ExportFields are the fields an export job is asked for: everything the Auth0 mapping
// reads, plus the activity fields kept verbatim. An export without "fields" gets Auth0's
// predefined set instead, which is documented as a default rather than as "everything";
// naming the fields keeps the export and the list shape the same. Root properties export
// whole in the JSON format (Auth0 "Bulk User Exports"); at most 30 fields.
var auth0ExportFields = []string{
	"user_id", "email", "email_verified", "username", "phone_number", "phone_verified",
	"name", "given_name", "family_name", "nickname", "picture", "locale",
	"created_at", "updated_at", "last_login", "last_ip", "logins_count", "blocked",
	"identities", "app_metadata", "user_metadata", "multifactor", "last_password_reset",
}

func init() { Register("auth0", openAuth0) }

func openAuth0(_ context.Context, ep *endpoint.Endpoint, opt core.Options) (core.Source, error) {
	return newAuth0(ep, opt, netHooks{})
}

func newAuth0(ep *endpoint.Endpoint, opt core.Options, h netHooks) (*Auth0, error) {
	if ep.Host == "" {
		return nil, fmt.Errorf("auth0: %s: no tenant domain (auth0://TENANT_DOMAIN): %w", ep, core.ErrUsage)
	}
	if opt.Format != "" && opt.Format != core.FormatAuth0 {
		return nil, fmt.Errorf("auth0: the tenant yields format %q, not %q: %w", core.FormatAuth0, opt.Format, core.ErrUsage)
	}
	base, err := baseOverride(ep)
	if err != nil {
		return nil, fmt.Errorf("auth0: %w", err)
	}
	a := &Auth0{tenant: ep.Host, conn: ep.Query.Get("connection"), root: "https://" + ep.Host, hooks: h,
		perPage: auth0PerPage, maxInflate: auth0MaxInflate, pollMax: auth0PollMax, window: prefetch}
	if base != "" {
		a.root, a.overridden = base, true
	}
	tok, err := auth0Token(a, opt)
	if err != nil {
		return nil, err
	}
	a.api, err = httpx.New(httpx.Config{
		Name: "auth0", BaseURL: a.root + "/api/v2/", Token: tok,
		// One budget per tenant for every client in the process (extract, load, roles).
		Limiter:   httpx.SharedLimiter("auth0:"+a.root, auth0Rate, auth0Burst),
		Transport: h.transport, Now: h.now, Sleep: h.sleep,
	})
	if err != nil {
		return nil, err
	}
	a.catalog = auth0api.New(a.api)
	return a, nil
}

// auth0Token picks the credentials: AUTH0_TOKEN, else the client-credentials grant.
func auth0Token(a *Auth0, opt core.Options) (httpx.TokenSource, error) {
	if t := getenv(opt, "AUTH0_TOKEN"); t != "" {
		return httpx.StaticToken(t), nil
	}
	id, secret := getenv(opt, "AUTH0_CLIENT_ID"), getenv(opt, "AUTH0_CLIENT_SECRET")
	if id == "" || secret == "" {
		return nil, fmt.Errorf("auth0: set AUTH0_CLIENT_ID and AUTH0_CLIENT_SECRET, or AUTH0_TOKEN: %w", core.ErrUsage)
	}
	return &httpx.Auth0ClientCredentials{
		TokenURL: a.root + "/oauth/token", ClientID: id, ClientSecret: secret,
		// The audience names the tenant, also when ?base= points elsewhere (the sandbox).
		Audience:  "https://" + a.tenant + "/api/v2/",
		Transport: a.hooks.transport, Now: a.hooks.now,
	}, nil
}

// Name implements core.Source.
func (a *Auth0) Name() string {
	if a.conn != "" {
		return "auth0:" + a.tenant + "?connection=" + a.conn
	}
	return "auth0:" + a.tenant
}

// Format implements core.Source.
func (a *Auth0) Format() string { return core.FormatAuth0 }

// Since implements core.Incremental: users whose updated_at is at or after t.
func (a *Auth0) Since(t time.Time) error {
	a.since = t.UTC()
	return nil
}

// auth0Cursor is a parsed resume position.
type auth0Cursor struct {
	offset int64
	job    string
	line   int64
}

func (c auth0Cursor) String() string {
	if c.job != "" {
		return "export=" + c.job + ";line=" + strconv.FormatInt(c.line, 10)
	}
	return "offset=" + strconv.FormatInt(c.offset, 10)
}

func parseAuth0Cursor(s string) (auth0Cursor, error) {
	var c auth0Cursor
	bad := fmt.Errorf("auth0: bad resume cursor %q (want offset=N or export=JOB;line=N): %w", s, core.ErrUsage)
	if v, ok := strings.CutPrefix(s, "offset="); ok {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			return c, bad
		}
		c.offset = n
		return c, nil
	}
	job, line, ok := strings.Cut(strings.TrimPrefix(s, "export="), ";line=")
	if !ok || !strings.HasPrefix(s, "export=") || job == "" || strings.ContainsAny(job, "/?#;") {
		return c, bad
	}
	n, err := strconv.ParseInt(line, 10, 64)
	if err != nil || n < 0 {
		return c, bad
	}
	c.job, c.line = job, n
	return c, nil
}

// ResumeAfter implements core.Resumer.
func (a *Auth0) ResumeAfter(cursor string) error {
	c, err := parseAuth0Cursor(cursor)
	if err != nil {
		return err
	}
	a.resume = c
	return nil
}

// auth0Page is GET /api/v2/users with include_totals.
type auth0Page struct {
	Start  int               `json:"start"`
	Limit  int               `json:"limit"`
	Length int               `json:"length"`
	Total  int64             `json:"total"`
	Users  []json.RawMessage `json:"users"`
}

// auth0Plan is what the first page said: how many users, and how to read them.
type auth0Plan struct {
	total   int64
	perPage int
	first   *auth0Page
	export  bool
}

// query is the search (q) restricting the listing: the connection and --since.
func (a *Auth0) query() string {
	var parts []string
	if a.conn != "" {
		parts = append(parts, `identities.connection:"`+strings.ReplaceAll(a.conn, `"`, `\"`)+`"`)
	}
	if !a.since.IsZero() {
		parts = append(parts, "updated_at:["+a.since.Format("2006-01-02T15:04:05.000Z")+" TO *]")
	}
	return strings.Join(parts, " AND ")
}

func (a *Auth0) pageQuery(page, perPage int) url.Values {
	v := url.Values{
		"page": {strconv.Itoa(page)}, "per_page": {strconv.Itoa(perPage)},
		"include_totals": {"true"}, "sort": {"created_at:1"},
	}
	if q := a.query(); q != "" {
		v.Set("q", q)
	}
	if a.keys {
		v.Set("fields", strings.Join(auth0KeyFields, ","))
		v.Set("include_fields", "true")
	}
	return v
}

// getPage reads one page of the listing.
func (a *Auth0) getPage(ctx context.Context, page, perPage int) (*auth0Page, http.Header, error) {
	var p auth0Page
	resp, err := a.api.DoJSON(ctx, &httpx.Request{Path: "users", Query: a.pageQuery(page, perPage)}, nil, &p)
	if err != nil {
		return nil, nil, fmt.Errorf("auth0: list users page %d: %w", page, err)
	}
	if p.Users == nil && p.Total > 0 && page == 0 {
		return nil, nil, fmt.Errorf("auth0: list users page %d: answer without a users array: %w", page, ErrHostile)
	}
	return &p, resp.Header, nil
}

// decide reads the first page once: its total decides between listing and an export job.
func (a *Auth0) decide(ctx context.Context) (*auth0Plan, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.plan != nil {
		return a.plan, nil
	}
	p, h, err := a.getPage(ctx, 0, a.perPage)
	var se *httpx.StatusError
	if errors.As(err, &se) && se.Status == http.StatusBadRequest && strings.Contains(se.Body, "per_page") {
		// Auth0's general pagination docs cap per_page at 50 on the public cloud.
		a.perPage = 50
		p, h, err = a.getPage(ctx, 0, a.perPage)
	}
	if err != nil {
		return nil, err
	}
	plan := &auth0Plan{total: p.Total, perPage: a.perPage, first: p}
	// A server that caps per_page silently says so in "limit", or by a short first page.
	if p.Limit > 0 && p.Limit < plan.perPage {
		plan.perPage = p.Limit
	}
	if n := len(p.Users); n > 0 && n < plan.perPage && int64(n) < p.Total {
		plan.perPage = n
	}
	// A total of 1,000 may be the cap, not the count (an Auth0 engineer describes total as
	// "max 1,000", community "Paging the List Users query"): listing would then stop at 1,000
	// users and lose the rest, so 1,000 or more is read with an export job.
	plan.export = p.Total >= auth0MaxResults || a.resume.job != ""
	// On a plan with a tiny bucket (free: 2), pages in flight would only collide.
	if l, err := strconv.Atoi(h.Get("X-Ratelimit-Limit")); err == nil && l > 0 {
		a.window = min(prefetch, max(1, l/8))
	}
	a.plan = plan
	return plan, nil
}

// Total implements core.Counter: the number of users the listing query matches, less those
// a resumed run already committed.
func (a *Auth0) Total(ctx context.Context) (int64, bool) {
	plan, err := a.decide(ctx)
	if err != nil {
		return 0, false
	}
	done := a.resume.offset
	if a.resume.job != "" {
		done = a.resume.line
	}
	return max(plan.total-done, 0), true
}

// Users implements core.Source.
func (a *Auth0) Users(ctx context.Context, emit func(core.Record) error) error {
	plan, err := a.decide(ctx)
	if err != nil {
		return err
	}
	if plan.export {
		// The job runs on Auth0's side while the role members are read.
		job, err := a.exportJob(ctx)
		if err != nil {
			return err
		}
		members, err := a.members(ctx)
		if err != nil {
			return err
		}
		return a.exportUsers(ctx, job, members, emit)
	}
	members, err := a.members(ctx)
	if err != nil {
		return err
	}
	return a.listUsers(ctx, plan, members, emit)
}

// members is roleMembers, or none when the listing is for matching only.
func (a *Auth0) members(ctx context.Context) (map[string][]string, error) {
	if a.keys {
		return nil, nil
	}
	return a.roleMembers(ctx)
}

// auth0Probe is what the source itself reads of a user.
type auth0Probe struct {
	UserID     json.RawMessage `json:"user_id"`
	UpdatedAt  string          `json:"updated_at"`
	Identities []struct {
		Connection string `json:"connection"`
	} `json:"identities"`
}

// primaryConnection is the connection of identities[0], the user's own: a search on
// identities.connection also matches users merely linked to the connection, while an
// export job's connection_id selects by the primary identity.
// A record that cannot be read that far is kept (ok false): the decoder rejects it with
// its reason, where a filter would drop it silently.
func primaryConnection(raw []byte) (conn string, ok bool) {
	var p auth0Probe
	if json.Unmarshal(raw, &p) != nil || len(p.Identities) == 0 {
		return "", false
	}
	return p.Identities[0].Connection, true
}

// withRoles returns the record with its role names attached (a new slice: spliced), and
// the user's id.
func withRoles(raw []byte, members map[string][]string) (data []byte, id string, spliced bool) {
	var p auth0Probe
	if json.Unmarshal(raw, &p) != nil {
		return raw, "", false // the decoder rejects it with the reason
	}
	id = jsonstream.IDText(p.UserID)
	names := members[id]
	if len(names) == 0 {
		return raw, id, false
	}
	b, _ := json.Marshal(names)
	out, ok := spliceMember(raw, "roles", b)
	return out, id, ok
}

// listUsers pages through at most 1,000 users, sorted by created_at.
func (a *Auth0) listUsers(ctx context.Context, plan *auth0Plan, members map[string][]string, emit func(core.Record) error) error {
	per := plan.perPage
	skip := a.resume.offset
	if skip >= plan.total {
		return nil
	}
	first := int(skip / int64(per))
	last := int((plan.total+int64(per)-1)/int64(per)) - 1
	// The search index refuses to page past 1,000 results.
	last = min(last, auth0MaxResults/per-1)
	seen := newSeenIDs()
	fetch := func(ctx context.Context, i int) (*auth0Page, error) {
		if i == 0 && plan.first != nil {
			return plan.first, nil // the page decide read
		}
		p, _, err := a.getPage(ctx, i, per)
		return p, err
	}
	return fetchInOrder(ctx, a.window, first, last, fetch, func(i int, p *auth0Page) (bool, error) {
		fresh := 0
		for k, raw := range p.Users {
			pos := int64(i)*int64(per) + int64(k)
			if pos < skip {
				continue
			}
			data, id, _ := withRoles(raw, members)
			if !seen.add(id) {
				continue // returned twice: an eventually consistent index shifting under us
			}
			fresh++
			if c, ok := primaryConnection(raw); a.conn != "" && ok && c != a.conn {
				continue // linked to the connection, but a user of another one
			}
			ref := id
			if ref == "" {
				ref = fmt.Sprintf("page %d user %d", i, k+1)
			}
			if err := emit(core.Record{Data: data, Ref: ref, Cursor: auth0Cursor{offset: pos + 1}.String()}); err != nil {
				return false, err
			}
		}
		if len(p.Users) > 0 && fresh == 0 && int64(i)*int64(per) >= skip {
			return false, fmt.Errorf("auth0: list users page %d holds only users already read: %w", i, ErrHostile)
		}
		// A short page is the end, whatever the (eventually consistent) total said.
		return len(p.Users) >= per, nil
	})
}
