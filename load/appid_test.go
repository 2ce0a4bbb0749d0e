package load

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/segmentio/encoding/json"

	"github.com/ferry-dev/ferry/internal/core"
	"github.com/ferry-dev/ferry/internal/endpoint"
	"github.com/ferry-dev/ferry/internal/gen"
	"github.com/ferry-dev/ferry/internal/httpx"
	sbappid "github.com/ferry-dev/ferry/internal/sandbox/appid"
	"github.com/ferry-dev/ferry/internal/sandbox/faults"
)

func appIDUsers(n int) [][]byte {
	out := make([][]byte, n)
	for i := range out {
		out[i] = gen.AppID(11, i, gen.Options{})
	}
	return out
}

type appIDEnv struct {
	srv  *sbappid.Server
	rec  *recorder
	inj  *faults.Injector
	url  string
	fast bool
}

func roleSeeds() []sbappid.RoleSeed {
	var out []sbappid.RoleSeed
	for _, n := range gen.RoleNames() {
		out = append(out, sbappid.RoleSeed{Name: n})
	}
	return out
}

func newAppIDEnv(t testing.TB, cfg sbappid.Config, faultSpec string) *appIDEnv {
	t.Helper()
	if cfg.Roles == nil {
		cfg.Roles = roleSeeds()
	}
	fast := cfg.Limits.RequestsPerSecond == 0
	if fast {
		cfg.Limits.RequestsPerSecond = 100_000
	}
	srv, err := sbappid.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	e := &appIDEnv{srv: srv, rec: newRecorder(srv.Handler()), fast: fast}
	e.rec.check = func(r *http.Request, body []byte) {
		if err := sbappid.Conforms(r, body); err != nil {
			t.Errorf("ferry's App ID client departs from internal/sandbox/appid/FACTS.md: %v", err)
		}
	}
	var h http.Handler = e.rec
	if faultSpec != "" {
		fc, err := faults.Parse(faultSpec)
		if err != nil {
			t.Fatal(err)
		}
		e.inj = faults.New(h, fc, faults.Hooks{ErrorBody: sbappid.ErrorBody,
			Skip: func(r *http.Request) bool { return r.URL.Path == "/identity/token" }})
		h = e.inj
	}
	ts := httptest.NewServer(h)
	t.Cleanup(ts.Close)
	e.url = ts.URL
	return e
}

func (e *appIDEnv) sink(t testing.TB, upsert bool, extra string) *AppID {
	t.Helper()
	ep, err := endpoint.Parse(e.srv.Endpoint(e.url) + extra)
	if err != nil {
		t.Fatal(err)
	}
	a, err := NewAppIDFromEndpoint(ep, core.Options{Upsert: upsert,
		Getenv: env("IBMCLOUD_API_KEY", e.srv.Credentials().APIKey, "APPID_ENCRYPTION_SECRET", "s3cret-for-tests")})
	if err != nil {
		t.Fatal(err)
	}
	a.sleep = func(ctx context.Context, n int) error { return ctx.Err() }
	if e.fast {
		// Tests other than the rate-limit one run against an instance with a high limit.
		c, err := httpx.New(httpx.Config{Name: "appid", BaseURL: e.url + "/management/v4/" + e.srv.Credentials().TenantID,
			Token:   &httpx.IBMIAM{URL: e.url + "/identity/token", APIKey: e.srv.Credentials().APIKey},
			Limiter: httpx.NewLimiter(5000, 100), Secrets: []string{a.secret}})
		if err != nil {
			t.Fatal(err)
		}
		a.c = c
	}
	return a
}

func TestAppIDImport(t *testing.T) {
	const n = 400
	recs := appIDUsers(n)
	e := newAppIDEnv(t, sbappid.Config{}, "")
	sum, reasons := migrate(t, core.FormatAppID, recs, e.sink(t, false, ""), 8)
	if sum.Created != n || sum.Rejected != 0 {
		t.Fatalf("%+v %v", sum, first(reasons))
	}
	if p, _ := e.srv.UserCount(); p != n {
		t.Fatalf("instance holds %d profiles, want %d", p, n)
	}
	if got := e.rec.count("POST import"); got != n/appIDBatch {
		t.Errorf("%d import requests for %d users, want %d", got, n, n/appIDBatch)
	}

	// Without --upsert: profiles the instance holds as ferry would import them are no
	// conflict (a re-run); one with other attributes is rejected with App ID's reason,
	// naming the instance's profile and what differs, and is left as it is.
	again := [][]byte{recs[0], recs[1], recs[2], recs[3],
		bytes.Replace(recs[4], []byte(`"attributes":{`), []byte(`"attributes":{"tier":"gold",`), 1)}
	sum, reasons = migrate(t, core.FormatAppID, again, e.sink(t, false, ""), 2)
	if sum.Skipped != 4 || sum.Rejected != 1 || !strings.Contains(reasons[0], "already exists") || !strings.Contains(reasons[0], "holds other data (attributes)") {
		t.Fatalf("rerun without upsert: %+v %v", sum, first(reasons))
	}
	// With --upsert: nothing created; changed attributes and roles are updated.
	changed := make([][]byte, n)
	copy(changed, recs)
	for i := 0; i < 10; i++ {
		changed[i] = bytes.Replace(recs[i], []byte(`"attributes":{`), []byte(`"attributes":{"tier":"gold",`), 1)
	}
	changed[10] = setRoles(t, recs[10], []string{"viewer", "auditor"})
	sum, reasons = migrate(t, core.FormatAppID, changed, e.sink(t, true, ""), 4)
	if sum.Created != 0 || sum.Rejected != 0 || sum.Updated != 11 || sum.Skipped != n-11 {
		t.Fatalf("upsert rerun: %+v %v", sum, first(reasons))
	}
	sum, _ = migrate(t, core.FormatAppID, changed, e.sink(t, true, ""), 4)
	if sum.Skipped != n {
		t.Fatalf("second upsert rerun: %+v", sum)
	}
	if p, _ := e.srv.UserCount(); p != n {
		t.Fatalf("instance holds %d profiles after re-runs, want %d", p, n)
	}
}

func setRoles(t *testing.T, rec []byte, roles []string) []byte {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(rec, &m); err != nil {
		t.Fatal(err)
	}
	m["roles"], _ = json.Marshal(roles)
	b, _ := json.Marshal(m)
	return b
}

func TestAppIDRejections(t *testing.T) {
	recs := appIDUsers(6)
	recs[2] = setRoles(t, recs[2], []string{"no-such-role"})
	var m map[string]json.RawMessage
	_ = json.Unmarshal(recs[4], &m)
	delete(m, "identities")
	recs[4], _ = json.Marshal(m)
	e := newAppIDEnv(t, sbappid.Config{}, "")
	sum, reasons := migrate(t, core.FormatAppID, recs, e.sink(t, false, ""), 1)
	if sum.Created != 4 || sum.Rejected != 2 {
		t.Fatalf("%+v %v", sum, reasons)
	}
	joined := strings.Join(reasons, "\n")
	for _, want := range []string{`role "no-such-role" does not exist`, "user has no identities"} {
		if !strings.Contains(joined, want) {
			t.Errorf("rejections %q lack App ID's reason %q", joined, want)
		}
	}
}

// An answer that does not account for every user must not make ferry report users it
// cannot vouch for: it looks them up.
func TestAppIDReconcile(t *testing.T) {
	recs := appIDUsers(120)
	for _, lie := range []string{"added", "stray"} {
		e := newAppIDEnv(t, sbappid.Config{}, "")
		e.rec.rewrite = func(r *http.Request, status int, body []byte) []byte {
			if !strings.HasSuffix(r.URL.Path, "/users/import") {
				return body
			}
			var ir map[string]any
			_ = json.Unmarshal(body, &ir)
			switch lie {
			case "added":
				ir["added"] = ir["added"].(float64) - 3
			case "stray":
				ir["failed"] = ir["failed"].(float64) + 1
				ir["failReasons"] = append(ir["failReasons"].([]any), map[string]any{"originalId": "nobody", "error": "mystery"})
			}
			b, _ := json.Marshal(ir)
			return b
		}
		sum, reasons := migrate(t, core.FormatAppID, recs, e.sink(t, false, ""), 2)
		if sum.Created != 120 || sum.Rejected != 0 {
			t.Fatalf("%s: %+v %v", lie, sum, first(reasons))
		}
		if e.rec.count("GET users") == 0 {
			t.Fatalf("%s: no lookups: the sink trusted an answer that did not add up", lie)
		}
		if p, _ := e.srv.UserCount(); p != 120 {
			t.Fatalf("%s: %d profiles", lie, p)
		}
	}
}

func TestAppIDFaults(t *testing.T) {
	const n = 500
	recs := appIDUsers(n)
	e := newAppIDEnv(t, sbappid.Config{}, "5xx=0.08,drop=0.04,truncate=0.04,seed=9")
	sum, reasons := migrate(t, core.FormatAppID, recs, e.sink(t, false, ""), 4)
	if sum.Created != n || sum.Rejected != 0 {
		t.Fatalf("%+v %v", sum, first(reasons))
	}
	st := e.inj.Stats()
	if st.Errors+st.Drops+st.Truncates == 0 {
		t.Fatal("no fault injected")
	}
	if p, _ := e.srv.UserCount(); p != n {
		t.Fatalf("instance holds %d profiles, want %d (lost or duplicated)", p, n)
	}
	// Each user exactly once: export everything and count emails.
	seen := map[string]int{}
	a := e.sink(t, false, "")
	for start := 0; ; start += 50 {
		var page struct {
			Users []struct {
				Email string `json:"email"`
			} `json:"users"`
		}
		if err := a.c.GetJSON(context.Background(), "users/export", map[string][]string{"startIndex": {strconv.Itoa(start)}, "count": {"50"}}, &page); err != nil {
			t.Fatal(err)
		}
		for _, u := range page.Users {
			seen[u.Email]++
		}
		if len(page.Users) < 50 {
			break
		}
	}
	for _, r := range recs {
		var u struct {
			Email string `json:"email"`
		}
		_ = json.Unmarshal(r, &u)
		if seen[u.Email] != 1 {
			t.Errorf("%s imported %d times", u.Email, seen[u.Email])
		}
	}
}

// At App ID's own limit (50 requests/s, then blocked for 30 s) a steady run with eight
// writers, imports then one lookup per user, never meets a 429.
func TestAppIDRateLimit(t *testing.T) {
	const n = 150
	recs := appIDUsers(n)
	e := newAppIDEnv(t, sbappid.Config{Limits: sbappid.Limits{RequestsPerSecond: 50}}, "")
	sum, reasons := migrate(t, core.FormatAppID, recs, e.sink(t, false, ""), 8)
	if sum.Created != n {
		t.Fatalf("%+v %v", sum, first(reasons))
	}
	sum, reasons = migrate(t, core.FormatAppID, recs, e.sink(t, true, ""), 8)
	if sum.Skipped != n {
		t.Fatalf("%+v %v", sum, first(reasons))
	}
	st := e.srv.Stats()
	if st.Throttled != 0 {
		t.Errorf("%d of %d requests throttled (429): the 30 s block must never be met in a steady run", st.Throttled, st.Requests)
	}
	if st.Requests < n {
		t.Errorf("only %d requests: the test does not exercise the limit", st.Requests)
	}
}

func cdSeeds(n int) []json.RawMessage {
	out := make([]json.RawMessage, n)
	for i := range out {
		out[i] = json.RawMessage(`{"scimUser":{"userName":"cd` + strconv.Itoa(i) + `","displayName":"CD User ` + strconv.Itoa(i) +
			`","emails":[{"value":"cd` + strconv.Itoa(i) + `@example.com","primary":true}],"active":true},` +
			`"passwordHash":"hash-` + strconv.Itoa(i) + `","passwordHashAlg":"PBKDF2WithHmacSHA512","profile":{"attributes":{"n":` + strconv.Itoa(i) + `}},"roles":["viewer"]}`)
	}
	return out
}

// Cloud Directory: exported from one instance with the encryption secret, imported into
// another with the same secret, at most 50 users per request.
func TestAppIDCloudDirectory(t *testing.T) {
	const n = 120
	src := newAppIDEnv(t, sbappid.Config{CDUsers: cdSeeds(n)}, "")
	recs := cdExport(t, src.sink(t, false, "&cloud_directory=true"))
	dst := newAppIDEnv(t, sbappid.Config{}, "")
	var sizes []int
	dst.rec.intercept = func(w http.ResponseWriter, r *http.Request, body []byte) bool {
		if strings.HasSuffix(r.URL.Path, "/cloud_directory/import") {
			if r.URL.Query().Get("encryption_secret") != "s3cret-for-tests" {
				t.Errorf("import without the encryption secret")
			}
			var b struct {
				Users []json.RawMessage `json:"users"`
			}
			_ = json.Unmarshal(body, &b)
			dst.rec.mu.Lock()
			sizes = append(sizes, len(b.Users))
			dst.rec.mu.Unlock()
		}
		return false
	}
	sink := dst.sink(t, false, "&cloud_directory=true")
	if sink.Format() != core.FormatAppIDCD {
		t.Fatalf("format %s", sink.Format())
	}
	sum, reasons := migrate(t, core.FormatAppIDCD, recs, sink, 3)
	if sum.Created != n || sum.Rejected != 0 {
		t.Fatalf("%+v %v", sum, first(reasons))
	}
	if _, cd := dst.srv.UserCount(); cd != n {
		t.Fatalf("target holds %d Cloud Directory users, want %d", cd, n)
	}
	for _, s := range sizes {
		if s > 50 {
			t.Errorf("a Cloud Directory import of %d users (limit 50)", s)
		}
	}
	// A wrong secret: every user is rejected with App ID's reason, and the secret does not
	// appear in any reason.
	dst2 := newAppIDEnv(t, sbappid.Config{}, "")
	bad := dst2.sink(t, false, "&cloud_directory=true")
	bad.secret = "not-the-secret"
	sum, reasons = migrate(t, core.FormatAppIDCD, recs[:3], bad, 1)
	if sum.Rejected != 3 || !strings.Contains(reasons[0], "cannot be decrypted") || strings.Contains(strings.Join(reasons, ""), "not-the-secret") {
		t.Fatalf("%+v %v", sum, reasons)
	}
}

func TestAppIDRoles(t *testing.T) {
	src := newAppIDEnv(t, sbappid.Config{
		Applications: []sbappid.AppSeed{{Name: "web", Scopes: []string{"read_x", "write_x"}}, {Name: "api", Scopes: []string{"api.call"}}},
		Roles: []sbappid.RoleSeed{
			{Name: "admin", Description: "all", Access: map[string][]string{"web": {"read_x", "write_x"}, "api": {"api.call"}}},
			{Name: "viewer", Access: map[string][]string{"web": {"read_x"}}},
		},
	}, "")
	dst := newAppIDEnv(t, sbappid.Config{
		Applications: []sbappid.AppSeed{{Name: "web", Scopes: []string{"keep_me", "read_x"}}, {Name: "api"}},
		Roles:        []sbappid.RoleSeed{{Name: "viewer", Access: map[string][]string{"web": {"keep_me"}}}},
	}, "")
	ctx := context.Background()
	cat, err := src.sink(t, false, "").Roles(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(cat.Roles) != 2 || len(cat.Scopes) != 3 {
		t.Fatalf("source catalog %+v", cat)
	}
	target := dst.sink(t, false, "")
	if err := target.CreateRoles(ctx, cat); err != nil {
		t.Fatal(err)
	}
	got, err := target.Roles(ctx)
	if err != nil {
		t.Fatal(err)
	}
	perms := map[string][]string{}
	for _, r := range got.Roles {
		for _, p := range r.Permissions {
			perms[r.Name] = append(perms[r.Name], p.Resource+"/"+p.Scope)
		}
	}
	if want := []string{"web/read_x", "web/write_x", "api/api.call"}; !sameSet(perms["admin"], want) {
		t.Errorf("admin in target: %v, want %v", perms["admin"], want)
	}
	if want := []string{"web/keep_me", "web/read_x"}; !sameSet(perms["viewer"], want) {
		t.Errorf("viewer in target: %v, want %v (existing grants kept)", perms["viewer"], want)
	}
	var scopes []string
	for _, p := range got.Scopes {
		scopes = append(scopes, p.Resource+"/"+p.Scope)
	}
	if want := []string{"web/keep_me", "web/read_x", "web/write_x", "api/api.call"}; !sameSet(scopes, want) {
		t.Errorf("target scopes %v, want %v (never drop one)", scopes, want)
	}
	// Idempotent: a second copy changes nothing.
	before := dst.rec.count("PUT scopes") + dst.rec.count("POST roles")
	if err := target.CreateRoles(ctx, cat); err != nil {
		t.Fatal(err)
	}
	if after := dst.rec.count("PUT scopes") + dst.rec.count("POST roles"); after != before {
		t.Errorf("second copy wrote %d times", after-before)
	}
	// An application missing in the target is an error, not a silent drop.
	err = target.CreateRoles(ctx, &core.Catalog{Roles: []core.Role{{Name: "x", Permissions: []core.Permission{{Resource: "mobile", Scope: "a"}}}}})
	if err == nil || !strings.Contains(err.Error(), `"mobile"`) {
		t.Errorf("missing application: %v", err)
	}
}

// App ID's fail reasons carry "error" as any JSON value (IBM's SDK models it as
// interface{}): an object there is read by its message, not taken for an unreadable answer
// (which would send the whole batch again).
func TestAppIDFailReasonObjects(t *testing.T) {
	recs := appIDUsers(4)
	e := newAppIDEnv(t, sbappid.Config{}, "")
	var imports int
	e.rec.intercept = func(w http.ResponseWriter, r *http.Request, body []byte) bool {
		if !strings.HasSuffix(r.URL.Path, "/users/import") {
			return false
		}
		var b struct {
			Users []struct {
				ID string `json:"id"`
			} `json:"users"`
		}
		_ = json.Unmarshal(body, &b)
		e.rec.mu.Lock()
		imports++
		e.rec.mu.Unlock()
		var frs []any
		for i, u := range b.Users {
			errVal := any(map[string]any{"code": "DUPLICATE", "message": "user already exists"})
			if i%2 == 1 {
				errVal = map[string]any{"description": "attribute tier is not allowed"}
			}
			frs = append(frs, map[string]any{"originalId": u.ID, "idp": "google", "error": errVal})
		}
		out, _ := json.Marshal(map[string]any{"added": 0, "failed": len(frs), "failReasons": frs})
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(out)
		return true
	}
	sum, reasons := migrate(t, core.FormatAppID, recs, e.sink(t, false, ""), 1)
	if sum.Rejected != 4 || sum.Created != 0 {
		t.Fatalf("%+v %v", sum, reasons)
	}
	joined := strings.Join(reasons, "\n")
	if strings.Count(joined, "exists in target: App ID: user already exists") != 2 ||
		strings.Count(joined, "App ID import: attribute tier is not allowed (idp google)") != 2 {
		t.Fatalf("reasons: %v", reasons)
	}
	if imports != 1 {
		t.Fatalf("%d import requests for one batch: the answer was not read", imports)
	}
}
