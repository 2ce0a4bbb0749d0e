package extract

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/ferry-dev/ferry/internal/core"
	"github.com/ferry-dev/ferry/internal/gen"
	sb "github.com/ferry-dev/ferry/internal/sandbox/appid"
	"github.com/ferry-dev/ferry/internal/sandbox/faults"
	"github.com/segmentio/encoding/json"
)

type appidEnv struct {
	sb    *sb.Server
	srv   string
	clock *fakeClock
	rec   *recorder
	seed  int64
	users int
}

// appidRoles are the sandbox's roles: gen's role names, on an application "web" (gen's
// Auth0-style scopes are not valid App ID scope names).
func appidRoles() ([]sb.AppSeed, []sb.RoleSeed) {
	apps := []sb.AppSeed{{Name: "web", Scopes: []string{"read", "write", "reports.read"}}, {Name: "billing", Scopes: []string{"invoices"}}}
	var roles []sb.RoleSeed
	for k, n := range gen.RoleNames() {
		access := map[string][]string{"web": {"read"}}
		if k%2 == 1 {
			access["billing"] = []string{"invoices"}
		}
		roles = append(roles, sb.RoleSeed{Name: n, Description: "role " + n, Access: access})
	}
	return apps, roles
}

func startAppID(t testing.TB, users int, fc faults.Config, cd []json.RawMessage) *appidEnv {
	t.Helper()
	clk := newFakeClock()
	apps, roles := appidRoles()
	const seed = 21
	s, err := sb.New(sb.Config{Clock: clk, Applications: apps, Roles: roles, UserCount: users, CDUsers: cd,
		UserGen: func(i int) []byte { return gen.AppID(seed, i, gen.Options{Nasty: 0.05}) }})
	if err != nil {
		t.Fatal(err)
	}
	srv := serve(t, conformant(t, s.Handler()), fc)
	return &appidEnv{sb: s, srv: srv.URL, clock: clk, rec: &recorder{next: http.DefaultTransport, now: clk.Now}, seed: seed, users: users}
}

func (e *appidEnv) source(t testing.TB, query string, env map[string]string) *AppID {
	t.Helper()
	c := e.sb.Credentials()
	if env == nil {
		env = map[string]string{"IBMCLOUD_API_KEY": c.APIKey}
	}
	raw := fmt.Sprintf("appid://%s/%s?base=%s&iam=%s", c.Region, c.TenantID, e.srv, e.srv)
	if query != "" {
		raw += "&" + query
	}
	a, err := newAppID(mustEndpoint(t, raw), core.Options{Getenv: envOf(env)},
		netHooks{now: e.clock.Now, sleep: e.clock.Sleep, transport: e.rec})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// wantEmails are the seeded users' emails (unique per user).
func (e *appidEnv) wantEmails(t testing.TB) []string {
	var out []string
	for i := 0; i < e.users; i++ {
		var u struct {
			Email string `json:"email"`
		}
		if err := json.Unmarshal(gen.AppID(e.seed, i, gen.Options{Nasty: 0.05}), &u); err != nil {
			t.Fatal(err)
		}
		out = append(out, u.Email)
	}
	return out
}

func TestAppIDSizes(t *testing.T) {
	for _, tc := range []struct {
		users int
		fc    faults.Config
	}{
		{0, faults.Config{}}, {10, faults.Config{}}, {1000, faults.Config{}}, {1001, faults.Config{}}, {5000, faults.Config{}},
		{1500, faults.Config{Rate5xx: 0.05, Drop: 0.03, Truncate: 0.03, Seed: 3}},
	} {
		t.Run(fmt.Sprintf("%d_users_faults_%v", tc.users, tc.fc.Enabled()), func(t *testing.T) {
			e := startAppID(t, tc.users, tc.fc, nil)
			src := e.source(t, "", nil)
			ctx := context.Background()
			if n, ok := src.Total(ctx); !ok || n != int64(tc.users) {
				t.Fatalf("Total = %d, %v; want %d", n, ok, tc.users)
			}
			recs, err := collect(ctx, src)
			if err != nil {
				t.Fatal(err)
			}
			sameSet(t, ids(t, recs, "email"), e.wantEmails(t))
			if st := e.sb.Stats(); st.Throttled > 0 {
				t.Errorf("%d requests throttled (429) of %d", st.Throttled, st.Requests)
			}
			checkNo429Window(t, e.rec.exchanges())
			for _, r := range recs {
				var u struct {
					Roles json.RawMessage `json:"roles"`
				}
				if json.Unmarshal(r.Data, &u) != nil || len(u.Roles) == 0 {
					t.Fatalf("%s: no roles member: %s", r.Ref, r.Data)
				}
			}
		})
	}
}

func TestAppIDResume(t *testing.T) {
	e := startAppID(t, 777, faults.Config{}, nil)
	ctx := context.Background()
	all, err := collect(ctx, e.source(t, "", nil))
	if err != nil {
		t.Fatal(err)
	}
	for _, cut := range []int{1, 50, 51, 400, 776, 777} {
		src := e.source(t, "", nil)
		if err := src.ResumeAfter(all[cut-1].Cursor); err != nil {
			t.Fatal(err)
		}
		if n, _ := src.Total(ctx); n != int64(777-cut) {
			t.Errorf("cut %d: Total %d", cut, n)
		}
		rest, err := collect(ctx, src)
		if err != nil {
			t.Fatal(err)
		}
		sameSet(t, ids(t, rest, "id"), ids(t, all[cut:], "id"))
	}
	if err := e.source(t, "", nil).ResumeAfter("offset=3"); !errors.Is(err, core.ErrUsage) {
		t.Errorf("bad cursor: %v", err)
	}
}

func TestAppIDCloudDirectory(t *testing.T) {
	var cd []json.RawMessage
	for i := 0; i < 120; i++ {
		b, _ := json.Marshal(map[string]any{
			"scimUser": map[string]any{"id": fmt.Sprintf("cd-%03d", i), "userName": fmt.Sprintf("cd%03d", i),
				"emails": []any{map[string]any{"value": fmt.Sprintf("cd%03d@example.com", i), "primary": true}}},
			"passwordHash": "$2a$10$abcdefghijklmnopqrstuuSgPbUcB4hRJjb0t3x1nWZQ4sU3mT5rS", "passwordHashAlg": "bcrypt",
			"profile": map[string]any{"attributes": map[string]any{"n": i}}, "roles": []string{},
		})
		cd = append(cd, b)
	}
	e := startAppID(t, 5, faults.Config{}, cd)
	key := e.sb.Credentials().APIKey
	const secret = "s3cr3t-encryption-value"
	if _, err := newAppID(mustEndpoint(t, "appid://us-south/t?cloud_directory=true"),
		core.Options{Getenv: envOf(map[string]string{"IBMCLOUD_API_KEY": key})}, netHooks{}); !errors.Is(err, core.ErrUsage) {
		t.Errorf("no secret: %v", err)
	}
	for _, how := range []string{"query", "format"} {
		env := map[string]string{"IBMCLOUD_API_KEY": key, "APPID_ENCRYPTION_SECRET": secret}
		var src *AppID
		if how == "query" {
			src = e.source(t, "cloud_directory=true", env)
		} else {
			c := e.sb.Credentials()
			var err error
			src, err = newAppID(mustEndpoint(t, fmt.Sprintf("appid://%s/%s?base=%s&iam=%s", c.Region, c.TenantID, e.srv, e.srv)),
				core.Options{Format: core.FormatAppIDCD, Getenv: envOf(env)}, netHooks{now: e.clock.Now, sleep: e.clock.Sleep, transport: e.rec})
			if err != nil {
				t.Fatal(err)
			}
		}
		if src.Format() != core.FormatAppIDCD {
			t.Errorf("format %s", src.Format())
		}
		recs, err := collect(context.Background(), src)
		if err != nil {
			t.Fatal(err)
		}
		if len(recs) != 120 {
			t.Fatalf("%d records, want 120", len(recs))
		}
		for _, r := range recs {
			if strings.Contains(string(r.Data), secret) {
				t.Fatal("record holds the encryption secret")
			}
		}
		for _, r := range recs {
			var u struct {
				SCIMUser struct {
					ID string `json:"id"`
				} `json:"scimUser"`
				PasswordHash string `json:"passwordHash"`
			}
			if err := json.Unmarshal(r.Data, &u); err != nil || u.SCIMUser.ID == "" || r.Ref != u.SCIMUser.ID || u.PasswordHash == "" {
				t.Fatalf("ref %q, record %s: want the scimUser id as ref and an encrypted hash", r.Ref, r.Data)
			}
		}
	}
}

func TestAppIDRoles(t *testing.T) {
	e := startAppID(t, 0, faults.Config{}, nil)
	cat, err := e.source(t, "", nil).Roles(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(cat.Roles) != len(gen.RoleNames()) {
		t.Fatalf("%d roles", len(cat.Roles))
	}
	if len(cat.Scopes) != 4 {
		t.Errorf("scopes %v", cat.Scopes)
	}
	for _, r := range cat.Roles {
		for _, p := range r.Permissions {
			if p.Resource != "web" && p.Resource != "billing" {
				t.Errorf("role %s: permission on %q, want an application name", r.Name, p.Resource)
			}
		}
	}
}

func TestAppIDBadEndpoints(t *testing.T) {
	env := envOf(map[string]string{"IBMCLOUD_API_KEY": "k"})
	for _, raw := range []string{"appid://us-south", "appid://us-south/a/b", "appid:///tenant",
		"appid://us-south/t?cloud_directory=maybe", "appid://us-south/t?base=ftp://x", "appid://us-south/t?iam=nope"} {
		if _, err := newAppID(mustEndpoint(t, raw), core.Options{Getenv: env}, netHooks{}); !errors.Is(err, core.ErrUsage) {
			t.Errorf("%s: err = %v, want usage", raw, err)
		}
	}
	if _, err := newAppID(mustEndpoint(t, "appid://us-south/t"), core.Options{Getenv: envOf(nil)}, netHooks{}); !errors.Is(err, core.ErrUsage) {
		t.Errorf("no key: %v", err)
	}
}

// TestAppIDThrottled runs against an instance that allows only 5 requests/s and blocks
// for 30 s past that (App ID's behaviour at its 50/s): everything is read, and nothing is
// sent while a block announced by a 429 lasts.
func TestAppIDThrottled(t *testing.T) {
	clk := newFakeClock()
	apps, roles := appidRoles()
	s, err := sb.New(sb.Config{Clock: clk, Applications: apps, Roles: roles, UserCount: 600,
		Limits:  sb.Limits{RequestsPerSecond: 5},
		UserGen: func(i int) []byte { return gen.AppID(21, i, gen.Options{}) }})
	if err != nil {
		t.Fatal(err)
	}
	e := &appidEnv{sb: s, srv: serve(t, conformant(t, s.Handler()), faults.Config{}).URL, clock: clk,
		rec: &recorder{next: http.DefaultTransport, now: clk.Now}, seed: 21, users: 600}
	recs, err := collect(context.Background(), e.source(t, "", nil))
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 600 {
		t.Errorf("%d records", len(recs))
	}
	checkNo429Window(t, e.rec.exchanges())
	st := s.Stats()
	t.Logf("%d requests, %d throttled", st.Requests, st.Throttled)
	if st.Throttled > 8 {
		t.Errorf("%d requests throttled: the limiter does not learn", st.Throttled)
	}
}

// TestAppIDSecretNotInErrors makes the Cloud Directory export fail with a body that echoes
// the request URL, and checks that the error names neither the encryption secret nor the
// API key.
func TestAppIDSecretNotInErrors(t *testing.T) {
	e := startAppID(t, 0, faults.Config{}, nil)
	inner := e.srv
	e.srv = serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.Contains(r.URL.Path, "cloud_directory") {
			w.WriteHeader(http.StatusBadRequest)
			_, _ = w.Write([]byte(`{"error":"bad request ` + r.URL.String() + `"}`))
			return
		}
		resp, err := http.DefaultTransport.RoundTrip(mustProxy(r, inner))
		if err != nil {
			w.WriteHeader(http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		for k, v := range resp.Header {
			w.Header()[k] = v
		}
		w.WriteHeader(resp.StatusCode)
		_, _ = io.Copy(w, resp.Body)
	}), faults.Config{}).URL
	c := e.sb.Credentials()
	const secret = "encryption-secret-xyz"
	src := e.source(t, "cloud_directory=true", map[string]string{"IBMCLOUD_API_KEY": c.APIKey, "APPID_ENCRYPTION_SECRET": secret})
	_, err := collect(context.Background(), src)
	if err == nil {
		t.Fatal("no error from a failing server")
	}
	if msg := err.Error(); strings.Contains(msg, secret) || strings.Contains(msg, c.APIKey) || !strings.Contains(msg, "cloud_directory") {
		t.Errorf("error leaks a secret or says nothing: %s", msg)
	}
}

func mustProxy(r *http.Request, to string) *http.Request {
	out := r.Clone(r.Context())
	u, _ := url.Parse(to)
	out.URL.Scheme, out.URL.Host, out.RequestURI, out.Host = u.Scheme, u.Host, "", u.Host
	return out
}

// conformant holds every request ferry's App ID source makes to
// internal/sandbox/appid/FACTS.md (IBM's paths, parameters and fields).
func conformant(t testing.TB, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if err := sb.Conforms(r, body); err != nil {
			t.Errorf("ferry's App ID source departs from internal/sandbox/appid/FACTS.md: %v", err)
		}
		r.Body = io.NopCloser(strings.NewReader(string(body)))
		h.ServeHTTP(w, r)
	})
}
