package load

import (
	"context"
	"crypto/rand"
	"encoding/hex"
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
	"github.com/ferry-dev/ferry/schemas"
	"golang.org/x/sync/errgroup"
	"golang.org/x/time/rate"
)

// Auth0 imports users into an Auth0 database connection with bulk-import jobs
// (POST /api/v2/jobs/users-imports), then assigns their roles in bulk per role.
//
//	Write(batch)  prepare: one import item per user (and per secondary identity with
//	              --unlink, or per database identity to re-link), size and email checks
//	              pack:    JSON-array files of at most FileLimit bytes (500 KB)
//	              run:     at most 2 jobs per tenant at once (a semaphore shared by every
//	                       writer), poll with backoff, GET /jobs/{id}/errors
//	              map:     summary + errors -> one Result per user; counts reconciled,
//	                       users-by-email lookups when they do not add up
//	              roles:   POST /roles/{id}/users per role, ids resolved from the job
//	Roles / CreateRoles   the catalog for the preflight (roles_auth0.go)
//
// Every request goes through one httpx.Client: token, retries, the tenant's shared limiter.
type Auth0 struct {
	api    *auth0API
	cfg    Auth0Config
	name   string
	jobs   chan struct{} // the tenant's import-job slots
	runID  string        // external_id prefix of this run's jobs
	fileNo atomicCounter

	connNamed bool // the endpoint named the connection (not DefaultConnection by default)
	connOnce  sync.Once
	connErr   error
	connID    string

	mu     sync.Mutex
	emails map[string]string // lowercased email -> ref of the user that claimed it
}

var (
	_ core.Sink       = (*Auth0)(nil)
	_ core.Batched    = (*Auth0)(nil)
	_ core.RoleReader = (*Auth0)(nil)
	_ core.RoleWriter = (*Auth0)(nil)
	_ core.Keyed      = (*Auth0)(nil)
)

// Auth0Config configures the sink. Only Domain and Token are required.
type Auth0Config struct {
	Domain       string // tenant domain: the audience and the key of the shared limiter
	BaseURL      string // default https://DOMAIN; ?base= points at a sandbox or proxy
	Connection   string // database connection name; default Username-Password-Authentication
	ConnectionID string // skips the GET /connections lookup
	Token        httpx.TokenSource
	Upsert       bool // update users that exist (matched by email), as --upsert
	// Unlink imports every secondary identity as a user of its own, without metadata (the
	// result of unlinking in Auth0); without it, database identities are re-linked and
	// other linked identities reject their user.
	Unlink    bool
	FileLimit int // bytes per import file; default and maximum 500 KB
	MaxJobs   int // import jobs at once per tenant; default 2 (Auth0's limit)
	// PollInitial and PollMax bound the wait between job status polls (backoff ×1.5).
	PollInitial, PollMax time.Duration
	// JobTimeout gives up on a job that never completes; default 30 min.
	JobTimeout time.Duration
	Limiter    *httpx.Limiter    // default the tenant's shared limiter
	Transport  http.RoundTripper // tests
	OnRetry    func(httpx.RetryEvent)
}

// DefaultImportFileLimit is Auth0's limit on the users file of an import job.
const DefaultImportFileLimit = 500 * 1024

// DefaultConnection is the database connection of a new Auth0 tenant.
const DefaultConnection = "Username-Password-Authentication"

func init() { Register("auth0", openAuth0) }

// openAuth0 opens auth0://DOMAIN?connection=NAME[&connection_id=ID][&base=URL]
// [&unlink=true][&file_bytes=N]. Credentials: AUTH0_TOKEN, or AUTH0_CLIENT_ID and
// AUTH0_CLIENT_SECRET (client-credentials grant).
func openAuth0(_ context.Context, ep *endpoint.Endpoint, opt core.Options) (core.Sink, error) {
	if opt.Format != "" && opt.Format != core.FormatAuth0Import {
		return nil, fmt.Errorf("auth0 target: records are imported as %q, not %q: %w", core.FormatAuth0Import, opt.Format, core.ErrUsage)
	}
	cfg, err := Auth0ConfigFrom(ep, opt)
	if err != nil {
		return nil, err
	}
	return NewAuth0(cfg)
}

// Auth0ConfigFrom reads an auth0:// endpoint and the credentials from opt.Getenv.
func Auth0ConfigFrom(ep *endpoint.Endpoint, opt core.Options) (Auth0Config, error) {
	cfg := Auth0Config{Domain: ep.Host, Upsert: opt.Upsert, Connection: ep.Query.Get("connection"),
		ConnectionID: ep.Query.Get("connection_id"), BaseURL: ep.Query.Get("base")}
	if cfg.Domain == "" {
		return cfg, fmt.Errorf("auth0 endpoint %s: no tenant domain: %w", ep, core.ErrUsage)
	}
	if cfg.BaseURL == "" {
		cfg.BaseURL = "https://" + cfg.Domain
	}
	for _, b := range []struct {
		key string
		dst *bool
	}{{"unlink", &cfg.Unlink}} {
		if v := ep.Query.Get(b.key); v != "" {
			x, err := strconv.ParseBool(v)
			if err != nil {
				return cfg, fmt.Errorf("auth0 endpoint: %s=%q is not a boolean: %w", b.key, v, core.ErrUsage)
			}
			*b.dst = x
		}
	}
	if v := ep.Query.Get("file_bytes"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1024 || n > DefaultImportFileLimit {
			return cfg, fmt.Errorf("auth0 endpoint: file_bytes=%q: want 1024..%d: %w", v, DefaultImportFileLimit, core.ErrUsage)
		}
		cfg.FileLimit = n
	}
	getenv := opt.Getenv
	if getenv == nil {
		return cfg, fmt.Errorf("auth0 target: no environment to read credentials from: %w", core.ErrUsage)
	}
	if tok := getenv("AUTH0_TOKEN"); tok != "" {
		cfg.Token = httpx.StaticToken(tok)
	} else if id, secret := getenv("AUTH0_CLIENT_ID"), getenv("AUTH0_CLIENT_SECRET"); id != "" && secret != "" {
		cfg.Token = &httpx.Auth0ClientCredentials{TokenURL: strings.TrimSuffix(cfg.BaseURL, "/") + "/oauth/token",
			ClientID: id, ClientSecret: secret, Audience: "https://" + cfg.Domain + "/api/v2/"}
	} else {
		return cfg, fmt.Errorf("auth0 target: set AUTH0_TOKEN, or AUTH0_CLIENT_ID and AUTH0_CLIENT_SECRET: %w", core.ErrUsage)
	}
	return cfg, nil
}

// NewAuth0 builds the sink.
func NewAuth0(cfg Auth0Config) (*Auth0, error) {
	if cfg.Domain == "" || cfg.Token == nil {
		return nil, fmt.Errorf("auth0 target: domain and token are required: %w", core.ErrUsage)
	}
	if cfg.BaseURL == "" {
		cfg.BaseURL = "https://" + cfg.Domain
	}
	named := cfg.Connection != ""
	if !named {
		cfg.Connection = DefaultConnection
	}
	if cfg.FileLimit <= 0 || cfg.FileLimit > DefaultImportFileLimit {
		cfg.FileLimit = DefaultImportFileLimit
	}
	if cfg.MaxJobs <= 0 {
		cfg.MaxJobs = 2
	}
	if cfg.PollInitial <= 0 {
		cfg.PollInitial = 500 * time.Millisecond
	}
	if cfg.PollMax <= 0 {
		cfg.PollMax = 10 * time.Second
	}
	if cfg.JobTimeout <= 0 {
		cfg.JobTimeout = 30 * time.Minute
	}
	key := "auth0:" + cfg.Domain
	if cfg.Limiter == nil {
		// Auth0 tells its budget in x-ratelimit-* headers; the limiter follows them from the
		// first answer, so the initial rate only has to be safe for a free tenant's burst.
		cfg.Limiter = httpx.SharedLimiter(key, rate.Limit(10), 10)
	}
	base := strings.TrimSuffix(cfg.BaseURL, "/") + "/api/v2/"
	c, err := httpx.New(httpx.Config{Name: "auth0", BaseURL: base, Token: cfg.Token, Limiter: cfg.Limiter,
		Transport: cfg.Transport, OnRetry: cfg.OnRetry})
	if err != nil {
		return nil, err
	}
	var id [6]byte
	_, _ = rand.Read(id[:])
	return &Auth0{
		api:    newAuth0API(c),
		cfg:    cfg,
		name:   "auth0://" + cfg.Domain + "?connection=" + url.QueryEscape(cfg.Connection),
		jobs:   jobSlots(key+"@"+base, cfg.MaxJobs),
		runID:  "ferry-" + hex.EncodeToString(id[:]),
		emails: map[string]string{},

		connNamed: named,
	}, nil
}

// jobSlots returns the semaphore of a tenant's import jobs, shared by every sink of the
// process that writes to it.
func jobSlots(key string, n int) chan struct{} {
	slots.Lock()
	defer slots.Unlock()
	if slots.m == nil {
		slots.m = map[string]chan struct{}{}
	}
	ch, ok := slots.m[key]
	if !ok {
		ch = make(chan struct{}, n)
		slots.m[key] = ch
	}
	return ch
}

var slots struct {
	sync.Mutex
	m map[string]chan struct{}
}

// Name implements core.Sink.
func (s *Auth0) Name() string { return s.name }

// Format implements core.Sink.
func (s *Auth0) Format() string { return core.FormatAuth0Import }

// UserKey implements core.Keyed: every user goes into one database connection, where
// Auth0 knows a user by e-mail (case-insensitively); a job refuses a second user with the
// same e-mail, and with upsert a later job would update the earlier user with it.
func (s *Auth0) UserKey(u *schemas.User) (string, string) { return "email", u.PrimaryEmail() }

// maxFileUsers bounds the users of one file, so that the array framing ("[" "]" and a
// comma between items) is known in advance and a batch always fits one file.
const maxFileUsers = 2000

// BatchLimits implements core.Batched: a batch within them is one import file.
func (s *Auth0) BatchLimits() core.BatchLimits {
	return core.BatchLimits{MaxCount: maxFileUsers, MaxBytes: s.cfg.FileLimit - 2 - (maxFileUsers - 1)}
}

// Roles implements core.RoleReader.
func (s *Auth0) Roles(ctx context.Context) (*core.Catalog, error) { return s.api.Catalog(ctx) }

// CreateRoles implements core.RoleWriter.
func (s *Auth0) CreateRoles(ctx context.Context, missing *core.Catalog) error {
	return s.api.CreateCatalog(ctx, missing)
}

// Close implements core.Sink: every job completed inside Write.
func (s *Auth0) Close(context.Context) error { return nil }

// Write implements core.Sink.
func (s *Auth0) Write(ctx context.Context, batch []core.Item) ([]core.Result, error) {
	res := make([]core.Result, len(batch))
	if len(batch) == 0 {
		return res, nil
	}
	connID, err := s.connection(ctx)
	if err != nil {
		return nil, err
	}
	groups := s.prepare(batch, res)
	files := packFiles(groups, s.cfg.FileLimit)
	g, gctx := errgroup.WithContext(ctx)
	for _, f := range files {
		g.Go(func() error { return s.runFile(gctx, connID, f) })
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	if err := s.relink(ctx, connID, groups); err != nil {
		return nil, err
	}
	for _, gr := range groups {
		res[gr.item] = gr.result()
	}
	if err := s.assignRoles(ctx, batch, groups, res); err != nil {
		return nil, err
	}
	return res, nil
}

// connection resolves the database connection's id once: GET /connections?name=NAME.
func (s *Auth0) connection(ctx context.Context) (string, error) {
	s.connOnce.Do(func() {
		if s.cfg.ConnectionID != "" {
			s.connID = s.cfg.ConnectionID
			return
		}
		type conn struct {
			ID       string `json:"id"`
			Name     string `json:"name"`
			Strategy string `json:"strategy"`
		}
		cs, err := auth0api.List[conn](ctx, s.api.Lister, "connections", "connections", url.Values{"name": {s.cfg.Connection}})
		if err != nil {
			s.connErr = fmt.Errorf("auth0: find connection %q: %w", s.cfg.Connection, err)
			return
		}
		for _, c := range cs {
			if c.Name != s.cfg.Connection {
				continue
			}
			if c.Strategy != "auth0" {
				s.connErr = fmt.Errorf("auth0: connection %q is a %s connection; imports need a database (auth0) connection: %w",
					c.Name, c.Strategy, core.ErrUsage)
				return
			}
			s.connID = c.ID
			return
		}
		s.connErr = fmt.Errorf("auth0: no connection named %q in the tenant: %w", s.cfg.Connection, core.ErrUsage)
	})
	return s.connID, s.connErr
}

// assignRoles gives the written users of a batch their roles: one POST per role (chunked),
// with the ids the job produced. A user whose role cannot be assigned is rejected with
// the reason: it was written, but not as the source has it.
func (s *Auth0) assignRoles(ctx context.Context, batch []core.Item, groups []*userGroup, res []core.Result) error {
	byRole := map[string][]int{} // role name -> batch indexes
	for _, gr := range groups {
		r := res[gr.item]
		if r.Outcome != core.Created && r.Outcome != core.Updated {
			continue
		}
		for _, name := range roleNames(batch[gr.item].User) {
			byRole[name] = append(byRole[name], gr.item)
		}
	}
	if len(byRole) == 0 {
		return nil
	}
	var need []*userGroup
	for _, gr := range groups {
		if gr.units[0].targetID == "" && len(roleNames(batch[gr.item].User)) > 0 && (res[gr.item].Outcome == core.Created || res[gr.item].Outcome == core.Updated) {
			need = append(need, gr)
		}
	}
	if err := s.resolveIDs(ctx, need); err != nil {
		return err
	}
	fail := func(i int, why string) {
		if res[i].Outcome == core.Rejected {
			res[i].Reason += "; " + why
			return
		}
		res[i] = core.Result{Outcome: core.Rejected, TargetID: res[i].TargetID, Reason: fmt.Sprintf(
			"auth0: user written as %s but %s", res[i].TargetID, why)}
	}
	for _, gr := range groups {
		res[gr.item].TargetID = gr.units[0].targetID
	}
	for _, name := range sortedKeys(byRole) {
		idx := byRole[name]
		roleID, err := s.api.roleID(ctx, name, true)
		if err != nil {
			return err
		}
		if roleID == "" {
			for _, i := range idx {
				fail(i, fmt.Sprintf("role %q does not exist in the target (run the roles preflight)", name))
			}
			continue
		}
		var ids []string
		owner := map[string][]int{}
		for _, i := range idx {
			id := res[i].TargetID
			if id == "" {
				fail(i, fmt.Sprintf("its id could not be found to assign role %q", name))
				continue
			}
			if _, dup := owner[id]; !dup {
				ids = append(ids, id)
			}
			owner[id] = append(owner[id], i)
		}
		failed, err := s.api.assignRole(ctx, roleID, ids)
		if err != nil {
			return fmt.Errorf("auth0: assign role %q: %w", name, err)
		}
		for id, why := range failed {
			for _, i := range owner[id] {
				fail(i, fmt.Sprintf("role %q could not be assigned: %s", name, why))
			}
		}
	}
	return nil
}

// roleNames are the role names a user carries (roles[].value), without duplicates.
func roleNames(u *schemas.User) []string {
	if u == nil {
		return nil
	}
	var out []string
	for _, r := range u.Roles {
		if r.Value != "" && !containsStr(out, r.Value) {
			out = append(out, r.Value)
		}
	}
	return out
}

func containsStr(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}
