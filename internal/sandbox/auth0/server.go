// Package auth0 is an in-process emulator of the subset of the Auth0 Management API v2 that
// ferry uses: client-credentials tokens, user listing and search (with the 1,000-result
// cap), export and import jobs, roles, permissions and resource servers, and the plan's
// rate limits. It is an http.Handler over an in-memory tenant seeded by internal/gen.
//
// Behaviour follows the provider facts in DESIGN.md and Auth0's documentation:
// error bodies {"statusCode","error","message","errorCode"}; the paging cap message from
// node-auth0 issue #1246; x-ratelimit-reset as the UNIX time the bucket is full again
// (Auth0 community "How to tell if you are approaching the Rate-Limit"); import job error
// codes as z-schema names them (INVALID_TYPE, OBJECT_MISSING_REQUIRED_PROPERTY, ...) plus
// DUPLICATED_USER (Auth0 bulk-user-imports "Retrieve failed entries").
//
// Time never comes from the wall clock when Config.Clock is set: job progress, signed
// URL expiry, token expiry and bucket refills all follow it, so tests never sleep.
package auth0

import (
	crand "crypto/rand"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"runtime"
	"strconv"
	"sync"
	"time"

	"github.com/ferry-dev/ferry/internal/gen"
	"github.com/ferry-dev/ferry/internal/sandbox/clock"
	"github.com/segmentio/encoding/json"
)

// Config describes a sandbox tenant.
type Config struct {
	Users int     // synthetic users to seed
	Seed  int64   // seeds users, ids and credentials
	Nasty float64 // share of awkward users (gen.Options.Nasty)
	// Plan selects the rate limits: "free", "self-service", "enterprise", or "none"/"" for
	// no limits (the default, so tests of other packages are not throttled).
	Plan string
	// Buckets overrides the plan's buckets (keys: BucketGlobal, BucketUsersRead, ...).
	Buckets map[string]Bucket
	// Domain is the tenant domain; the token audience is https://DOMAIN/api/v2/.
	Domain       string      // default "sandbox"
	ClientID     string      // default derived from Seed
	ClientSecret string      // default derived from Seed
	Clock        clock.Clock // default the wall clock; clock.Fake in tests
	TokenTTL     time.Duration
	// ExportDelay is how long an export job takes from creation to completion (a quarter
	// pending, the rest processing); ImportDelay likewise for imports.
	ExportDelay time.Duration
	ImportDelay time.Duration
	// ExportURLTTL is how long a job's location stays valid (Auth0: 60 s).
	ExportURLTTL time.Duration
	// JobRetention is how long finished jobs and their errors are kept (Auth0: 24 h).
	JobRetention time.Duration
	// MaxPerPage caps per_page (default 100, the Management API's documented maximum; set
	// 50 to emulate the general pagination docs' public-cloud cap).
	MaxPerPage int
	// EmptyCatalog starts the tenant without roles or custom resource servers (a target
	// tenant for roles copy); otherwise it holds gen.Catalog(Seed).
	EmptyCatalog bool
	// CapTotals reports GET /api/v2/users totals as at most 1,000, as an Auth0 engineer
	// describes them ("total - total number of results in the query (max 1,000)", Auth0
	// community "Paging the List Users query"); by default the sandbox reports the true count.
	// A client must not take a total of 1,000 for "all users fit in a listing".
	CapTotals bool
	// NoClientCredentials makes the application one without the Client Credentials grant
	// (a SPA or native app's id): the token endpoint answers 403 unauthorized_client.
	NoClientCredentials bool
}

// Clock tells the emulator what time it is: every time-dependent behaviour (token
// expiry, job progress, signed URL expiry, job retention, rate-limit refills) reads it.
// It is the sandboxes' shared clock, named here for callers of Config.
type Clock = clock.Clock

// Credentials are what a client needs to reach the sandbox.
type Credentials struct {
	Domain       string
	ClientID     string
	ClientSecret string
	Audience     string
}

// Server is one emulated tenant.
type Server struct {
	cfg     Config
	clock   clock.Clock
	key     []byte // signs tokens and export URLs
	store   *store
	limiter *limiter
	jobs    *jobs
	cat     *catalog
	conns   []connection
	handler http.Handler

	idMu sync.Mutex
	ids  *rand.Rand
}

const (
	maxPayload       = 1 << 20    // Management API request bodies (1 MB)
	maxImportFile    = 500 * 1024 // users file of an import job (500 KB)
	maxImportRequest = 10 << 20   // whole multipart request, so the file check can speak
	maxResults       = 1000       // search results reachable by paging
	maxPerPage       = 100
	defaultPerPage   = 50
)

// New builds and seeds a tenant.
func New(cfg Config) (*Server, error) {
	if cfg.Domain == "" {
		cfg.Domain = "sandbox"
	}
	if cfg.TokenTTL <= 0 {
		cfg.TokenTTL = 24 * time.Hour
	}
	if cfg.ExportDelay <= 0 {
		cfg.ExportDelay = 2 * time.Second
	}
	if cfg.ImportDelay <= 0 {
		cfg.ImportDelay = time.Second
	}
	if cfg.ExportURLTTL <= 0 {
		cfg.ExportURLTTL = 60 * time.Second
	}
	if cfg.JobRetention <= 0 {
		cfg.JobRetention = 24 * time.Hour
	}
	if cfg.MaxPerPage <= 0 || cfg.MaxPerPage > maxPerPage {
		cfg.MaxPerPage = maxPerPage
	}
	if cfg.Users < 0 {
		return nil, fmt.Errorf("auth0 sandbox: negative user count %d", cfg.Users)
	}
	buckets := cfg.Buckets
	if buckets == nil {
		b, err := PlanBuckets(cfg.Plan)
		if err != nil {
			return nil, err
		}
		buckets = b
	}
	s := &Server{
		cfg:     cfg,
		clock:   clock.Or(cfg.Clock),
		store:   newStore(),
		limiter: newLimiter(buckets),
		ids:     rand.New(rand.NewPCG(uint64(cfg.Seed), 0x5eed)),
	}
	if s.cfg.ClientID == "" {
		s.cfg.ClientID = s.randomID("", 32)
	}
	if s.cfg.ClientSecret == "" {
		s.cfg.ClientSecret = s.randomID("", 64)
	}
	s.key = make([]byte, 32)
	if _, err := crand.Read(s.key); err != nil {
		return nil, fmt.Errorf("auth0 sandbox: key: %w", err)
	}
	s.conns = []connection{
		{ID: s.randomID("con_", 16), Name: "Username-Password-Authentication", Strategy: "auth0"},
		{ID: s.randomID("con_", 16), Name: "google-oauth2", Strategy: "google-oauth2"},
		{ID: s.randomID("con_", 16), Name: "github", Strategy: "github"},
	}
	s.jobs = newJobs()
	s.cat = s.newCatalog(cfg.EmptyCatalog)
	if err := s.seedUsers(); err != nil {
		return nil, err
	}
	s.handler = s.routes()
	return s, nil
}

const idAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

// randomID returns prefix + n characters, deterministic per seed and call order.
func (s *Server) randomID(prefix string, n int) string {
	s.idMu.Lock()
	defer s.idMu.Unlock()
	b := make([]byte, len(prefix), len(prefix)+n)
	copy(b, prefix)
	for k := 0; k < n; k++ {
		b = append(b, idAlphabet[s.ids.IntN(len(idAlphabet))])
	}
	return string(b)
}

func (s *Server) randomHex(n int) string {
	s.idMu.Lock()
	defer s.idMu.Unlock()
	const hex = "0123456789abcdef"
	b := make([]byte, n)
	for k := range b {
		b[k] = hex[s.ids.IntN(16)]
	}
	return string(b)
}

// seedUsers generates cfg.Users users on every core.
func (s *Server) seedUsers() error {
	n := s.cfg.Users
	users := make([]*user, n)
	roles := make([][]string, n)
	opt := gen.Options{Nasty: s.cfg.Nasty}
	workers := min(runtime.GOMAXPROCS(0), max(1, n/1000))
	var wg sync.WaitGroup
	errs := make([]error, workers)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := w; i < n; i += workers {
				u, r, err := newUser(gen.Auth0(s.cfg.Seed, i, opt))
				if err != nil {
					errs[w] = fmt.Errorf("auth0 sandbox: seed user %d: %w", i, err)
					return
				}
				users[i], roles[i] = u, r
			}
		}(w)
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	s.store.mu.Lock()
	for _, u := range users {
		s.store.putLocked(u)
	}
	s.store.resortLocked()
	s.store.mu.Unlock()
	// app_metadata.roles of generated users become role assignments, so that role members
	// and user roles agree with what the profiles say.
	for i, names := range roles {
		for _, name := range names {
			s.cat.assignByName(name, users[i].id)
		}
	}
	return nil
}

// Handler returns the tenant's HTTP interface.
func (s *Server) Handler() http.Handler { return s.handler }

// Credentials returns the client credentials the tenant accepts.
func (s *Server) Credentials() Credentials {
	return Credentials{Domain: s.cfg.Domain, ClientID: s.cfg.ClientID, ClientSecret: s.cfg.ClientSecret, Audience: s.audience()}
}

// Endpoint returns the ferry SRC/DST string that reaches this tenant served at baseURL.
func (s *Server) Endpoint(baseURL string) string {
	return "auth0://" + s.cfg.Domain + "?base=" + url.QueryEscape(baseURL)
}

// Env returns the environment variables ferry reads to reach this tenant.
func (s *Server) Env() map[string]string {
	return map[string]string{"AUTH0_CLIENT_ID": s.cfg.ClientID, "AUTH0_CLIENT_SECRET": s.cfg.ClientSecret}
}

// Token issues an access token valid from the clock's now for the configured TTL (what
// AUTH0_TOKEN would hold).
func (s *Server) Token() string { return s.signToken(s.clock.Now(), s.cfg.TokenTTL) }

// Count returns the number of users in the tenant.
func (s *Server) Count() int {
	s.jobs.tick(s)
	return s.store.count()
}

// Users returns every profile as the API returns it, sorted by user_id.
func (s *Server) Users() []json.RawMessage {
	s.jobs.tick(s)
	snap := s.store.snapshot()
	out := make([]json.RawMessage, len(snap))
	sortByID(snap)
	for k, u := range snap {
		out[k] = json.RawMessage(u.raw)
	}
	return out
}

// User returns one profile, or nil.
func (s *Server) User(id string) json.RawMessage {
	s.jobs.tick(s)
	if u := s.store.get(id); u != nil {
		return json.RawMessage(u.raw)
	}
	return nil
}

// HasSecret reports whether the user has a stored password hash (for tests proving that
// imports keep hashes while no response ever shows them).
func (s *Server) HasSecret(id string) bool {
	u := s.store.get(id)
	return u != nil && u.passwordHash != ""
}

// RoleMembers returns each role's name and its member count.
func (s *Server) RoleMembers() map[string]int {
	s.cat.mu.RLock()
	defer s.cat.mu.RUnlock()
	out := make(map[string]int, len(s.cat.roles))
	for _, r := range s.cat.roles {
		out[r.Name] = len(r.users)
	}
	return out
}

// ConnectionID returns the id of a connection by name ("" if none).
func (s *Server) ConnectionID(name string) string {
	for _, c := range s.conns {
		if c.Name == name {
			return c.ID
		}
	}
	return ""
}

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /oauth/token", s.handleToken)
	api := func(pattern string, h http.HandlerFunc) { mux.Handle(pattern, s.guard(h)) }
	api("GET /api/v2/users", s.handleListUsers)
	api("GET /api/v2/users/{id}", s.handleGetUser)
	api("DELETE /api/v2/users/{id}", s.handleDeleteUser)
	api("POST /api/v2/users/{id}/identities", s.handleLinkIdentity)
	api("GET /api/v2/users/{id}/roles", s.handleUserRoles)
	api("GET /api/v2/users-by-email", s.handleUsersByEmail)
	api("GET /api/v2/connections", s.handleConnections)
	api("POST /api/v2/jobs/users-exports", s.handleCreateExport)
	api("POST /api/v2/jobs/users-imports", s.handleCreateImport)
	api("GET /api/v2/jobs/{id}", s.handleGetJob)
	api("GET /api/v2/jobs/{id}/errors", s.handleJobErrors)
	api("GET /api/v2/roles", s.handleListRoles)
	api("POST /api/v2/roles", s.handleCreateRole)
	api("GET /api/v2/roles/{id}", s.handleGetRole)
	api("GET /api/v2/roles/{id}/permissions", s.handleRolePermissions)
	api("POST /api/v2/roles/{id}/permissions", s.handleAddRolePermissions)
	api("GET /api/v2/roles/{id}/users", s.handleRoleUsers)
	api("POST /api/v2/roles/{id}/users", s.handleAssignRoleUsers)
	api("GET /api/v2/resource-servers", s.handleListResourceServers)
	api("POST /api/v2/resource-servers", s.handleCreateResourceServer)
	api("GET /api/v2/resource-servers/{id}", s.handleGetResourceServer)
	api("PATCH /api/v2/resource-servers/{id}", s.handleUpdateResourceServer)
	// The export file is served like a pre-signed object-store URL: no bearer token, no
	// Management API rate limit.
	mux.HandleFunc("GET /user-exports/{job}/{file}", s.handleDownload)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "", "Not Found")
	})
	return mux
}

// guard applies, in order: the rate limit (so even 401s carry x-ratelimit-* headers), the
// bearer token, and the clock-driven completion of due jobs.
func (s *Server) guard(h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		now := s.clock.Now()
		if !s.limiter.take(w, r, now) {
			msg := "Global limit has been reached"
			if b := s.limiter.bucketFor(r); b != nil && s.limiter.buckets[BucketGlobal] == nil {
				msg = "Global per second " + s.bucketName(b) + " group limit has been reached"
			}
			writeError(w, http.StatusTooManyRequests, "too_many_requests", msg)
			return
		}
		if msg := s.checkToken(r, now); msg != "" {
			writeUnauthorized(w, msg)
			return
		}
		s.jobs.tick(s)
		h(w, r)
	})
}

func (s *Server) bucketName(b *bucketState) string {
	for name, v := range s.limiter.buckets {
		if v == b {
			return name
		}
	}
	return "management"
}

// readJSON reads a JSON body of at most 1 MB into v, answering 413/400 itself.
func readJSON(w http.ResponseWriter, r *http.Request, v any) bool {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxPayload))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			tooLarge(w, maxPayload)
		} else {
			badBody(w, "Payload could not be read")
		}
		return false
	}
	if err := json.Unmarshal(body, v); err != nil {
		badBody(w, "Payload validation error: 'Invalid JSON'.")
		return false
	}
	return true
}

func tooLarge(w http.ResponseWriter, limit int) {
	writeError(w, http.StatusRequestEntityTooLarge, "", "Payload content length greater than maximum allowed: "+strconv.Itoa(limit))
}
