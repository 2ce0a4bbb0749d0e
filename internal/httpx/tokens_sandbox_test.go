package httpx_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ferry-dev/ferry/internal/core"
	"github.com/ferry-dev/ferry/internal/httpx"
	"github.com/ferry-dev/ferry/internal/sandbox/appid"
	"github.com/ferry-dev/ferry/internal/sandbox/auth0"
	"github.com/ferry-dev/ferry/internal/sandbox/clock"
)

// These tests run ferry's token sources against the sandboxes' token endpoints, which answer
// as the real ones do (Auth0 POST /oauth/token: RFC 6749 §5.2 bodies such as 401
// {"error":"access_denied","error_description":"Unauthorized"} and 403 "Service not enabled
// within domain"; IBM IAM POST /identity/token: 400 {"errorCode":"BXNIM0415E",...}, see
// internal/sandbox/appid/FACTS.md). Time is a fake clock shared by client and server, so a
// run of hours takes no time.

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// spy counts the answers of a sandbox by kind.
type spy struct {
	h                     http.Handler
	tokens, unauthorized  atomic.Int32
	tokenPath             string
	lastTokenStatus       atomic.Int32
	apiCalls, apiFailures atomic.Int32
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) { r.status = code; r.ResponseWriter.WriteHeader(code) }

func (s *spy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rec := &statusRecorder{ResponseWriter: w, status: 200}
	s.h.ServeHTTP(rec, r)
	switch {
	case r.URL.Path == s.tokenPath:
		s.tokens.Add(1)
		s.lastTokenStatus.Store(int32(rec.status))
	case rec.status == http.StatusUnauthorized:
		s.unauthorized.Add(1)
		s.apiCalls.Add(1)
	default:
		s.apiCalls.Add(1)
		if rec.status >= 300 {
			s.apiFailures.Add(1)
		}
	}
}

func serve(t *testing.T, h http.Handler, tokenPath string) (*spy, string) {
	sp := &spy{h: h, tokenPath: tokenPath}
	ts := httptest.NewServer(sp)
	t.Cleanup(ts.Close)
	return sp, ts.URL
}

func newClient(t *testing.T, name, base string, tok httpx.TokenSource, now func() time.Time) *httpx.Client {
	t.Helper()
	c, err := httpx.New(httpx.Config{Name: name, BaseURL: base, Token: tok, Now: now, MaxRetries: -1,
		Sleep: func(context.Context, time.Duration) error { return nil }})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// bounds checks a refresh count over a run of span with tokens lasting ttl: at least one
// token per ttl (each was replaced before it expired) and at most one per refresh interval
// (ttl less the refresh margin, at least half the ttl), so never a token per request.
func bounds(t *testing.T, what string, got int32, span, ttl time.Duration) {
	t.Helper()
	least := int32(span/ttl) + 1
	most := int32(span/(ttl/2)) + 1
	if got < least || got > most {
		t.Errorf("%s: %d tokens over %s of %s tokens, want %d..%d", what, got, span, ttl, least, most)
	}
}

func auth0Tenant(t *testing.T, clk clock.Clock, ttl time.Duration) (*auth0.Server, *spy, string) {
	t.Helper()
	srv, err := auth0.New(auth0.Config{Users: 3, Seed: 1, Clock: clk, TokenTTL: ttl})
	if err != nil {
		t.Fatal(err)
	}
	sp, url := serve(t, srv.Handler(), "/oauth/token")
	return srv, sp, url
}

func auth0Grant(srv *auth0.Server, url string, now func() time.Time) *httpx.Auth0ClientCredentials {
	c := srv.Credentials()
	return &httpx.Auth0ClientCredentials{TokenURL: url + "/oauth/token", ClientID: c.ClientID,
		ClientSecret: c.ClientSecret, Audience: c.Audience, Now: now}
}

func TestAuth0TokenRefreshMidRun(t *testing.T) {
	clk := clock.NewFake(t0)
	const ttl = 10 * time.Minute
	srv, sp, url := auth0Tenant(t, clk, ttl)
	c := newClient(t, "auth0", url+"/api/v2/", auth0Grant(srv, url, clk.Now), clk.Now)
	const span = 95 * time.Minute
	for at := time.Duration(0); at <= span; at += 30 * time.Second {
		if err := c.GetJSON(context.Background(), "users", map[string][]string{"per_page": {"1"}}, nil); err != nil {
			t.Fatalf("at %s: %v", at, err)
		}
		clk.Advance(30 * time.Second)
	}
	if n := sp.unauthorized.Load(); n != 0 {
		t.Errorf("%d requests met an expired token: the token was not refreshed before expiry", n)
	}
	bounds(t, "auth0", sp.tokens.Load(), span, ttl)
}

func TestIAMTokenRefreshMidRun(t *testing.T) {
	clk := clock.NewFake(t0)
	srv, err := appid.New(appid.Config{TenantID: "t1", APIKey: "the-api-key", Clock: clk, TokenTTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	sp, url := serve(t, srv.Handler(), "/identity/token")
	iam := &httpx.IBMIAM{URL: url + "/identity/token", APIKey: "the-api-key", Now: clk.Now}
	c := newClient(t, "appid", url+"/management/v4/t1/", iam, clk.Now)
	const span = 5 * time.Hour
	for at := time.Duration(0); at <= span; at += 2 * time.Minute {
		if err := c.GetJSON(context.Background(), "roles", nil, nil); err != nil {
			t.Fatalf("at %s: %v", at, err)
		}
		clk.Advance(2 * time.Minute)
	}
	if n := sp.unauthorized.Load(); n != 0 {
		t.Errorf("%d requests met an expired IAM token", n)
	}
	bounds(t, "iam", sp.tokens.Load(), span, time.Hour)
}

// A token the server holds expired before the client thinks so (clock skew, a revoked
// grant) meets a 401; the client drops it, gets one new token and repeats the request once.
func TestTokenRefusedAfterExpiry(t *testing.T) {
	t.Run("auth0", func(t *testing.T) {
		server, client := clock.NewFake(t0), clock.NewFake(t0)
		srv, sp, url := auth0Tenant(t, server, time.Hour)
		c := newClient(t, "auth0", url+"/api/v2/", auth0Grant(srv, url, client.Now), client.Now)
		mustGet(t, c, "users")
		server.Advance(61 * time.Minute) // expired for the tenant, fresh for the client
		mustGet(t, c, "users")
		if sp.unauthorized.Load() != 1 || sp.tokens.Load() != 2 {
			t.Fatalf("401s %d, tokens %d: want one 401 answered by one refresh", sp.unauthorized.Load(), sp.tokens.Load())
		}
	})
	t.Run("iam", func(t *testing.T) {
		server, client := clock.NewFake(t0), clock.NewFake(t0)
		srv, err := appid.New(appid.Config{TenantID: "t1", APIKey: "k", Clock: server, TokenTTL: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		sp, url := serve(t, srv.Handler(), "/identity/token")
		c := newClient(t, "appid", url+"/management/v4/t1/", &httpx.IBMIAM{URL: url + "/identity/token", APIKey: "k", Now: client.Now}, client.Now)
		mustGet(t, c, "roles")
		server.Advance(61 * time.Minute)
		mustGet(t, c, "roles")
		if sp.unauthorized.Load() != 1 || sp.tokens.Load() != 2 {
			t.Fatalf("401s %d, tokens %d: want one 401 answered by one refresh", sp.unauthorized.Load(), sp.tokens.Load())
		}
	})
	t.Run("refused again is final", func(t *testing.T) {
		// A token for another tenant's API (wrong audience) is refused however fresh.
		clk := clock.NewFake(t0)
		a, _, aURL := auth0Tenant(t, clk, time.Hour)
		b, sp, bURL := auth0Tenant(t, clk, time.Hour)
		_ = b
		c := newClient(t, "auth0", bURL+"/api/v2/", auth0Grant(a, aURL, clk.Now), clk.Now)
		err := c.GetJSON(context.Background(), "users", nil, nil)
		if !errors.Is(err, httpx.ErrUnauthorized) || sp.unauthorized.Load() != 2 {
			t.Fatalf("err %v, 401s %d: want ErrUnauthorized after exactly one retry", err, sp.unauthorized.Load())
		}
	})
}

func mustGet(t *testing.T, c *httpx.Client, path string) {
	t.Helper()
	if err := c.GetJSON(context.Background(), path, nil, nil); err != nil {
		t.Fatal(err)
	}
}

// Grant errors reach the user as one clear error naming the token endpoint's own code and
// description, with no secret in it, and are not retried.
func TestGrantErrors(t *testing.T) {
	clk := clock.NewFake(t0)
	srv, sp, url := auth0Tenant(t, clk, time.Hour)
	good := srv.Credentials()
	for _, tc := range []struct {
		name               string
		id, secret, aud    string
		want               []string
		unauthorized403    error
		secretsNotInOutput []string
	}{
		{"wrong secret", good.ClientID, "wrong-secret-value", good.Audience,
			[]string{"401", "access_denied", "Unauthorized"}, httpx.ErrUnauthorized, []string{"wrong-secret-value"}},
		{"unknown client", "no-such-client-id", good.ClientSecret, good.Audience,
			[]string{"401", "access_denied"}, httpx.ErrUnauthorized, []string{good.ClientSecret}},
		{"wrong audience", good.ClientID, good.ClientSecret, "https://elsewhere.example/api/v2/",
			[]string{"403", "access_denied", "Service not enabled within domain"}, httpx.ErrForbidden, []string{good.ClientSecret}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := sp.tokens.Load()
			grant := &httpx.Auth0ClientCredentials{TokenURL: url + "/oauth/token", ClientID: tc.id,
				ClientSecret: tc.secret, Audience: tc.aud, Now: clk.Now}
			c := newClient(t, "auth0", url+"/api/v2/", grant, clk.Now)
			err := c.GetJSON(context.Background(), "users", nil, nil)
			if err == nil {
				t.Fatal("a bad grant reached the API")
			}
			t.Logf("the user sees: %v", err)
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
			for _, s := range tc.secretsNotInOutput {
				if strings.Contains(err.Error(), s) {
					t.Errorf("error shows a secret: %q", err)
				}
			}
			if !errors.Is(err, tc.unauthorized403) {
				t.Errorf("error %v is not %v", err, tc.unauthorized403)
			}
			if !errors.Is(err, core.ErrUsage) {
				t.Errorf("a refused grant is not a configuration error (exit 2): %v", err)
			}
			var ge *httpx.GrantError
			if !errors.As(err, &ge) || ge.Code != "access_denied" || ge.Grant != "client credentials" {
				t.Errorf("error %v is not a GrantError with Auth0's code", err)
			}
			if n := sp.tokens.Load() - before; n != 1 {
				t.Errorf("%d token requests for a refused grant, want 1 (no retry)", n)
			}
			if sp.apiCalls.Load() != 0 {
				t.Errorf("the API was called without a token")
			}
		})
	}
	t.Run("grant not allowed for the client", func(t *testing.T) {
		srv, err := auth0.New(auth0.Config{Users: 1, Clock: clk, NoClientCredentials: true})
		if err != nil {
			t.Fatal(err)
		}
		_, url := serve(t, srv.Handler(), "/oauth/token")
		c := newClient(t, "auth0", url+"/api/v2/", auth0Grant(srv, url, clk.Now), clk.Now)
		err = c.GetJSON(context.Background(), "users", nil, nil)
		var ge *httpx.GrantError
		if !errors.As(err, &ge) || ge.Code != "unauthorized_client" || ge.Err.Status != 403 ||
			!strings.Contains(err.Error(), "Grant type 'client_credentials' not allowed for the client.") || !errors.Is(err, httpx.ErrForbidden) {
			t.Fatalf("error %v", err)
		}
	})
	t.Run("iam unknown api key", func(t *testing.T) {
		srv, err := appid.New(appid.Config{TenantID: "t1", APIKey: "right-key", Clock: clk})
		if err != nil {
			t.Fatal(err)
		}
		isp, url := serve(t, srv.Handler(), "/identity/token")
		c := newClient(t, "appid", url+"/management/v4/t1/", &httpx.IBMIAM{URL: url + "/identity/token", APIKey: "wrong-api-key-value", Now: clk.Now}, clk.Now)
		err = c.GetJSON(context.Background(), "roles", nil, nil)
		if err == nil || !strings.Contains(err.Error(), "BXNIM0415E") || !strings.Contains(err.Error(), "Provided API key could not be found") {
			t.Fatalf("error %v does not carry IAM's code and message", err)
		}
		var ge *httpx.GrantError
		if !errors.As(err, &ge) || ge.Code != "BXNIM0415E" || ge.Grant != "API key" || !strings.Contains(err.Error(), "IBMCLOUD_API_KEY") {
			t.Errorf("error %v is not a GrantError with IAM's code and the setting to check", err)
		}
		if strings.Contains(err.Error(), "wrong-api-key-value") {
			t.Fatalf("error shows the API key: %v", err)
		}
		if isp.tokens.Load() != 1 || isp.apiCalls.Load() != 0 {
			t.Fatalf("token requests %d, API calls %d", isp.tokens.Load(), isp.apiCalls.Load())
		}
	})
}
