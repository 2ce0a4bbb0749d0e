package auth0

import (
	"bytes"
	"github.com/ferry-dev/ferry/internal/sandbox/clock"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/encoding/json"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

type tenant struct {
	t     *testing.T
	srv   *Server
	ts    *httptest.Server
	clock *clock.Fake
	token string
}

func newTenant(t *testing.T, cfg Config) *tenant {
	t.Helper()
	clk := clock.NewFake(t0)
	cfg.Clock = clk
	srv, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	tn := &tenant{t: t, srv: srv, ts: ts, clock: clk}
	tn.token = srv.Token()
	return tn
}

type resp struct {
	status int
	header http.Header
	body   []byte
}

func (r resp) json(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("decode %s: %v", r.body, err)
	}
}

// apiErr decodes an Auth0 error body.
func (r resp) apiErr(t *testing.T) apiError {
	t.Helper()
	var e apiError
	r.json(t, &e)
	if e.StatusCode != r.status || e.Error != http.StatusText(r.status) {
		t.Fatalf("error body %s does not match status %d", r.body, r.status)
	}
	return e
}

func (tn *tenant) do(method, path string, body io.Reader, contentType string) resp {
	tn.t.Helper()
	target := path
	if !strings.HasPrefix(path, "http") {
		target = tn.ts.URL + path
	}
	req, err := http.NewRequest(method, target, body)
	if err != nil {
		tn.t.Fatal(err)
	}
	if tn.token != "" {
		req.Header.Set("Authorization", "Bearer "+tn.token)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	res, err := tn.ts.Client().Do(req)
	if err != nil {
		tn.t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		tn.t.Fatal(err)
	}
	return resp{status: res.StatusCode, header: res.Header, body: b}
}

func (tn *tenant) get(path string) resp { return tn.do(http.MethodGet, path, nil, "") }

func (tn *tenant) postJSON(path string, v any) resp {
	b, err := json.Marshal(v)
	if err != nil {
		tn.t.Fatal(err)
	}
	return tn.do(http.MethodPost, path, bytes.NewReader(b), "application/json")
}

// startImport posts an import job; fields are extra form fields.
func (tn *tenant) startImport(users []byte, fields map[string]string) resp {
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	fw, _ := mw.CreateFormFile("users", "users.json")
	fw.Write(users)
	if _, ok := fields["connection_id"]; !ok {
		mw.WriteField("connection_id", tn.srv.ConnectionID("Username-Password-Authentication"))
	}
	for k, v := range fields {
		mw.WriteField(k, v)
	}
	mw.Close()
	return tn.do(http.MethodPost, "/api/v2/jobs/users-imports", &b, mw.FormDataContentType())
}

// runImport starts an import, moves the clock past its completion and returns the job.
func (tn *tenant) runImport(users []byte, fields map[string]string) map[string]any {
	tn.t.Helper()
	r := tn.startImport(users, fields)
	if r.status != http.StatusAccepted {
		tn.t.Fatalf("import: %d %s", r.status, r.body)
	}
	var j map[string]any
	r.json(tn.t, &j)
	tn.clock.Advance(tn.srv.cfg.ImportDelay)
	r = tn.get("/api/v2/jobs/" + j["id"].(string))
	r.json(tn.t, &j)
	if j["status"] != "completed" {
		tn.t.Fatalf("import job not completed after its delay: %s", r.body)
	}
	return j
}

func q(kv ...string) string {
	v := url.Values{}
	for k := 0; k+1 < len(kv); k += 2 {
		v.Set(kv[k], kv[k+1])
	}
	return "?" + v.Encode()
}

type listPage struct {
	Start  int               `json:"start"`
	Limit  int               `json:"limit"`
	Length int               `json:"length"`
	Total  int               `json:"total"`
	Users  []json.RawMessage `json:"users"`
}

func userIDs(t *testing.T, raws []json.RawMessage) []string {
	t.Helper()
	out := make([]string, len(raws))
	for k, r := range raws {
		var u struct {
			UserID string `json:"user_id"`
		}
		if err := json.Unmarshal(r, &u); err != nil {
			t.Fatal(err)
		}
		out[k] = u.UserID
	}
	return out
}
