// Package appid emulates an IBM Cloud App ID tenant: the IAM API-key token endpoint and
// the Management API v4 routes ferry uses (profile export/import, Cloud Directory
// export/import, search, profiles, roles, applications and scopes), with the documented
// limits: 50 management requests per second (then 30 s blocked), 100,000 users, 50 roles,
// 50 scopes per application, 200 applications, 50 Cloud Directory users per request.
//
// Sources: App ID docs (rate-limits.md "Known issues and limitations", cd-users.md
// "Migrating users", user-admin.md "Migrating profiles") and the App ID Management Go SDK
// (CloudDirectoryExportOptions: "Limit to 50 users per request").
package appid

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/segmentio/encoding/json"
	"golang.org/x/time/rate"

	"github.com/ferry-dev/ferry/internal/sandbox/clock"
)

// Limits are App ID's documented limits; zero fields take the documented values.
type Limits struct {
	RequestsPerSecond int           // management API: 50
	BlockFor          time.Duration // after exceeding it: 30 s
	MaxUsers          int           // per instance: 100,000
	MaxRoles          int           // per instance: 50
	MaxScopes         int           // per application: 50
	MaxApplications   int           // per instance: 200
	CDPerRequest      int           // Cloud Directory export count cap and import size: 50
	ExportMaxCount    int           // users/export count cap: 50 (not documented; as CD)
	SearchMaxCount    int           // users search count cap: 50
	MaxBodyBytes      int           // request bodies: 10 MiB
}

func (l *Limits) defaults() {
	set := func(p *int, v int) {
		if *p <= 0 {
			*p = v
		}
	}
	set(&l.RequestsPerSecond, 50)
	set(&l.MaxUsers, 100_000)
	set(&l.MaxRoles, 50)
	set(&l.MaxScopes, 50)
	set(&l.MaxApplications, 200)
	set(&l.CDPerRequest, 50)
	set(&l.ExportMaxCount, 50)
	set(&l.SearchMaxCount, 50)
	set(&l.MaxBodyBytes, 10<<20)
	if l.BlockFor <= 0 {
		l.BlockFor = 30 * time.Second
	}
}

// AppSeed is an application created at New.
type AppSeed struct {
	Name   string
	Type   string // regularwebapp (default) or singlepageapp
	Scopes []string
}

// RoleSeed is a role created at New; access names applications by name (client ids are
// generated per instance, as in the real service).
type RoleSeed struct {
	Name        string
	Description string
	Access      map[string][]string // application name -> scopes
}

// Config sets up a Server. Zero values get defaults: a random tenant id and API key,
// region us-south, the real clock, one-hour tokens, the documented limits.
type Config struct {
	TenantID string
	Region   string
	APIKey   string
	Clock    clock.Clock
	TokenTTL time.Duration
	Limits   Limits

	Applications []AppSeed
	Roles        []RoleSeed
	// Users are profiles in the users/export item shape ({id, name, email, picture,
	// identities, attributes, roles}); UserGen(i) for i < UserCount adds more, so a test
	// can seed many users without holding them all.
	Users     []json.RawMessage
	UserGen   func(i int) []byte
	UserCount int
	// CDUsers are Cloud Directory users in the export item shape with passwordHash in the
	// clear (as the instance stores it before encrypting it for an export).
	CDUsers []json.RawMessage
}

// Credentials are what a client needs to reach the tenant.
type Credentials struct {
	APIKey   string
	TenantID string
	Region   string
}

// Server is the emulated tenant.
type Server struct {
	cfg Config
	clk clock.Clock

	mu       sync.Mutex
	tokens   map[string]time.Time // access token -> expiry
	profiles map[string]*profile
	order    []*profile
	idpIndex map[string]string // provider \x00 id -> profile id
	cd       map[string]*cdUser
	cdOrder  []*cdUser
	cdIndex  map[string]string // lower-cased email or userName -> cd user id
	// cdProfiles are the Cloud Directory users' profiles, by profile id: apart from
	// s.profiles, which the profile export lists.
	cdProfiles map[string]*profile
	roles      map[string]*role
	roleSeq    []*role
	apps       map[string]*app
	appSeq     []*app

	limiter      *rate.Limiter
	blockedUntil time.Time
	requests     int64
	throttled    int64
}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func newGUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// New builds a tenant and seeds it; a seed that App ID would refuse is an error.
func New(cfg Config) (*Server, error) {
	if cfg.TenantID == "" {
		cfg.TenantID = newGUID()
	}
	if cfg.Region == "" {
		cfg.Region = "us-south"
	}
	if cfg.APIKey == "" {
		cfg.APIKey = randHex(22)
	}
	if cfg.TokenTTL <= 0 {
		cfg.TokenTTL = time.Hour
	}
	cfg.Limits.defaults()
	s := &Server{
		cfg: cfg, clk: clock.Or(cfg.Clock),
		tokens: map[string]time.Time{}, profiles: map[string]*profile{}, idpIndex: map[string]string{},
		cd: map[string]*cdUser{}, cdIndex: map[string]string{}, cdProfiles: map[string]*profile{},
		roles: map[string]*role{}, apps: map[string]*app{},
		limiter: rate.NewLimiter(rate.Limit(cfg.Limits.RequestsPerSecond), cfg.Limits.RequestsPerSecond),
	}
	for i, a := range cfg.Applications {
		if _, err := s.AddApplication(a.Name, a.Type, a.Scopes...); err != nil {
			return nil, fmt.Errorf("appid: application seed %d: %w", i, err)
		}
	}
	for i, r := range cfg.Roles {
		if _, err := s.AddRole(r.Name, r.Description, r.Access); err != nil {
			return nil, fmt.Errorf("appid: role seed %d: %w", i, err)
		}
	}
	seed := func(i int, raw []byte) error {
		res := s.importProfiles([]json.RawMessage{raw})
		if res.Failed > 0 {
			return fmt.Errorf("appid: user seed %d: %s", i, res.FailReasons[0].Error)
		}
		return nil
	}
	for i, raw := range cfg.Users {
		if err := seed(i, raw); err != nil {
			return nil, err
		}
	}
	if cfg.UserGen != nil {
		for i := 0; i < cfg.UserCount; i++ {
			if err := seed(len(cfg.Users)+i, cfg.UserGen(i)); err != nil {
				return nil, err
			}
		}
	}
	for i, raw := range cfg.CDUsers {
		if res := s.importCD([]json.RawMessage{raw}, "", true); res.Failed > 0 {
			return nil, fmt.Errorf("appid: cloud directory seed %d: %s", i, res.FailReasons[0].Error)
		}
	}
	return s, nil
}

// Credentials returns the API key, tenant id and region the tenant accepts.
func (s *Server) Credentials() Credentials {
	return Credentials{APIKey: s.cfg.APIKey, TenantID: s.cfg.TenantID, Region: s.cfg.Region}
}

// Endpoint is the ferry SRC/DST string for a tenant served at baseURL (which serves both
// the IAM token endpoint and the management API, as Handler does).
func (s *Server) Endpoint(baseURL string) string {
	return fmt.Sprintf("appid://%s/%s?base=%s&iam=%s", s.cfg.Region, s.cfg.TenantID,
		url.QueryEscape(baseURL), url.QueryEscape(baseURL))
}

// Handler serves POST /identity/token and /management/v4/{tenantId}/... on one mux.
func (s *Server) Handler() http.Handler { return http.HandlerFunc(s.serve) }

// Stats are request counters for tests.
type Stats struct{ Requests, Throttled int64 }

// Stats returns the management API request counters.
func (s *Server) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return Stats{Requests: s.requests, Throttled: s.throttled}
}

// UserCount returns the number of profiles and Cloud Directory users.
func (s *Server) UserCount() (profiles, cloudDirectory int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.profiles), len(s.cd)
}

// Profiles returns every profile in the users/export item shape, in import order (for
// tests that audit what an import left).
func (s *Server) Profiles() []json.RawMessage {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]json.RawMessage, 0, len(s.order))
	for _, p := range s.order {
		if s.profiles[p.id] == nil {
			continue // deleted
		}
		b, _ := json.Marshal(s.exportLocked(p))
		out = append(out, b)
	}
	return out
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	p := r.URL.Path
	if p == "/identity/token" {
		s.handleToken(w, r)
		return
	}
	const prefix = "/management/v4/"
	if !strings.HasPrefix(p, prefix) {
		writeErr(w, http.StatusNotFound, "NOT_FOUND", "no route for "+p)
		return
	}
	segs := strings.Split(strings.Trim(strings.TrimPrefix(p, prefix), "/"), "/")
	if ok := s.admit(w, r); !ok {
		return
	}
	if segs[0] != s.cfg.TenantID {
		writeErr(w, http.StatusNotFound, "TENANT_NOT_FOUND", "tenant not found")
		return
	}
	s.route(w, r, segs[1:])
}

func (s *Server) route(w http.ResponseWriter, r *http.Request, segs []string) {
	m := r.Method
	n := len(segs)
	at := func(i int) string {
		if i < n {
			return segs[i]
		}
		return ""
	}
	switch {
	case at(0) == "users" && n == 2 && at(1) == "export" && m == http.MethodGet:
		s.handleExport(w, r)
	case at(0) == "users" && n == 2 && at(1) == "import" && m == http.MethodPost:
		s.handleImport(w, r)
	case at(0) == "users" && n == 1 && m == http.MethodGet:
		s.handleSearch(w, r)
	case at(0) == "users" && n == 3 && at(2) == "profile" && (m == http.MethodGet || m == http.MethodPut):
		s.handleProfile(w, r, at(1))
	case at(0) == "users" && n == 3 && at(2) == "roles" && (m == http.MethodGet || m == http.MethodPut):
		s.handleUserRoles(w, r, at(1))
	case at(0) == "users" && n == 2 && m == http.MethodDelete:
		s.handleDeleteUser(w, at(1))
	case at(0) == "cloud_directory" && n == 2 && at(1) == "export" && m == http.MethodGet:
		s.handleCDExport(w, r)
	case at(0) == "cloud_directory" && n == 2 && at(1) == "import" && m == http.MethodPost:
		s.handleCDImport(w, r)
	case at(0) == "cloud_directory" && n == 2 && at(1) == "Users" && m == http.MethodGet:
		s.handleCDUsers(w, r)
	case at(0) == "cloud_directory" && n == 3 && at(1) == "Users" && (m == http.MethodGet || m == http.MethodPut):
		s.handleCDUser(w, r, at(2))
	case at(0) == "roles" && n == 1 && (m == http.MethodGet || m == http.MethodPost):
		s.handleRoles(w, r)
	case at(0) == "roles" && n == 2 && (m == http.MethodGet || m == http.MethodPut || m == http.MethodDelete):
		s.handleRole(w, r, at(1))
	case at(0) == "applications" && n == 1 && (m == http.MethodGet || m == http.MethodPost):
		s.handleApps(w, r)
	case at(0) == "applications" && n == 2 && m == http.MethodGet:
		s.handleApp(w, at(1))
	case at(0) == "applications" && n == 3 && at(2) == "scopes" && (m == http.MethodGet || m == http.MethodPut):
		s.handleScopes(w, r, at(1))
	default:
		writeErr(w, http.StatusNotFound, "NOT_FOUND", m+" "+r.URL.Path+" is not a route")
	}
}

// admit applies authentication and the management rate limit: 50 requests per second;
// exceeding blocks every request for 30 s (each answered 429 with Retry-After).
func (s *Server) admit(w http.ResponseWriter, r *http.Request) bool {
	now := s.clk.Now()
	s.mu.Lock()
	s.requests++
	if now.Before(s.blockedUntil) || !s.limiter.AllowN(now, 1) {
		if !now.Before(s.blockedUntil) {
			s.blockedUntil = now.Add(s.cfg.Limits.BlockFor)
		}
		s.throttled++
		wait := s.blockedUntil.Sub(now)
		s.mu.Unlock()
		secs := int((wait + time.Second - 1) / time.Second)
		w.Header().Set("Retry-After", fmt.Sprint(secs))
		writeErr(w, http.StatusTooManyRequests, "TOO_MANY_REQUESTS",
			fmt.Sprintf("management API rate limit exceeded: blocked for %d more seconds", secs))
		return false
	}
	s.mu.Unlock()
	h := r.Header.Get("Authorization")
	tok, ok := strings.CutPrefix(h, "Bearer ")
	if !ok || tok == "" {
		writeErr(w, http.StatusUnauthorized, "UNAUTHORIZED", "missing bearer token")
		return false
	}
	s.mu.Lock()
	exp, known := s.tokens[tok]
	s.mu.Unlock()
	switch {
	case !known:
		writeErr(w, http.StatusUnauthorized, "INVALID_TOKEN", "invalid access token")
		return false
	case !now.Before(exp):
		writeErr(w, http.StatusUnauthorized, "TOKEN_EXPIRED", "access token expired")
		return false
	}
	return true
}

// errorBody is the management API's error shape.
type errorBody struct {
	Status  int    `json:"status"`
	Error   string `json:"error"`
	Code    string `json:"code"`
	Message string `json:"message"`
}

func writeErr(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, errorBody{Status: status, Error: http.StatusText(status), Code: code, Message: msg})
}

// ErrorBody renders an error in the management API's shape, for faults.Hooks.ErrorBody.
func ErrorBody(status int) (string, []byte) {
	b, _ := json.Marshal(errorBody{Status: status, Error: http.StatusText(status), Code: "SERVICE_UNAVAILABLE", Message: "service unavailable"})
	return "application/json", b
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"status":500,"error":"Internal Server Error","code":"INTERNAL","message":"encoding failed"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// readJSON reads a JSON body into v, answering 413 past the body limit and 400 for bad
// JSON; it reports whether to go on.
func (s *Server) readJSON(w http.ResponseWriter, r *http.Request, v any) bool {
	limit := int64(s.cfg.Limits.MaxBodyBytes)
	if r.ContentLength > limit {
		writeErr(w, http.StatusRequestEntityTooLarge, "PAYLOAD_TOO_LARGE", "request body too large")
		return false
	}
	buf, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
	if err != nil {
		writeErr(w, http.StatusBadRequest, "INVALID_INPUT", "reading the request body: "+err.Error())
		return false
	}
	if int64(len(buf)) > limit {
		writeErr(w, http.StatusRequestEntityTooLarge, "PAYLOAD_TOO_LARGE", "request body too large")
		return false
	}
	if !utf8.Valid(buf) {
		writeErr(w, http.StatusBadRequest, "INVALID_INPUT", "request body is not valid UTF-8")
		return false
	}
	if err := json.Unmarshal(buf, v); err != nil {
		writeErr(w, http.StatusBadRequest, "INVALID_INPUT", "request body is not valid JSON: "+err.Error())
		return false
	}
	return true
}
