package scim

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/segmentio/encoding/json"

	"github.com/ferry-dev/ferry/internal/sandbox/clock"
)

var t0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

type harness struct {
	t   *testing.T
	srv *Server
	url string
	clk *clock.Fake
}

func newHarness(t *testing.T, cfg Config) *harness {
	t.Helper()
	clk := clock.NewFake(t0)
	if cfg.Clock == nil {
		cfg.Clock = clk
	}
	cfg.Token = "test-token"
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(s.Handler())
	t.Cleanup(ts.Close)
	return &harness{t: t, srv: s, url: ts.URL + cfg.BasePath, clk: clk}
}

type reply struct {
	status int
	header http.Header
	body   map[string]any
	raw    []byte
}

func (h *harness) do(method, path string, body any, hdr ...string) reply {
	h.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = bytes.NewBufferString(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		enc, err := json.Marshal(b)
		if err != nil {
			h.t.Fatal(err)
		}
		rd = bytes.NewReader(enc)
	}
	req, err := http.NewRequest(method, h.url+path, rd)
	if err != nil {
		h.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer test-token")
	if rd != nil {
		req.Header.Set("Content-Type", MediaType)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		if hdr[i+1] == "" {
			req.Header.Del(hdr[i])
		} else {
			req.Header.Set(hdr[i], hdr[i+1])
		}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	rep := reply{status: resp.StatusCode, header: resp.Header, raw: raw}
	if len(raw) > 0 {
		if resp.Header.Get("Content-Type") != MediaType {
			h.t.Fatalf("%s %s: Content-Type %q", method, path, resp.Header.Get("Content-Type"))
		}
		if err := json.Unmarshal(raw, &rep.body); err != nil {
			h.t.Fatalf("%s %s: answer is not JSON: %s", method, path, raw)
		}
	}
	return rep
}

// must fails the test unless the reply has the status.
func (r reply) must(t *testing.T, status int) reply {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d: %s", r.status, status, r.raw)
	}
	return r
}

// scimErr checks the SCIM error shape and returns its scimType.
func (r reply) scimErr(t *testing.T, status int) string {
	t.Helper()
	r.must(t, status)
	if r.body["status"] != fmt.Sprint(status) || !listHas(r.body["schemas"], ErrorURN) {
		t.Fatalf("not a SCIM error body: %s", r.raw)
	}
	st, _ := r.body["scimType"].(string)
	return st
}

func user(name string, extra ...any) map[string]any {
	u := map[string]any{"schemas": []any{UserURN}, "userName": name}
	for i := 0; i+1 < len(extra); i += 2 {
		u[extra[i].(string)] = extra[i+1]
	}
	return u
}

// genUsers is a tiny deterministic generator: n users with work emails and names.
func genUsers(n int) []json.RawMessage {
	out := make([]json.RawMessage, n)
	for i := range out {
		b, _ := json.Marshal(user(fmt.Sprintf("user%03d@example.com", i),
			"externalId", fmt.Sprintf("EXT-%03d", i),
			"name", map[string]any{"givenName": fmt.Sprintf("Given%d", i), "familyName": "Family"},
			"emails", []any{map[string]any{"value": fmt.Sprintf("user%03d@example.com", i), "type": "work", "primary": true}},
			"active", i%2 == 0))
		out[i] = b
	}
	return out
}

func str(v any) string { s, _ := v.(string); return s }

func resources(r reply) []map[string]any {
	arr, _ := r.body["Resources"].([]any)
	out := make([]map[string]any, len(arr))
	for i, x := range arr {
		out[i], _ = x.(map[string]any)
	}
	return out
}
