package extract

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ferry-dev/ferry/internal/core"
	"github.com/ferry-dev/ferry/internal/jsonstream"
	sb "github.com/ferry-dev/ferry/internal/sandbox/auth0"
	"github.com/ferry-dev/ferry/internal/sandbox/faults"
	"github.com/segmentio/encoding/json"
)

// auth0Env is a sandbox Auth0 tenant and a source reading it on a shared fake clock.
type auth0Env struct {
	sb    *sb.Server
	srv   string
	clock *fakeClock
	rec   *recorder
}

func startAuth0(t testing.TB, cfg sb.Config, fc faults.Config) *auth0Env {
	t.Helper()
	clk := newFakeClock()
	if cfg.Clock == nil {
		cfg.Clock = clk
	}
	s, err := sb.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := serve(t, s.Handler(), fc)
	return &auth0Env{sb: s, srv: srv.URL, clock: clk, rec: &recorder{next: http.DefaultTransport, now: clk.Now}}
}

// source opens auth0://sandbox?base=... with extra query parameters.
func (e *auth0Env) source(t testing.TB, query string, env map[string]string) *Auth0 {
	t.Helper()
	if env == nil {
		env = map[string]string{"AUTH0_TOKEN": e.sb.Token()}
	}
	raw := "auth0://sandbox?base=" + e.srv
	if query != "" {
		raw += "&" + query
	}
	a, err := newAuth0(mustEndpoint(t, raw), core.Options{Getenv: envOf(env)},
		netHooks{now: e.clock.Now, sleep: e.clock.Sleep, transport: e.rec})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// sandboxIDs lists the tenant's user ids, and each user's roles as the seed assigned them
// (app_metadata.roles).
func (e *auth0Env) sandboxIDs(t testing.TB) ([]string, map[string][]string) {
	t.Helper()
	var ids []string
	roles := map[string][]string{}
	for _, raw := range e.sb.Users() {
		var u struct {
			UserID      string `json:"user_id"`
			AppMetadata struct {
				Roles json.RawMessage `json:"roles"`
			} `json:"app_metadata"`
		}
		if err := json.Unmarshal(raw, &u); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, u.UserID)
		var names []string
		_ = json.Unmarshal(u.AppMetadata.Roles, &names)
		slices.Sort(names)
		roles[u.UserID] = slices.Compact(names)
	}
	return ids, roles
}

// checkAuth0Export asserts the records are exactly the tenant's users, each with its roles
// and otherwise as the API returns it.
func checkAuth0Export(t *testing.T, e *auth0Env, recs []core.Record) {
	t.Helper()
	want, wantRoles := e.sandboxIDs(t)
	got := ids(t, recs, "user_id")
	sameSet(t, got, want)
	bad := 0
	for _, r := range recs {
		var m map[string]json.RawMessage
		if err := json.Unmarshal(r.Data, &m); err != nil {
			t.Fatal(err)
		}
		id := jsonstream.IDText(m["user_id"])
		var names []string
		if raw, ok := m["roles"]; ok {
			if err := json.Unmarshal(raw, &names); err != nil {
				t.Fatalf("%s: roles: %v", id, err)
			}
		}
		slices.Sort(names)
		if !slices.Equal(names, wantRoles[id]) && bad < 3 {
			bad++
			t.Errorf("%s: roles %v, want %v", id, names, wantRoles[id])
		}
		delete(m, "roles")
		var api map[string]json.RawMessage
		if err := json.Unmarshal(e.sb.User(id), &api); err != nil {
			t.Fatal(err)
		}
		if !sameJSON(m, api) && bad < 3 {
			bad++
			t.Errorf("%s: record differs from the API profile:\n got %s\nwant %s", id, r.Data, e.sb.User(id))
		}
	}
}

func sameJSON(a, b map[string]json.RawMessage) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		w, ok := b[k]
		if !ok || !jsonEqual(v, w) {
			return false
		}
	}
	return true
}

func jsonEqual(a, b []byte) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	xb, _ := json.Marshal(x)
	yb, _ := json.Marshal(y)
	return string(xb) == string(yb)
}

func TestAuth0Sizes(t *testing.T) {
	for _, tc := range []struct {
		users  int
		export bool
	}{{0, false}, {10, false}, {999, false}, {1000, true}, {1001, true}, {20000, true}} {
		t.Run(fmt.Sprintf("%d_users", tc.users), func(t *testing.T) {
			if tc.users >= 20000 && testing.Short() {
				t.Skip("short")
			}
			e := startAuth0(t, sb.Config{Users: tc.users, Seed: 7, Nasty: 0.05}, faults.Config{})
			src := e.source(t, "", nil)
			ctx := context.Background()
			total, ok := src.Total(ctx)
			if !ok || total != int64(tc.users) {
				t.Fatalf("Total = %d, %v; want %d", total, ok, tc.users)
			}
			recs, err := collect(ctx, src)
			if err != nil {
				t.Fatal(err)
			}
			checkAuth0Export(t, e, recs)
			exported := false
			for _, x := range e.rec.exchanges() {
				if x.method == http.MethodPost && strings.HasSuffix(x.path, "/jobs/users-exports") {
					exported = true
				}
			}
			if exported != tc.export {
				t.Errorf("export job used: %v, want %v", exported, tc.export)
			}
			if n := len(recs); n > 0 {
				want := "offset="
				if tc.export {
					want = "export="
				}
				if !strings.HasPrefix(recs[n-1].Cursor, want) {
					t.Errorf("last cursor %q, want %s...", recs[n-1].Cursor, want)
				}
			}
		})
	}
}

func TestAuth0FreePlan(t *testing.T) {
	for _, users := range []int{250, 1500} {
		t.Run(fmt.Sprintf("%d_users", users), func(t *testing.T) {
			e := startAuth0(t, sb.Config{Users: users, Seed: 3, Plan: "free"}, faults.Config{})
			recs, err := collect(context.Background(), e.source(t, "", nil))
			if err != nil {
				t.Fatal(err)
			}
			checkAuth0Export(t, e, recs)
			log := e.rec.exchanges()
			checkNo429Window(t, log)
			if n := e.rec.count(http.StatusTooManyRequests); n > 0 {
				t.Errorf("%d answers were 429 in %d requests", n, len(log))
			}
			t.Logf("%d requests, %s of (fake) time", len(log), log[len(log)-1].got.Sub(log[0].sent))
		})
	}
}

func TestAuth0Faults(t *testing.T) {
	fc := faults.Config{Rate5xx: 0.05, Drop: 0.03, Truncate: 0.03, Seed: 11}
	for _, users := range []int{900, 3000} {
		t.Run(fmt.Sprintf("%d_users", users), func(t *testing.T) {
			e := startAuth0(t, sb.Config{Users: users, Seed: 5}, fc)
			recs, err := collect(context.Background(), e.source(t, "", nil))
			if err != nil {
				t.Fatal(err)
			}
			checkAuth0Export(t, e, recs)
			failed := 0
			for _, x := range e.rec.exchanges() {
				if x.status == 0 || x.status >= 500 {
					failed++
				}
			}
			t.Logf("%d requests, %d failed", len(e.rec.exchanges()), failed)
		})
	}
}

// TestAuth0Resume cuts a run after k records and resumes from the k-th cursor: the two
// runs together must yield every user exactly once, in both modes, with the export job
// reused while it is fresh and replaced once it is not.
func TestAuth0Resume(t *testing.T) {
	for _, tc := range []struct {
		name   string
		users  int
		cut    int
		expire bool
	}{
		{"list_mid_page", 700, 250, false},
		{"list_page_end", 700, 300, false},
		{"list_first", 700, 1, false},
		{"export", 2500, 1234, false},
		{"export_expired_job", 2500, 1234, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := startAuth0(t, sb.Config{Users: tc.users, Seed: 9}, faults.Config{})
			ctx := context.Background()
			all, err := collect(ctx, e.source(t, "", nil))
			if err != nil {
				t.Fatal(err)
			}
			if tc.expire {
				e.clock.Advance(25 * time.Hour)
			}
			posts := countPosts(e.rec)
			src := e.source(t, "", nil)
			if err := src.ResumeAfter(all[tc.cut-1].Cursor); err != nil {
				t.Fatal(err)
			}
			if n, ok := src.Total(ctx); !ok || n != int64(tc.users-tc.cut) {
				t.Errorf("Total after resume = %d, %v; want %d", n, ok, tc.users-tc.cut)
			}
			rest, err := collect(ctx, src)
			if err != nil {
				t.Fatal(err)
			}
			sameSet(t, ids(t, rest, "user_id"), ids(t, all[tc.cut:], "user_id"))
			newJobs := countPosts(e.rec) - posts
			if strings.HasPrefix(tc.name, "export") && newJobs != map[bool]int{false: 0, true: 1}[tc.expire] {
				t.Errorf("resume created %d export jobs", newJobs)
			}
		})
	}
}

func countPosts(r *recorder) int {
	n := 0
	for _, x := range r.exchanges() {
		if x.method == http.MethodPost && strings.HasSuffix(x.path, "/jobs/users-exports") {
			n++
		}
	}
	return n
}

func TestAuth0Since(t *testing.T) {
	for _, users := range []int{800, 2500} {
		t.Run(fmt.Sprintf("%d_users", users), func(t *testing.T) {
			e := startAuth0(t, sb.Config{Users: users, Seed: 4}, faults.Config{})
			since := time.Date(2018, 9, 1, 0, 0, 0, 0, time.UTC)
			var want []string
			for _, raw := range e.sb.Users() {
				var u struct {
					UserID    string    `json:"user_id"`
					UpdatedAt time.Time `json:"updated_at"`
				}
				if err := json.Unmarshal(raw, &u); err != nil {
					t.Fatal(err)
				}
				if !u.UpdatedAt.Before(since) {
					want = append(want, u.UserID)
				}
			}
			if len(want) == 0 || len(want) == users {
				t.Fatalf("since %s selects %d of %d users: pick another date", since, len(want), users)
			}
			src := e.source(t, "", nil)
			if err := src.Since(since); err != nil {
				t.Fatal(err)
			}
			recs, err := collect(context.Background(), src)
			if err != nil {
				t.Fatal(err)
			}
			sameSet(t, ids(t, recs, "user_id"), want)
		})
	}
}

func TestAuth0Connection(t *testing.T) {
	for _, users := range []int{600, 3000} {
		t.Run(fmt.Sprintf("%d_users", users), func(t *testing.T) {
			e := startAuth0(t, sb.Config{Users: users, Seed: 2}, faults.Config{})
			var want []string
			for _, raw := range e.sb.Users() {
				var u struct {
					UserID     string `json:"user_id"`
					Identities []struct {
						Connection string `json:"connection"`
					} `json:"identities"`
				}
				if err := json.Unmarshal(raw, &u); err != nil {
					t.Fatal(err)
				}
				if len(u.Identities) > 0 && u.Identities[0].Connection == "google-oauth2" {
					want = append(want, u.UserID)
				}
			}
			recs, err := collect(context.Background(), e.source(t, "connection=google-oauth2", nil))
			if err != nil {
				t.Fatal(err)
			}
			sameSet(t, ids(t, recs, "user_id"), want)
		})
	}
}

func TestAuth0ClientCredentials(t *testing.T) {
	e := startAuth0(t, sb.Config{Users: 30, Seed: 1}, faults.Config{})
	recs, err := collect(context.Background(), e.source(t, "", e.sb.Env()))
	if err != nil {
		t.Fatal(err)
	}
	checkAuth0Export(t, e, recs)

	bad := map[string]string{"AUTH0_CLIENT_ID": e.sb.Credentials().ClientID, "AUTH0_CLIENT_SECRET": "wrong-secret-value"}
	_, err = collect(context.Background(), e.source(t, "", bad))
	if err == nil || strings.Contains(err.Error(), "wrong-secret-value") {
		t.Errorf("bad secret: err = %v", err)
	}
	if _, err := newAuth0(mustEndpoint(t, "auth0://tenant.example"), core.Options{Getenv: envOf(nil)}, netHooks{}); !errors.Is(err, core.ErrUsage) {
		t.Errorf("no credentials: err = %v, want a usage error", err)
	}
}

func TestAuth0Roles(t *testing.T) {
	e := startAuth0(t, sb.Config{Users: 50, Seed: 1}, faults.Config{})
	cat, err := e.source(t, "", nil).Roles(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(cat.Roles) == 0 || len(cat.Scopes) == 0 {
		t.Fatalf("catalog %+v", cat)
	}
	scopes := map[core.Permission]bool{}
	for _, s := range cat.Scopes {
		if strings.HasSuffix(s.Resource, "/api/v2/") {
			t.Errorf("system API scope %v in the catalog", s)
		}
		scopes[s] = true
	}
	granted := 0
	for _, r := range cat.Roles {
		for _, p := range r.Permissions {
			granted++
			if !scopes[p] {
				t.Errorf("role %s grants %v, which no resource server defines", r.Name, p)
			}
		}
	}
	if granted == 0 {
		t.Error("no role grants anything")
	}
}

// TestAuth0ResumeGrownTenant resumes a listing cursor after the tenant grew past 1,000
// users: the run goes on with an export job, skipping the committed users.
func TestAuth0ResumeGrownTenant(t *testing.T) {
	e := startAuth0(t, sb.Config{Users: 1500, Seed: 8}, faults.Config{})
	ctx := context.Background()
	all, err := collect(ctx, e.source(t, "", nil))
	if err != nil {
		t.Fatal(err)
	}
	src := e.source(t, "", nil)
	if err := src.ResumeAfter("offset=500"); err != nil {
		t.Fatal(err)
	}
	rest, err := collect(ctx, src)
	if err != nil {
		t.Fatal(err)
	}
	sameSet(t, ids(t, rest, "user_id"), ids(t, all[500:], "user_id"))
}

// TestAuth0FreePlanWallClock repeats the free-plan run on the wall clock, where requests
// take real time and the sandbox's bucket refills between them.
func TestAuth0FreePlanWallClock(t *testing.T) {
	if testing.Short() {
		t.Skip("takes a few seconds of wall time")
	}
	s, err := sb.New(sb.Config{Users: 120, Seed: 3, Plan: "free"})
	if err != nil {
		t.Fatal(err)
	}
	srv := serve(t, s.Handler(), faults.Config{})
	rec := &recorder{next: http.DefaultTransport, now: time.Now}
	a, err := newAuth0(mustEndpoint(t, "auth0://sandbox?base="+srv.URL),
		core.Options{Getenv: envOf(map[string]string{"AUTH0_TOKEN": s.Token()})}, netHooks{transport: rec})
	if err != nil {
		t.Fatal(err)
	}
	recs, err := collect(context.Background(), a)
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 120 {
		t.Errorf("%d records", len(recs))
	}
	log := rec.exchanges()
	checkNo429Window(t, log)
	if n := rec.count(http.StatusTooManyRequests); n > 1 {
		t.Errorf("%d of %d answers were 429", n, len(log))
	}
	t.Logf("%d requests in %s", len(log), log[len(log)-1].got.Sub(log[0].sent).Round(time.Millisecond))
}

// A tenant whose totals are capped at 1,000 (as Auth0 describes them) and that holds more
// users is read whole, through an export job, not cut at 1,000.
func TestAuth0CappedTotal(t *testing.T) {
	e := startAuth0(t, sb.Config{Users: 1500, Seed: 7, CapTotals: true}, faults.Config{})
	src := e.source(t, "", nil)
	recs, err := collect(context.Background(), src)
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 1500 {
		t.Fatalf("read %d users of 1500", len(recs))
	}
	checkAuth0Export(t, e, recs)
}
