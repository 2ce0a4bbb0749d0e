package httpx

import (
	"context"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/ferry-dev/ferry/internal/core"
)

func TestRetry503ThenSuccess(t *testing.T) {
	var hits atomic.Int32
	c, clk, _ := newTestClient(t, func(w http.ResponseWriter, r *http.Request) {
		if hits.Add(1) <= 2 {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		io.WriteString(w, `{"ok":true}`)
	}, nil)
	var out struct{ OK bool }
	if err := c.GetJSON(context.Background(), "/users", url.Values{"page": {"0"}}, &out); err != nil {
		t.Fatal(err)
	}
	if !out.OK || hits.Load() != 3 {
		t.Fatalf("ok=%v hits=%d, want true 3", out.OK, hits.Load())
	}
	for i, d := range clk.Sleeps() {
		// full jitter: attempt i waits at most base·2^i
		if d < 0 || d > backoffBase<<i {
			t.Errorf("backoff %d = %s, want within [0, %s]", i, d, backoffBase<<i)
		}
	}
}

func TestRetryAfterHonoured(t *testing.T) {
	cases := []struct {
		name   string
		status int
		header func(now time.Time) http.Header
		want   time.Duration
	}{
		{"seconds", 429, func(time.Time) http.Header { return http.Header{"Retry-After": {"7"}} }, 7 * time.Second},
		{"http-date", 503, func(now time.Time) http.Header {
			return http.Header{"Retry-After": {now.Add(12 * time.Second).UTC().Format(http.TimeFormat)}}
		}, 12 * time.Second},
		{"x-ratelimit-reset", 429, func(now time.Time) http.Header {
			return http.Header{"X-Ratelimit-Reset": {itoa(now.Unix() + 20)}, "X-Ratelimit-Remaining": {"0"}}
		}, 20 * time.Second},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var clk *fakeClock
			var times []time.Time
			c, clk2, _ := newTestClient(t, func(w http.ResponseWriter, r *http.Request) {
				times = append(times, clk.Now())
				if len(times) == 1 {
					for k, v := range tc.header(clk.Now()) {
						w.Header()[k] = v
					}
					w.WriteHeader(tc.status)
					return
				}
				io.WriteString(w, "{}")
			}, nil)
			clk = clk2
			if _, err := c.Do(context.Background(), &Request{Path: "/x"}); err != nil {
				t.Fatal(err)
			}
			if len(times) != 2 {
				t.Fatalf("hits = %d, want 2", len(times))
			}
			if gap := times[1].Sub(times[0]); gap < tc.want {
				t.Errorf("second request %s after the first, want >= %s", gap, tc.want)
			}
		})
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func TestRetryAfterBeyondMaxWaitGivesUp(t *testing.T) {
	var hits atomic.Int32
	c, _, _ := newTestClient(t, func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.Header().Set("Retry-After", "3600")
		w.WriteHeader(http.StatusTooManyRequests)
	}, nil)
	_, err := c.Do(context.Background(), &Request{Path: "/x"})
	var se *StatusError
	if !errors.As(err, &se) || !errors.Is(err, ErrRateLimited) || se.RetryAfter != time.Hour {
		t.Fatalf("err = %v, want a 429 StatusError with RetryAfter 1h", err)
	}
	if hits.Load() != 1 {
		t.Errorf("hits = %d, want 1", hits.Load())
	}
}

func TestRateLimitedAfterRetriesExhausted(t *testing.T) {
	var hits atomic.Int32
	c, _, _ := newTestClient(t, func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.WriteHeader(http.StatusTooManyRequests)
	}, func(c *Config) { c.MaxRetries = 3 })
	_, err := c.Do(context.Background(), &Request{Path: "/x"})
	if !errors.Is(err, ErrRateLimited) {
		t.Fatalf("err = %v, want ErrRateLimited", err)
	}
	if hits.Load() != 4 {
		t.Errorf("hits = %d, want 4", hits.Load())
	}
}

func TestRetryPolicyByIdempotency(t *testing.T) {
	cases := []struct {
		name     string
		method   string
		idem     bool
		status   int
		header   http.Header
		wantHits int32
	}{
		{"POST 500 not retried", "POST", false, 500, nil, 1},
		{"POST 502 not retried", "POST", false, 502, nil, 1},
		{"POST 503 without Retry-After not retried", "POST", false, 503, nil, 1},
		{"POST 503 with Retry-After retried", "POST", false, 503, http.Header{"Retry-After": {"1"}}, 2},
		{"POST 429 retried", "POST", false, 429, nil, 2},
		{"PATCH 500 not retried", "PATCH", false, 500, nil, 1},
		{"idempotent POST 500 retried", "POST", true, 500, nil, 2},
		{"GET 504 retried", "GET", false, 504, nil, 2},
		{"PUT 500 retried", "PUT", false, 500, nil, 2},
		{"GET 400 not retried", "GET", false, 400, nil, 1},
		{"GET 404 not retried", "GET", false, 404, nil, 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var hits atomic.Int32
			c, _, _ := newTestClient(t, func(w http.ResponseWriter, r *http.Request) {
				if hits.Add(1) == 1 {
					for k, v := range tc.header {
						w.Header()[k] = v
					}
					w.WriteHeader(tc.status)
					return
				}
				io.WriteString(w, "{}")
			}, nil)
			_, err := c.Do(context.Background(), &Request{Method: tc.method, Path: "/x", Body: []byte(`{}`), Idempotent: tc.idem})
			if hits.Load() != tc.wantHits {
				t.Fatalf("hits = %d, want %d (err %v)", hits.Load(), tc.wantHits, err)
			}
			if (tc.wantHits == 1) != (err != nil) {
				t.Fatalf("err = %v", err)
			}
		})
	}
}

func TestStatusSentinels(t *testing.T) {
	cases := []struct {
		status int
		want   error
	}{
		{401, ErrUnauthorized}, {403, ErrForbidden}, {404, ErrNotFound}, {409, ErrConflict},
		{412, ErrPreconditionFailed}, {413, ErrTooLarge},
	}
	for _, tc := range cases {
		c, _, _ := newTestClient(t, func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(tc.status)
			io.WriteString(w, `{"detail":"line one\nline two"}`)
		}, func(c *Config) { c.Token = StaticToken("tok-123456") })
		_, err := c.Do(context.Background(), &Request{Path: "/x"})
		var se *StatusError
		if !errors.Is(err, tc.want) || !errors.As(err, &se) || se.Status != tc.status {
			t.Errorf("%d: err = %v, want %v", tc.status, err, tc.want)
			continue
		}
		if strings.Contains(se.Body, "\n") || !strings.Contains(se.Body, "line two") {
			t.Errorf("%d: body snippet %q", tc.status, se.Body)
		}
	}
	// AllowStatus turns a status into a plain response, without retries.
	var hits atomic.Int32
	c, _, _ := newTestClient(t, func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.WriteHeader(http.StatusNotFound)
	}, nil)
	resp, err := c.Do(context.Background(), &Request{Path: "/x", AllowStatus: []int{404}})
	if err != nil || resp.Status != 404 || hits.Load() != 1 {
		t.Fatalf("resp %+v err %v hits %d", resp, err, hits.Load())
	}
}

func TestNetworkErrors(t *testing.T) {
	t.Run("connection dropped: GET retried", func(t *testing.T) {
		var hits atomic.Int32
		c, _, _ := newTestClient(t, func(w http.ResponseWriter, r *http.Request) {
			if hits.Add(1) == 1 {
				panic(http.ErrAbortHandler) // closes the connection without a response
			}
			io.WriteString(w, "{}")
		}, nil)
		if _, err := c.Do(context.Background(), &Request{Path: "/x"}); err != nil {
			t.Fatal(err)
		}
		if hits.Load() != 2 {
			t.Errorf("hits = %d, want 2", hits.Load())
		}
	})
	t.Run("connection dropped after the request: POST not retried", func(t *testing.T) {
		var hits atomic.Int32
		c, _, _ := newTestClient(t, func(w http.ResponseWriter, r *http.Request) {
			hits.Add(1)
			io.Copy(io.Discard, r.Body)
			panic(http.ErrAbortHandler)
		}, nil)
		_, err := c.Do(context.Background(), &Request{Method: "POST", Path: "/x", Body: []byte(`{"a":1}`)})
		if err == nil || hits.Load() != 1 {
			t.Fatalf("err %v hits %d, want an error after 1 hit", err, hits.Load())
		}
	})
	t.Run("body cut short: GET retried", func(t *testing.T) {
		var hits atomic.Int32
		c, _, _ := newTestClient(t, func(w http.ResponseWriter, r *http.Request) {
			if hits.Add(1) == 1 {
				w.Header().Set("Content-Length", "100")
				io.WriteString(w, `{"users":[`)
				w.(http.Flusher).Flush()
				panic(http.ErrAbortHandler)
			}
			io.WriteString(w, "{}")
		}, nil)
		resp, err := c.Do(context.Background(), &Request{Path: "/x"})
		if err != nil || string(resp.Body) != "{}" || hits.Load() != 2 {
			t.Fatalf("resp %v err %v hits %d", resp, err, hits.Load())
		}
	})
	t.Run("dial refused: POST retried (never sent)", func(t *testing.T) {
		var hits, dials atomic.Int32
		var d net.Dialer
		tr := &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			if dials.Add(1) == 1 {
				return nil, &net.OpError{Op: "dial", Net: network, Err: syscall.ECONNREFUSED}
			}
			return d.DialContext(ctx, network, addr)
		}}
		c, _, _ := newTestClient(t, func(w http.ResponseWriter, r *http.Request) {
			hits.Add(1)
			io.WriteString(w, "{}")
		}, func(c *Config) { c.Transport = tr })
		if _, err := c.Do(context.Background(), &Request{Method: "POST", Path: "/x", Body: []byte("{}")}); err != nil {
			t.Fatal(err)
		}
		if hits.Load() != 1 || dials.Load() != 2 {
			t.Errorf("hits %d dials %d, want 1 and 2", hits.Load(), dials.Load())
		}
	})
	t.Run("retries exhausted", func(t *testing.T) {
		srv := httptest.NewServer(http.NotFoundHandler())
		addr := srv.URL
		srv.Close() // nothing listens there any more
		clk := newFakeClock()
		c, err := New(Config{BaseURL: addr, MaxRetries: 2, Now: clk.Now, Sleep: clk.Sleep})
		if err != nil {
			t.Fatal(err)
		}
		_, err = c.Do(context.Background(), &Request{Path: "/x"})
		if err == nil || !strings.Contains(err.Error(), "after 3 attempts") {
			t.Fatalf("err = %v", err)
		}
		if len(clk.Sleeps()) != 2 {
			t.Errorf("sleeps = %v, want 2", clk.Sleeps())
		}
	})
}

func TestContextCancelStopsWaiting(t *testing.T) {
	c, _, _ := newTestClient(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "60")
		w.WriteHeader(http.StatusServiceUnavailable)
	}, func(cfg *Config) {
		cfg.Sleep = Sleep // a real wait, cut short by the context
		cfg.Now = nil
	})
	ctx, cancel := context.WithCancel(context.Background())
	c.onRetry = func(RetryEvent) { cancel() }
	_, err := c.Do(ctx, &Request{Path: "/x"})
	if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "503") {
		t.Fatalf("err = %v, want context.Canceled naming the last 503", err)
	}
}

func TestBodyCap(t *testing.T) {
	big := strings.Repeat("x", 2048)
	cases := []struct {
		name    string
		handler http.HandlerFunc
	}{
		{"content-length", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, big) }},
		{"chunked", func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, big[:1000])
			w.(http.Flusher).Flush()
			io.WriteString(w, big[1000:])
		}},
		{"413", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusRequestEntityTooLarge) }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var hits atomic.Int32
			c, _, _ := newTestClient(t, func(w http.ResponseWriter, r *http.Request) {
				hits.Add(1)
				tc.handler(w, r)
			}, func(c *Config) { c.MaxBody = 1024 })
			_, err := c.Do(context.Background(), &Request{Path: "/x"})
			if !errors.Is(err, ErrTooLarge) {
				t.Fatalf("err = %v, want ErrTooLarge", err)
			}
			if hits.Load() != 1 {
				t.Errorf("hits = %d, want 1 (never retried)", hits.Load())
			}
		})
	}
	// exactly at the cap is fine
	c, _, _ := newTestClient(t, func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, big[:1024]) },
		func(c *Config) { c.MaxBody = 1024 })
	if resp, err := c.Do(context.Background(), &Request{Path: "/x"}); err != nil || len(resp.Body) != 1024 {
		t.Fatalf("at cap: %v", err)
	}
}

func TestInsecureRefused(t *testing.T) {
	for _, base := range []string{"http://example.com/api", "http://10.0.0.1", "ftp://127.0.0.1/", "http://127.0.0.1.example.com/"} {
		_, err := New(Config{BaseURL: base})
		if !errors.Is(err, ErrInsecure) || !errors.Is(err, core.ErrUsage) {
			t.Errorf("%s: err = %v, want ErrInsecure and core.ErrUsage", base, err)
		}
	}
	for _, base := range []string{"http://127.0.0.1:8080", "http://127.3.4.5", "http://[::1]:9/x", "http://localhost:1", "https://example.com"} {
		if _, err := New(Config{BaseURL: base}); err != nil {
			t.Errorf("%s: %v", base, err)
		}
	}
	if _, err := New(Config{BaseURL: "https://user:pw@example.com"}); !errors.Is(err, core.ErrUsage) || strings.Contains(err.Error(), "pw") {
		t.Errorf("credentials in URL: %v", err)
	}
	tr := newTransport()
	tr.TLSClientConfig.InsecureSkipVerify = true
	if _, err := New(Config{BaseURL: "https://example.com", Transport: tr}); !errors.Is(err, ErrInsecure) {
		t.Errorf("InsecureSkipVerify: %v", err)
	}

	// An absolute request URL and a redirect are held to the same rule.
	c, _, _ := newTestClient(t, func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "http://192.0.2.1/elsewhere", http.StatusFound)
	}, nil)
	if _, err := c.Do(context.Background(), &Request{Path: "http://192.0.2.1/x"}); !errors.Is(err, ErrInsecure) {
		t.Errorf("absolute http URL: %v", err)
	}
	if _, err := c.Do(context.Background(), &Request{Path: "/x"}); !errors.Is(err, ErrInsecure) {
		t.Errorf("redirect to http: %v", err)
	}
}

func TestTLSVerified(t *testing.T) {
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the handshake failure is the point
	srv.StartTLS()
	defer srv.Close()
	clk := newFakeClock()
	c, err := New(Config{BaseURL: srv.URL, Now: clk.Now, Sleep: clk.Sleep})
	if err != nil {
		t.Fatal(err)
	}
	// The test server's certificate is self-signed: the default transport must refuse it,
	// and not retry (a bad certificate does not get better).
	_, err = c.Do(context.Background(), &Request{Path: "/"})
	if err == nil || !strings.Contains(err.Error(), "certificate") || len(clk.Sleeps()) != 0 {
		t.Fatalf("err = %v, sleeps %v", err, clk.Sleeps())
	}
}

func TestTokenSentOnlyToBaseHost(t *testing.T) {
	var other atomic.Value
	elsewhere := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		other.Store(r.Header.Get("Authorization"))
	}))
	defer elsewhere.Close()
	var mine atomic.Value
	c, _, _ := newTestClient(t, func(w http.ResponseWriter, r *http.Request) {
		mine.Store(r.Header.Get("Authorization"))
	}, func(c *Config) { c.Token = StaticToken("tok-abcdef") })
	ctx := context.Background()
	if _, err := c.Do(ctx, &Request{Path: "/x"}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Do(ctx, &Request{Path: elsewhere.URL + "/signed?X-Amz-Signature=abc"}); err != nil {
		t.Fatal(err)
	}
	if mine.Load() != "Bearer tok-abcdef" || other.Load() != "" {
		t.Fatalf("own host got %q, other host got %q", mine.Load(), other.Load())
	}
}

func TestResolve(t *testing.T) {
	base, _ := url.Parse("https://h.example/management/v4/tenant?x=1")
	cases := []struct {
		path string
		q    url.Values
		want string
	}{
		{"/users", nil, "https://h.example/management/v4/tenant/users?x=1"},
		{"users/export?count=50", url.Values{"startIndex": {"1"}}, "https://h.example/management/v4/tenant/users/export?x=1&count=50&startIndex=1"},
		{"/users/" + url.PathEscape("auth0|12 3"), nil, "https://h.example/management/v4/tenant/users/auth0%7C12%203?x=1"},
		{"", nil, "https://h.example/management/v4/tenant?x=1"},
		{"https://s3.example/f.gz?sig=1", nil, "https://s3.example/f.gz?sig=1"},
	}
	for _, tc := range cases {
		u, err := resolve(base, tc.path, tc.q)
		if err != nil || u.String() != tc.want {
			t.Errorf("resolve(%q) = %v, %v; want %s", tc.path, u, err, tc.want)
		}
	}
}

func TestHeaders(t *testing.T) {
	var got http.Header
	c, _, _ := newTestClient(t, func(w http.ResponseWriter, r *http.Request) {
		got = r.Header.Clone()
		io.WriteString(w, `{"id":"1"}`)
	}, func(c *Config) { c.MediaType = "application/scim+json"; c.UserAgent = "ferry/test" })
	var out map[string]string
	if err := c.PostJSON(context.Background(), "/Users", map[string]string{"userName": "a"}, &out); err != nil {
		t.Fatal(err)
	}
	if got.Get("Content-Type") != "application/scim+json" || got.Get("Accept") != "application/scim+json" ||
		got.Get("User-Agent") != "ferry/test" || out["id"] != "1" {
		t.Fatalf("headers %v out %v", got, out)
	}
}

func TestDecodeError(t *testing.T) {
	c, _, _ := newTestClient(t, func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, `{"users":`) }, nil)
	var out struct{ Users []any }
	err := c.GetJSON(context.Background(), "/users", nil, &out)
	if err == nil || !strings.Contains(err.Error(), "decode 200 response") {
		t.Fatalf("err = %v", err)
	}
}

// Guard against a test that cannot fail: the fake clock really is what the client uses.
func TestFakeClockInUse(t *testing.T) {
	c, clk, _ := newTestClient(t, func(w http.ResponseWriter, r *http.Request) {}, nil)
	before := clk.Now()
	clk.Advance(time.Hour)
	if c.clk.now().Sub(before) != time.Hour {
		t.Fatal("client does not read the injected clock")
	}
}
