package httpx

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/segmentio/encoding/json"
)

// countingSource hands out "tok-N", moving to the next one after each Invalidate.
type countingSource struct {
	mu          sync.Mutex
	n           int
	invalidated []string
}

func (s *countingSource) Token(context.Context) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return fmt.Sprintf("tok-%d", s.n), nil
}

func (s *countingSource) Invalidate(tok string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.invalidated = append(s.invalidated, tok)
	s.n++
}

func Test401RefreshesOnce(t *testing.T) {
	t.Run("stale token replaced", func(t *testing.T) {
		src := &countingSource{}
		var hits atomic.Int32
		c, _, _ := newTestClient(t, func(w http.ResponseWriter, r *http.Request) {
			hits.Add(1)
			if r.Header.Get("Authorization") != "Bearer tok-1" {
				w.WriteHeader(http.StatusUnauthorized)
				return
			}
			io.WriteString(w, "{}")
		}, func(c *Config) { c.Token = src; c.MaxRetries = -1 })
		if _, err := c.Do(context.Background(), &Request{Method: "POST", Path: "/x", Body: []byte("{}")}); err != nil {
			t.Fatal(err)
		}
		if hits.Load() != 2 || len(src.invalidated) != 1 || src.invalidated[0] != "tok-0" {
			t.Fatalf("hits %d invalidated %v", hits.Load(), src.invalidated)
		}
	})
	t.Run("refused again is final", func(t *testing.T) {
		src := &countingSource{}
		var hits atomic.Int32
		c, _, _ := newTestClient(t, func(w http.ResponseWriter, r *http.Request) {
			hits.Add(1)
			w.WriteHeader(http.StatusUnauthorized)
		}, func(c *Config) { c.Token = src })
		_, err := c.Do(context.Background(), &Request{Path: "/x"})
		if !errors.Is(err, ErrUnauthorized) || hits.Load() != 2 || len(src.invalidated) != 1 {
			t.Fatalf("err %v hits %d invalidated %v", err, hits.Load(), src.invalidated)
		}
	})
	t.Run("static token not retried", func(t *testing.T) {
		var hits atomic.Int32
		c, _, _ := newTestClient(t, func(w http.ResponseWriter, r *http.Request) {
			hits.Add(1)
			w.WriteHeader(http.StatusUnauthorized)
		}, func(c *Config) { c.Token = StaticToken("static-token") })
		if _, err := c.Do(context.Background(), &Request{Path: "/x"}); !errors.Is(err, ErrUnauthorized) || hits.Load() != 1 {
			t.Fatalf("err %v hits %d", err, hits.Load())
		}
	})
}

// tokenServer is an OAuth token endpoint that counts its hits, can hold them at a gate
// (to make concurrent callers overlap), and issues tok-1, tok-2, ...
type tokenServer struct {
	hits  atomic.Int32
	gate  chan struct{}
	ttl   int
	bodyF func(r *http.Request) // inspects each request
	srv   *httptest.Server
}

func newTokenServer(t *testing.T, ttl int) *tokenServer {
	ts := &tokenServer{ttl: ttl}
	ts.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := ts.hits.Add(1)
		if ts.bodyF != nil {
			ts.bodyF(r)
		}
		if ts.gate != nil {
			<-ts.gate
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"access_token":"tok-%d","token_type":"Bearer","expires_in":%d}`, n, ts.ttl)
	}))
	t.Cleanup(ts.srv.Close)
	return ts
}

func TestAuth0ClientCredentials(t *testing.T) {
	ts := newTokenServer(t, 100)
	var got map[string]string
	var ctype string
	ts.bodyF = func(r *http.Request) {
		if got == nil {
			b, _ := io.ReadAll(r.Body)
			json.Unmarshal(b, &got)
			ctype = r.Header.Get("Content-Type")
		}
	}
	clk := newFakeClock()
	src := &Auth0ClientCredentials{TokenURL: ts.srv.URL + "/oauth/token", ClientID: "cid", ClientSecret: "csecret", Now: clk.Now}
	ctx := context.Background()

	// Many concurrent first callers share one fetch.
	ts.gate = make(chan struct{})
	const callers = 32
	var wg, started sync.WaitGroup
	toks := make([]string, callers)
	for i := range callers {
		wg.Add(1)
		started.Add(1)
		go func() {
			defer wg.Done()
			started.Done()
			toks[i], _ = src.Token(ctx)
		}()
	}
	started.Wait()
	time.Sleep(20 * time.Millisecond) // let the callers pile up on the in-flight fetch (not an assertion)
	close(ts.gate)
	wg.Wait()
	ts.gate = nil
	if ts.hits.Load() != 1 {
		t.Fatalf("token endpoint hits = %d, want 1 (single-flight)", ts.hits.Load())
	}
	for _, tok := range toks {
		if tok != "tok-1" {
			t.Fatalf("tokens %v", toks)
		}
	}
	want := map[string]string{"grant_type": "client_credentials", "client_id": "cid", "client_secret": "csecret",
		"audience": ts.srv.URL + "/api/v2/"}
	if fmt.Sprint(got) != fmt.Sprint(want) || ctype != "application/json" {
		t.Fatalf("token request %v (%s), want %v", got, ctype, want)
	}

	// Cached until the refresh point: lifetime 100 s, margin min(max(20 s, 60 s), 50 s) = 50 s.
	clk.Advance(49 * time.Second)
	if tok, _ := src.Token(ctx); tok != "tok-1" || ts.hits.Load() != 1 {
		t.Fatalf("at 49 s: %s, hits %d", tok, ts.hits.Load())
	}
	clk.Advance(2 * time.Second)
	var wg2 sync.WaitGroup
	for range callers {
		wg2.Add(1)
		go func() { defer wg2.Done(); src.Token(ctx) }()
	}
	wg2.Wait()
	if tok, _ := src.Token(ctx); tok != "tok-2" || ts.hits.Load() != 2 {
		t.Fatalf("at 51 s: %s, hits %d, want tok-2 after one refresh", tok, ts.hits.Load())
	}

	// Invalidate of a token no longer cached is a no-op; of the current one forces a fetch.
	src.Invalidate("tok-1")
	if tok, _ := src.Token(ctx); tok != "tok-2" {
		t.Fatalf("stale invalidate changed the token: %s", tok)
	}
	src.Invalidate("tok-2")
	if tok, _ := src.Token(ctx); tok != "tok-3" {
		t.Fatalf("after invalidate: %s", tok)
	}
}

func TestTokenRefreshFailureKeepsValidToken(t *testing.T) {
	var fail atomic.Bool
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := hits.Add(1)
		if fail.Load() {
			w.WriteHeader(http.StatusBadRequest)
			io.WriteString(w, `{"errorCode":"BXNIM0415E","errorMessage":"Provided API key could not be found"}`)
			return
		}
		fmt.Fprintf(w, `{"access_token":"tok-%d","expires_in":3600,"expiration":1700003600}`, n)
	}))
	defer srv.Close()
	clk := newFakeClock()
	src := &IBMIAM{URL: srv.URL, APIKey: "key-123456", Now: clk.Now}
	ctx := context.Background()
	if tok, err := src.Token(ctx); tok != "tok-1" || err != nil {
		t.Fatal(tok, err)
	}
	fail.Store(true)
	clk.Advance(3000 * time.Second) // past the refresh point (2880 s), before expiry
	if tok, err := src.Token(ctx); tok != "tok-1" || err != nil {
		t.Fatalf("refresh failure with a valid token: %q %v", tok, err)
	}
	clk.Advance(700 * time.Second) // expired
	_, err := src.Token(ctx)
	if err == nil || !strings.Contains(err.Error(), "BXNIM0415E") || strings.Contains(err.Error(), "key-123456") {
		t.Fatalf("expired and refresh failing: %v", err)
	}
}

func TestIBMIAMRequest(t *testing.T) {
	var form map[string][]string
	var ctype, accept string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.ParseForm()
		form, ctype, accept = r.PostForm, r.Header.Get("Content-Type"), r.Header.Get("Accept")
		io.WriteString(w, `{"access_token":"iam-tok","refresh_token":"not used","token_type":"Bearer","expires_in":3600,"expiration":1700003600,"scope":"ibm openid"}`)
	}))
	defer srv.Close()
	src := &IBMIAM{URL: srv.URL + "/identity/token", APIKey: "my/api+key"}
	tok, err := src.Token(context.Background())
	if err != nil || tok != "iam-tok" {
		t.Fatal(tok, err)
	}
	if fmt.Sprint(form) != "map[apikey:[my/api+key] grant_type:[urn:ibm:params:oauth:grant-type:apikey]]" ||
		ctype != "application/x-www-form-urlencoded" || accept != "application/json" {
		t.Fatalf("form %v ctype %s accept %s", form, ctype, accept)
	}
}

func TestTokenTTL(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	cases := []struct {
		in   string
		want time.Duration
	}{
		{`{"access_token":"a","expires_in":86400}`, 24 * time.Hour},
		{`{"access_token":"a","expiration":1700003600}`, time.Hour},
		{`{"access_token":"a"}`, defaultTTL},
		{`{"access_token":"a","expires_in":1e300}`, 30 * 24 * time.Hour},
	}
	for _, tc := range cases {
		var r tokenResponse
		if err := json.Unmarshal([]byte(tc.in), &r); err != nil {
			t.Fatal(err)
		}
		if got := r.ttl(now); got != tc.want {
			t.Errorf("%s: ttl %s, want %s", tc.in, got, tc.want)
		}
	}
	for _, ttl := range []time.Duration{30 * time.Second, time.Hour, 24 * time.Hour} {
		m := refreshMargin(ttl)
		if m <= 0 || m > ttl/2 || (ttl >= 2*time.Minute && m < time.Minute) {
			t.Errorf("refreshMargin(%s) = %s", ttl, m)
		}
	}
}
