package appid

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/encoding/json"

	"github.com/ferry-dev/ferry/internal/sandbox/clock"
	"github.com/ferry-dev/ferry/internal/sandbox/faults"
)

var t0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

type harness struct {
	t     *testing.T
	srv   *Server
	url   string
	clk   *clock.Fake
	token string
	// tick is how far the fake clock moves before each management request, so that tests
	// making many requests stay under 50 per second; 0 freezes time.
	tick time.Duration
}

func newHarness(t *testing.T, cfg Config) *harness {
	t.Helper()
	clk := clock.NewFake(t0)
	cfg.Clock = clk
	cfg.APIKey = "test-api-key"
	cfg.TenantID = "tenant-1"
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(s.Handler())
	t.Cleanup(ts.Close)
	h := &harness{t: t, srv: s, url: ts.URL, clk: clk, tick: 25 * time.Millisecond}
	tok := h.tokenReq("test-api-key")
	if tok.status != 200 {
		t.Fatalf("token: %d %s", tok.status, tok.raw)
	}
	h.token = tok.body["access_token"].(string)
	return h
}

type reply struct {
	status int
	header http.Header
	body   map[string]any
	raw    []byte
}

func send(t *testing.T, req *http.Request) reply {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	r := reply{status: resp.StatusCode, header: resp.Header, raw: raw}
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &r.body); err != nil {
			t.Fatalf("not JSON: %s", raw)
		}
	}
	return r
}

func (h *harness) tokenReq(key string) reply {
	form := url.Values{"grant_type": {"urn:ibm:params:oauth:grant-type:apikey"}, "apikey": {key}}
	req, _ := http.NewRequest("POST", h.url+"/identity/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return send(h.t, req)
}

// do calls the management API of the tenant.
func (h *harness) do(method, path string, body any) reply {
	h.t.Helper()
	h.clk.Advance(h.tick)
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		enc, _ := json.Marshal(b)
		rd = bytes.NewReader(enc)
	}
	req, _ := http.NewRequest(method, h.url+"/management/v4/tenant-1"+path, rd)
	if h.token != "" {
		req.Header.Set("Authorization", "Bearer "+h.token)
	}
	req.Header.Set("Content-Type", "application/json")
	return send(h.t, req)
}

func (r reply) must(t *testing.T, status int) reply {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d: %s", r.status, status, r.raw)
	}
	return r
}

// appErr checks the management API error shape and returns its code.
func (r reply) appErr(t *testing.T, status int) string {
	t.Helper()
	r.must(t, status)
	if r.body["status"] != float64(status) || r.body["message"] == "" || r.body["error"] == nil {
		t.Fatalf("not an App ID error: %s", r.raw)
	}
	return r.body["code"].(string)
}

// genUser is the tests' deterministic generator of users/export items.
func genUser(i int) []byte {
	provider := []string{"google", "facebook", "saml"}[i%3]
	b, _ := json.Marshal(map[string]any{
		"id": fmt.Sprintf("orig-%04d", i), "name": fmt.Sprintf("User %d", i),
		"email": fmt.Sprintf("user%04d@example.com", i),
		"identities": []any{map[string]any{"provider": provider, "id": fmt.Sprint(100000 + i),
			"idpUserInfo": map[string]any{"email": fmt.Sprintf("user%04d@example.com", i)}}},
		"attributes": map[string]any{"n": i},
	})
	return b
}

func genCD(i int) json.RawMessage {
	b, _ := json.Marshal(map[string]any{
		"scimUser": map[string]any{"id": fmt.Sprintf("cd-%03d", i), "userName": fmt.Sprintf("cd%03d", i),
			"emails": []any{map[string]any{"value": fmt.Sprintf("cd%03d@example.com", i), "primary": true}}},
		"passwordHash": fmt.Sprintf("$2a$10$hash%03d", i), "passwordHashAlg": "bcrypt",
		"profile": map[string]any{"attributes": map[string]any{"i": i}},
	})
	return b
}

func fixture(t *testing.T, name string) []byte {
	b, err := os.ReadFile(filepath.Join("..", "..", "..", "fixtures", "sandbox", "appid", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func users(r reply) []map[string]any {
	arr, _ := r.body["users"].([]any)
	out := make([]map[string]any, len(arr))
	for i, x := range arr {
		out[i], _ = x.(map[string]any)
	}
	return out
}

func fakeFaultServer(t *testing.T, s *Server) string {
	cfg, err := faults.Parse("5xx=1,seed=1")
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(faults.New(s.Handler(), cfg, faults.Hooks{ErrorBody: ErrorBody}))
	t.Cleanup(ts.Close)
	return ts.URL
}
