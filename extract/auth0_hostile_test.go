package extract

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/ferry-dev/ferry/internal/auth0export"
	"github.com/ferry-dev/ferry/internal/core"
	"github.com/ferry-dev/ferry/internal/httpx"
	sb "github.com/ferry-dev/ferry/internal/sandbox/auth0"
	"github.com/ferry-dev/ferry/internal/sandbox/faults"
)

func TestAuth0CheckLocation(t *testing.T) {
	real := &Auth0{root: "https://acme.eu.auth0.com"}
	box := &Auth0{root: "http://127.0.0.1:5000", overridden: true}
	for _, tc := range []struct {
		a   *Auth0
		loc string
		ok  bool
	}{
		{real, "https://user-exports.auth0.com/job_1/acme.json.gz?Expires=1&Signature=x", true},
		{real, "https://user-exports.eu.auth0.com/job_1/acme.json.gz", true},
		{real, "https://acme.eu.auth0.com/job_1/acme.json.gz", true},
		{real, "https://ACME.eu.auth0.com/job_1/acme.json.gz", true},
		{real, "http://user-exports.auth0.com/job_1/acme.json.gz", false},
		{real, "https://user-exports.auth0.com.evil.example/job_1", false},
		{real, "https://user-exports.auth0.com:8443/job_1", false},
		{real, "https://evil.example/job_1/acme.json.gz", false},
		{real, "https://acme.eu.auth0.com:8443/job_1", false},
		{real, "https://u:p@acme.eu.auth0.com/job_1", false},
		{real, "ftp://acme.eu.auth0.com/job_1", false},
		{real, "/job_1/acme.json.gz", false},
		{real, "http://127.0.0.1/job_1", false},
		{box, "http://127.0.0.1:5000/user-exports/job_1/sandbox.json.gz", true},
		{box, "http://127.0.0.1:6000/user-exports/job_1/sandbox.json.gz", false},
		{box, "http://localhost:5000/user-exports/job_1/sandbox.json.gz", false},
		{box, "https://user-exports.auth0.com/job_1/sandbox.json.gz", false},
		{box, "http://10.0.0.1:5000/job_1", false},
	} {
		_, err := auth0export.CheckLocation(tc.loc, tc.a.root, tc.a.overridden)
		err = hostile(err) // as streamExport sees it
		if (err == nil) != tc.ok {
			t.Errorf("%s from %s: err = %v, want ok=%v", tc.loc, tc.a.root, err, tc.ok)
		}
		if err != nil && !errors.Is(err, ErrHostile) {
			t.Errorf("%s: err %v does not match ErrHostile", tc.loc, err)
		}
		if err != nil && strings.Contains(err.Error(), "Signature=x") {
			t.Errorf("error quotes the signature: %v", err)
		}
	}
}

// rewriting wraps h and lets edit change the body of answers to GET requests on paths
// with the given prefix.
func rewriting(h http.Handler, prefix string, edit func(path string, body []byte) []byte) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet || !strings.HasPrefix(r.URL.Path, prefix) {
			h.ServeHTTP(w, r)
			return
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		body := edit(r.URL.Path, rec.Body.Bytes())
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.Header().Del("Content-Length")
		w.WriteHeader(rec.Code)
		_, _ = w.Write(body)
	})
}

// hostileAuth0 serves a sandbox tenant through a rewriting middleware.
func hostileAuth0(t *testing.T, users int, prefix string, edit func(path string, body []byte) []byte) *auth0Env {
	t.Helper()
	clk := newFakeClock()
	s, err := sb.New(sb.Config{Users: users, Seed: 1, Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	srv := serve(t, rewriting(s.Handler(), prefix, edit), faults.Config{})
	return &auth0Env{sb: s, srv: srv.URL, clock: clk, rec: &recorder{next: http.DefaultTransport, now: clk.Now}}
}

func TestAuth0ForeignLocation(t *testing.T) {
	var e *auth0Env
	e = hostileAuth0(t, 1200, "/api/v2/jobs/", func(_ string, b []byte) []byte {
		host := strings.TrimPrefix(e.srv, "http://")
		return bytes.ReplaceAll(b, []byte(host), []byte("evil.example"))
	})
	_, err := collect(context.Background(), e.source(t, "", nil))
	if !errors.Is(err, ErrHostile) {
		t.Fatalf("err = %v, want ErrHostile", err)
	}
	for _, x := range e.rec.exchanges() {
		if strings.Contains(x.path, "user-exports/") {
			t.Errorf("downloaded %s despite the refusal", x.path)
		}
	}
}

func TestAuth0GzipBomb(t *testing.T) {
	e := startAuth0(t, sb.Config{Users: 1100, Seed: 1}, faults.Config{})
	src := e.source(t, "", nil)
	src.maxInflate = 64 << 10
	n := 0
	err := src.Users(context.Background(), func(core.Record) error { n++; return nil })
	if !errors.Is(err, ErrDecompressedTooLarge) {
		t.Fatalf("err = %v, want ErrDecompressedTooLarge", err)
	}
	if n == 0 || n >= 1100 {
		t.Errorf("%d records before the cap", n)
	}
	if countPosts(e.rec) != 1 {
		t.Errorf("%d export jobs: the cap must not cause retries", countPosts(e.rec))
	}
}

// TestAuth0SamePageForever serves the first page whatever page is asked for: the source
// must stop with an error instead of emitting the same users again.
func TestAuth0SamePageForever(t *testing.T) {
	e := hostileAuth0(t, 400, "/api/v2/users", nil)
	e.srv = serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/api/v2/users" {
			q := r.URL.Query()
			q.Set("page", "0")
			r.URL.RawQuery = q.Encode()
		}
		e.sb.Handler().ServeHTTP(w, r)
	}), faults.Config{}).URL
	recs, err := collect(context.Background(), e.source(t, "", nil))
	if !errors.Is(err, ErrHostile) {
		t.Fatalf("err = %v, want ErrHostile", err)
	}
	if len(recs) != 100 {
		t.Errorf("%d records, want the first page's 100 once", len(recs))
	}
}

// TestAuth0CheckpointLoop answers the same "next" checkpoint forever on role members.
func TestAuth0CheckpointLoop(t *testing.T) {
	e := hostileAuth0(t, 300, "/api/v2/roles/", nil)
	e.srv = serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/users") && strings.HasPrefix(r.URL.Path, "/api/v2/roles/") {
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(`{"users":[{"user_id":"auth0|x"}],"next":"same"}`))
			return
		}
		e.sb.Handler().ServeHTTP(w, r)
	}), faults.Config{}).URL
	_, err := collect(context.Background(), e.source(t, "", nil))
	if !errors.Is(err, ErrHostile) {
		t.Fatalf("err = %v, want ErrHostile", err)
	}
}

// TestAuth0PerPageCap covers servers that allow only 50 users a page, silently (answering
// 50 of the 100 asked for) or with a 400 (Auth0's public cloud documents per_page <= 50).
func TestAuth0PerPageCap(t *testing.T) {
	for _, loud := range []bool{false, true} {
		e := hostileAuth0(t, 730, "/api/v2/users", nil)
		e.srv = serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/api/v2/users" {
				q := r.URL.Query()
				if q.Get("per_page") == "100" {
					if loud {
						w.Header().Set("Content-Type", "application/json")
						w.WriteHeader(http.StatusBadRequest)
						_, _ = w.Write([]byte(`{"statusCode":400,"error":"Bad Request","message":"Query validation error: 'Value 100 is greater than maximum 50' on property per_page.","errorCode":"invalid_query_string"}`))
						return
					}
					q.Set("per_page", "50")
					r.URL.RawQuery = q.Encode()
				}
			}
			e.sb.Handler().ServeHTTP(w, r)
		}), faults.Config{}).URL
		recs, err := collect(context.Background(), e.source(t, "", nil))
		if err != nil {
			t.Fatalf("loud=%v: %v", loud, err)
		}
		checkAuth0Export(t, e, recs)
	}
}

// stallTransport advances the clock by d before the first n downloads of an export file:
// the signed location has expired by the time it is used.
type stallTransport struct {
	next  http.RoundTripper
	clock *fakeClock
	d     time.Duration
	n     int
}

func (s *stallTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if strings.Contains(r.URL.Path, "/user-exports/") && s.n > 0 {
		s.n--
		s.clock.Advance(s.d)
	}
	return s.next.RoundTrip(r)
}

func TestAuth0ExpiredLocation(t *testing.T) {
	for _, stalls := range []int{1, 3, exportRestarts + 1} {
		e := startAuth0(t, sb.Config{Users: 1200, Seed: 6}, faults.Config{})
		e.rec.next = &stallTransport{next: http.DefaultTransport, clock: e.clock, d: 2 * time.Minute, n: stalls}
		recs, err := collect(context.Background(), e.source(t, "", nil))
		if stalls > exportRestarts {
			if !errors.Is(err, httpx.ErrForbidden) {
				t.Errorf("%d expired locations: err = %v, want the 403", stalls, err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%d expired locations: %v", stalls, err)
		}
		checkAuth0Export(t, e, recs)
		if n := countPosts(e.rec); n != 1 {
			t.Errorf("%d export jobs: an expired location needs a fresh location, not a new job", n)
		}
	}
}
