// Package scim is a SCIM 2.0 service provider for tests and demos (RFC 7643, RFC 7644, and
// RFC 9865 cursor paging): Users with create, read, replace, patch and delete, filters,
// index and cursor paging, sorting, ETags, Bulk, and the discovery endpoints. It keeps
// everything in memory and speaks application/scim+json. Groups (groups.go) keep members
// that are existing users.
package scim

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/segmentio/encoding/json"

	"github.com/ferry-dev/ferry/internal/sandbox/clock"
)

// MediaType is the SCIM media type (RFC 7644 §8.1).
const MediaType = "application/scim+json"

// Config sets up a Server. Zero values take the defaults noted.
type Config struct {
	// Token is the bearer token the server accepts; a random one when empty (see Token).
	Token string
	// BasePath is where the SCIM endpoints live, e.g. "/scim/v2"; "" serves them at /.
	BasePath string
	// Users are seed users, each a SCIM User JSON object, created in order at New.
	Users []json.RawMessage
	// Clock drives meta timestamps and cursor expiry; the real clock when nil.
	Clock clock.Clock
	// Strict refuses unknown attributes, unknown or unlisted extensions and values outside
	// canonicalValues (400 invalidValue); lenient mode keeps them.
	Strict bool
	// Schemas are schema representations (RFC 7643 §7) to serve at /Schemas and validate
	// against; the core User schema must be among them, every other one is a User
	// extension. Nil uses the built-in User and Enterprise User schemas.
	Schemas []json.RawMessage
	// Extensions are more User extension schemas (RFC 7643 §7), served at /Schemas, named
	// in the User resource type's schemaExtensions (/ResourceTypes) and validated against,
	// as a tenant with custom attributes (Okta, Entra ID, in-house) does. Their attributes
	// with returned "never" are kept from every read.
	Extensions []json.RawMessage

	DefaultPageSize   int           // 100
	MaxPageSize       int           // filter.maxResults and pagination.maxPageSize: 200
	BulkMaxOperations int           // 1000
	BulkMaxPayload    int           // bytes, 1 MiB
	MaxBodyBytes      int           // non-bulk request bodies, 1 MiB
	CursorTimeout     time.Duration // 10 minutes
	// GroupListMembers is the most members a group may have and still come in a /Groups
	// list answer that includes members (1000); past it the list is 400 tooMany.
	GroupListMembers int
	// GroupPatchMembers is the most members one PATCH of a group may add or remove; 0 is
	// no limit (Entra ID takes 20).
	GroupPatchMembers int
}

// Server is an in-memory SCIM service provider.
type Server struct {
	cfg Config
	ss  *schemaSet
	ev  *evaluator
	clk clock.Clock
	key []byte // signs cursors

	mu      sync.RWMutex
	byID    map[string]*entry
	byName  map[string]string // lower-cased userName -> id
	byExt   map[string]string // externalId (caseExact) -> id
	ordered []*entry          // live entries by seq
	seq     int64
	etag    int64

	gmu sync.RWMutex // guards grp; taken before mu, never while holding it
	grp groupStore
}

type entry struct {
	seq     int64
	id      string
	res     map[string]any // stored resource, with schemas, id and meta (no location)
	version string
}

// New builds a server and creates the seed users; a seed that is not a valid user is an
// error naming its index.
func New(cfg Config) (*Server, error) {
	if cfg.DefaultPageSize <= 0 {
		cfg.DefaultPageSize = 100
	}
	if cfg.MaxPageSize <= 0 {
		cfg.MaxPageSize = 200
	}
	if cfg.DefaultPageSize > cfg.MaxPageSize {
		cfg.DefaultPageSize = cfg.MaxPageSize
	}
	if cfg.BulkMaxOperations <= 0 {
		cfg.BulkMaxOperations = 1000
	}
	if cfg.BulkMaxPayload <= 0 {
		cfg.BulkMaxPayload = 1 << 20
	}
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = 1 << 20
	}
	if cfg.CursorTimeout <= 0 {
		cfg.CursorTimeout = 10 * time.Minute
	}
	cfg.BasePath = strings.TrimRight(cfg.BasePath, "/")
	ss, err := loadSchemas(cfg.Schemas, cfg.Extensions)
	if err != nil {
		return nil, err
	}
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	if cfg.Token == "" {
		tok := make([]byte, 24)
		_, _ = rand.Read(tok)
		cfg.Token = hex.EncodeToString(tok)
	}
	s := &Server{
		cfg: cfg, ss: ss, ev: &evaluator{ss: ss}, clk: clock.Or(cfg.Clock), key: key,
		byID: map[string]*entry{}, byName: map[string]string{}, byExt: map[string]string{},
	}
	s.groupsInit()
	for i, raw := range cfg.Users {
		var m map[string]any
		if err := json.Unmarshal(raw, &m); err != nil || m == nil {
			return nil, fmt.Errorf("scim: seed user %d: not a JSON object", i)
		}
		if _, e := s.create(m); e != nil {
			return nil, fmt.Errorf("scim: seed user %d: %s", i, e.Detail)
		}
	}
	return s, nil
}

// Token returns the bearer token the server accepts.
func (s *Server) Token() string { return s.cfg.Token }

// Len returns the number of users.
func (s *Server) Len() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return len(s.byID)
}

// IDs returns the ids of the stored users, in no order (tests read them back by User).
func (s *Server) IDs() []string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]string, 0, len(s.byID))
	for id := range s.byID {
		out = append(out, id)
	}
	return out
}

// User returns the stored user with the id as JSON (password included: tests only).
func (s *Server) User(id string) (json.RawMessage, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	e, ok := s.byID[id]
	if !ok {
		return nil, false
	}
	b, _ := json.Marshal(e.res)
	return b, true
}

// UserByName returns the id of the user with the userName, case-insensitively.
func (s *Server) UserByName(name string) (string, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	id, ok := s.byName[strings.ToLower(name)]
	return id, ok
}

// Handler returns the HTTP handler.
func (s *Server) Handler() http.Handler { return http.HandlerFunc(s.serve) }

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	path := r.URL.Path
	if s.cfg.BasePath != "" {
		if !strings.HasPrefix(path, s.cfg.BasePath+"/") && path != s.cfg.BasePath {
			s.writeErr(w, errf(http.StatusNotFound, "", "no SCIM endpoint at %s", path))
			return
		}
		path = strings.TrimPrefix(path, s.cfg.BasePath)
	}
	segs := strings.Split(strings.Trim(path, "/"), "/")
	// Discovery endpoints need no authentication (RFC 7644 §4 lets a provider choose).
	switch segs[0] {
	case "ServiceProviderConfig", "Schemas", "ResourceTypes":
		if r.Method != http.MethodGet {
			s.writeErr(w, errf(http.StatusMethodNotAllowed, "", "%s %s is not supported", r.Method, path))
			return
		}
		s.discovery(w, r, segs)
		return
	}
	if !s.authorized(r) {
		w.Header().Set("WWW-Authenticate", `Bearer realm="ferry-sandbox"`)
		s.writeErr(w, errf(http.StatusUnauthorized, "", "missing or invalid bearer token"))
		return
	}
	if e := checkContentType(r); e != nil {
		s.writeErr(w, e)
		return
	}
	switch {
	case segs[0] == "Users" && len(segs) == 1:
		switch r.Method {
		case http.MethodGet:
			s.handleList(w, r, nil)
		case http.MethodPost:
			s.handleCreate(w, r)
		default:
			s.writeErr(w, errf(http.StatusMethodNotAllowed, "", "%s /Users is not supported", r.Method))
		}
	case segs[0] == "Users" && len(segs) == 2 && segs[1] == ".search":
		if r.Method != http.MethodPost {
			s.writeErr(w, errf(http.StatusMethodNotAllowed, "", "/.search takes POST"))
			return
		}
		body, e := s.readObject(w, r, s.cfg.MaxBodyBytes)
		if e != nil {
			s.writeErr(w, e)
			return
		}
		s.handleList(w, r, body)
	case segs[0] == "Users" && len(segs) == 2:
		s.handleUser(w, r, segs[1])
	case segs[0] == "Groups" && len(segs) <= 2:
		s.serveGroups(w, r, segs)
	case segs[0] == "Bulk" && len(segs) == 1:
		if r.Method != http.MethodPost {
			s.writeErr(w, errf(http.StatusMethodNotAllowed, "", "/Bulk takes POST"))
			return
		}
		s.handleBulk(w, r)
	case segs[0] == "Me":
		s.writeErr(w, errf(http.StatusNotImplemented, "", "/Me is not supported"))
	default:
		s.writeErr(w, errf(http.StatusNotFound, "", "no SCIM endpoint at %s", path))
	}
}

func (s *Server) authorized(r *http.Request) bool {
	h := r.Header.Get("Authorization")
	const p = "bearer "
	if len(h) < len(p) || !strings.EqualFold(h[:len(p)], p) {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(strings.TrimSpace(h[len(p):])), []byte(s.cfg.Token)) == 1
}

// checkContentType accepts application/scim+json and application/json bodies (and bodies
// sent without a type); anything else is 415.
func checkContentType(r *http.Request) *Error {
	ct := r.Header.Get("Content-Type")
	if ct == "" || r.Method == http.MethodGet || r.Method == http.MethodDelete {
		return nil
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err == nil && (mt == MediaType || mt == "application/json") {
		return nil
	}
	return errf(http.StatusUnsupportedMediaType, "", "Content-Type %q is not %s", ct, MediaType)
}

// readBody reads at most limit bytes; more is 413.
func readBody(w http.ResponseWriter, r *http.Request, limit int) ([]byte, *Error) {
	if r.ContentLength > int64(limit) {
		return nil, errf(http.StatusRequestEntityTooLarge, "", "request body of %d bytes exceeds %d", r.ContentLength, limit)
	}
	b, err := io.ReadAll(io.LimitReader(r.Body, int64(limit)+1))
	if err != nil {
		return nil, errf(http.StatusBadRequest, errInvalidSyntax, "reading the request body: %v", err)
	}
	if len(b) > limit {
		return nil, errf(http.StatusRequestEntityTooLarge, "", "request body exceeds %d bytes", limit)
	}
	return b, nil
}

func (s *Server) readObject(w http.ResponseWriter, r *http.Request, limit int) (map[string]any, *Error) {
	b, e := readBody(w, r, limit)
	if e != nil {
		return nil, e
	}
	return decodeObject(b)
}

func decodeObject(b []byte) (map[string]any, *Error) {
	if !utf8.Valid(b) {
		return nil, errf(http.StatusBadRequest, errInvalidSyntax, "request body is not valid UTF-8")
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, errf(http.StatusBadRequest, errInvalidSyntax, "request body is not valid JSON: %v", err)
	}
	if m == nil {
		return nil, errf(http.StatusBadRequest, errInvalidSyntax, "request body must be a JSON object")
	}
	return m, nil
}

func (s *Server) writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"schemas":["`+ErrorURN+`"],"status":"500","detail":"encoding the answer failed"}`)
	}
	w.Header().Set("Content-Type", MediaType)
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

func (s *Server) writeErr(w http.ResponseWriter, e *Error) { s.writeJSON(w, e.Status, e.body()) }

// baseURL is the absolute URL of the SCIM root as the client reached it.
func (s *Server) baseURL(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host + s.cfg.BasePath
}
