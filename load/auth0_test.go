package load

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/ferry-dev/ferry/internal/core"
	"github.com/ferry-dev/ferry/internal/endpoint"
	"github.com/ferry-dev/ferry/internal/httpx"
	sandbox "github.com/ferry-dev/ferry/internal/sandbox/auth0"
	"github.com/ferry-dev/ferry/internal/sandbox/faults"
	"github.com/ferry-dev/ferry/schemas"
	"github.com/segmentio/encoding/json"
)

func TestAuth0ConfigFrom(t *testing.T) {
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	tests := []struct {
		name    string
		dst     string
		env     map[string]string
		wantErr bool
		check   func(t *testing.T, c Auth0Config)
	}{
		{"token", "auth0://t.example.com?connection=db&unlink=true&file_bytes=4096", map[string]string{"AUTH0_TOKEN": "tok"}, false,
			func(t *testing.T, c Auth0Config) {
				if c.Connection != "db" || !c.Unlink || c.FileLimit != 4096 || c.BaseURL != "https://t.example.com" {
					t.Errorf("config %+v", c)
				}
				if _, ok := c.Token.(httpx.StaticToken); !ok {
					t.Errorf("token %T", c.Token)
				}
			}},
		{"client credentials", "auth0://sandbox?base=http://127.0.0.1:9", map[string]string{"AUTH0_CLIENT_ID": "id", "AUTH0_CLIENT_SECRET": "sec"}, false,
			func(t *testing.T, c Auth0Config) {
				cc, ok := c.Token.(*httpx.Auth0ClientCredentials)
				if !ok || cc.TokenURL != "http://127.0.0.1:9/oauth/token" || cc.Audience != "https://sandbox/api/v2/" {
					t.Errorf("token %+v", c.Token)
				}
			}},
		{"no credentials", "auth0://t.example.com", map[string]string{}, true, nil},
		{"secret only", "auth0://t.example.com", map[string]string{"AUTH0_CLIENT_SECRET": "x"}, true, nil},
		{"bad unlink", "auth0://t.example.com?unlink=maybe", map[string]string{"AUTH0_TOKEN": "t"}, true, nil},
		{"file too big", "auth0://t.example.com?file_bytes=600000", map[string]string{"AUTH0_TOKEN": "t"}, true, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ep, err := endpoint.Parse(tc.dst)
			if err != nil {
				t.Fatal(err)
			}
			c, err := Auth0ConfigFrom(ep, core.Options{Getenv: env(tc.env)})
			if tc.wantErr {
				if !errors.Is(err, core.ErrUsage) {
					t.Fatalf("err = %v, want ErrUsage", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, c)
		})
	}
}

func TestAuth0OpenByScheme(t *testing.T) {
	tn := newTenant(t, sandbox.Config{})
	env := tn.sb.Env()
	s, err := Open(context.Background(), "auth0://sandbox?base="+tn.srv.URL, core.Options{Getenv: func(k string) string { return env[k] }})
	if err != nil {
		t.Fatal(err)
	}
	res, err := s.Write(context.Background(), encodeItems(t, []*schemas.User{mkUser(1)}))
	if err != nil || len(res) != 1 || res[0].Outcome != core.Created {
		t.Fatalf("res %+v err %v", res, err)
	}
	if strings.Contains(s.Name(), env["AUTH0_CLIENT_SECRET"]) {
		t.Fatal("secret in name")
	}
}

// A first migrate creates every user; a second identical one (upsert) creates nothing
// and reports every user updated.
func TestAuth0CreateThenUpsert(t *testing.T) {
	tn := newTenant(t, sandbox.Config{})
	const n = 250
	users := make([]*schemas.User, n)
	for i := range users {
		users[i] = mkUser(i)
	}
	before := tn.sb.Count()
	res := writeAll(t, tn.sink(t), encodeItems(t, users))
	if c := countOutcomes(res); c[core.Created] != n {
		t.Fatalf("first run outcomes %v", c)
	}
	for i, r := range res {
		if r.TargetID != "auth0|src"+pad5(i) {
			t.Fatalf("user %d: target id %q", i, r.TargetID)
		}
	}
	if got := tn.sb.Count() - before; got != n {
		t.Fatalf("tenant grew by %d, want %d", got, n)
	}
	res = writeAll(t, tn.sink(t, func(c *Auth0Config) { c.Upsert = true }), encodeItems(t, users))
	if c := countOutcomes(res); c[core.Updated] != n {
		t.Fatalf("second run outcomes %v", c)
	}
	if got := tn.sb.Count() - before; got != n {
		t.Fatalf("second run created users: tenant grew by %d", got)
	}
	// Without upsert, a second run rejects every user with Auth0's code.
	res = writeAll(t, tn.sink(t), encodeItems(t, users[:3]))
	for _, r := range res {
		if r.Outcome != core.Rejected || !strings.Contains(r.Reason, "auth0 import: DUPLICATED_USER") || !strings.Contains(r.Reason, "(email)") {
			t.Fatalf("result %+v", r)
		}
	}
	tn.rec.mu.Lock()
	defer tn.rec.mu.Unlock()
	for _, v := range tn.rec.emailSeen {
		if v != "false" {
			t.Fatalf("send_completion_email=%q", v)
		}
	}
	if tn.rec.upsertSeen[0] != "false" || !containsStr(tn.rec.upsertSeen, "true") {
		t.Fatalf("upsert fields %v", tn.rec.upsertSeen)
	}
}

func pad5(i int) string {
	s := "00000" + strconv.Itoa(i)
	return s[len(s)-5:]
}

// Concurrency 8 through the pipeline, many small files: never more than 2 jobs pending.
func TestAuth0JobLimit(t *testing.T) {
	tn := newTenant(t, sandbox.Config{})
	sink := tn.sink(t, func(c *Auth0Config) { c.FileLimit = 4096 })
	users := make([]*schemas.User, 300)
	for i := range users {
		users[i] = mkUser(i)
	}
	sum := runPipeline(t, sink, users, 8)
	if sum.Created != int64(len(users)) || sum.Rejected != 0 {
		t.Fatalf("summary %+v", sum)
	}
	tn.rec.mu.Lock()
	defer tn.rec.mu.Unlock()
	t.Logf("jobs %d, files %d, max concurrent %d, 429s %d", tn.rec.created, tn.rec.files, tn.rec.maxActive, tn.rec.jobs429)
	if tn.rec.maxActive > 2 || tn.rec.jobs429 != 0 {
		t.Fatalf("max concurrent jobs %d (429s %d), want ≤ 2 and none", tn.rec.maxActive, tn.rec.jobs429)
	}
	if tn.rec.created < 10 || tn.rec.maxFile > 4096 {
		t.Fatalf("jobs %d, biggest file %d", tn.rec.created, tn.rec.maxFile)
	}
}

// A job slot taken by someone else (429 on creation) is waited for, not a failure.
func TestAuth0JobSlotsTakenElsewhere(t *testing.T) {
	tn := newTenant(t, sandbox.Config{})
	refused := 0
	tn.rec.wrap = func(w http.ResponseWriter, r *http.Request, next http.Handler) bool {
		if r.Method == http.MethodPost && r.URL.Path == "/api/v2/jobs/users-imports" && refused < 3 {
			refused++
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusTooManyRequests)
			_, _ = w.Write([]byte(`{"statusCode":429,"error":"Too Many Requests","message":"There are already 2 pending import jobs","errorCode":"too_many_requests"}`))
			return true
		}
		return false
	}
	res := writeAll(t, tn.sink(t), encodeItems(t, []*schemas.User{mkUser(1), mkUser(2)}))
	if c := countOutcomes(res); c[core.Created] != 2 || refused != 3 {
		t.Fatalf("outcomes %v after %d refusals", c, refused)
	}
}

// Files never exceed 500 KB; a user too big for any file is rejected, not fatal.
func TestAuth0FileLimit(t *testing.T) {
	tn := newTenant(t, sandbox.Config{})
	sink := tn.sink(t)
	big := strings.Repeat("x", 60_000)
	var users []*schemas.User
	for i := 0; i < 30; i++ {
		u := mkUser(i)
		u.Ferry.UserMetadata = json.RawMessage(`{"blob":"` + big + `"}`)
		users = append(users, u)
	}
	huge := mkUser(99)
	huge.Ferry.UserMetadata = json.RawMessage(`{"blob":"` + strings.Repeat("y", 600_000) + `"}`)
	users = append(users, huge)
	items := encodeItems(t, users)
	// One Write with everything: the sink packs it into several files itself.
	res, err := sink.Write(context.Background(), items)
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range res[:30] {
		if r.Outcome != core.Created {
			t.Fatalf("user %d: %+v", i, r)
		}
	}
	if r := res[30]; r.Outcome != core.Rejected || !strings.Contains(r.Reason, "over the 511998-byte limit") {
		t.Fatalf("huge user: %+v", r)
	}
	tn.rec.mu.Lock()
	defer tn.rec.mu.Unlock()
	if tn.rec.maxFile > DefaultImportFileLimit || tn.rec.files < 4 {
		t.Fatalf("files %d, biggest %d bytes", tn.rec.files, tn.rec.maxFile)
	}
	if lim := sink.BatchLimits(); lim.MaxBytes+lim.MaxCount-1+2 > DefaultImportFileLimit {
		t.Fatalf("batch limits %+v do not fit one file", lim)
	}
}

// Users Auth0 refuses become rejections with its code, message and path; the others of
// the same file are written.
func TestAuth0PerUserErrors(t *testing.T) {
	tn := newTenant(t, sandbox.Config{})
	items := encodeItems(t, []*schemas.User{mkUser(1), mkUser(2), mkUser(3)})
	items = append(items,
		core.Item{Ref: "bad email", Data: []byte(`{"email":"not-an-email","user_id":"b1"}`)},
		core.Item{Ref: "bad type", Data: []byte(`{"email":"t@example.com","user_id":"b2","blocked":"yes"}`)},
		core.Item{Ref: "same email", Data: []byte(`{"email":"USER00001@example.com","user_id":"b3"}`)},
		core.Item{Ref: "not json", Data: []byte(`[1,2]`)},
	)
	res, err := tn.sink(t).Write(context.Background(), items)
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		out    core.Outcome
		reason string
	}{
		{core.Created, ""}, {core.Created, ""}, {core.Created, ""},
		{core.Rejected, "auth0 import: INVALID_FORMAT: Error in email property - Object didn't pass validation for format email: not-an-email (email)"},
		{core.Rejected, "auth0 import: INVALID_TYPE: Error in blocked property - Expected type boolean but found type string (blocked)"},
		{core.Rejected, `email "USER00001@example.com" is already the email of user00001@example.com in this run`},
		{core.Rejected, "not a JSON object"},
	}
	for i, w := range want {
		if res[i].Outcome != w.out || !strings.Contains(res[i].Reason, w.reason) {
			t.Errorf("item %d: %+v, want %v %q", i, res[i], w.out, w.reason)
		}
	}
}

// Roles are assigned in bulk after the import and can be read back from the role.
func TestAuth0RolesAssigned(t *testing.T) {
	tn := newTenant(t, sandbox.Config{})
	var users []*schemas.User
	for i := 0; i < 120; i++ {
		switch i % 3 {
		case 0:
			users = append(users, mkUser(i, "admin", "viewer"))
		case 1:
			users = append(users, mkUser(i, "viewer"))
		default:
			users = append(users, mkUser(i))
		}
	}
	users = append(users, mkUser(500, "no-such-role"))
	sink := tn.sink(t)
	res := writeAll(t, sink, encodeItems(t, users))
	admins, viewers := roleMembers(t, sink, "admin"), roleMembers(t, sink, "viewer")
	for i, r := range res[:120] {
		if r.Outcome != core.Created {
			t.Fatalf("user %d: %+v", i, r)
		}
		if admins[r.TargetID] != (i%3 == 0) || viewers[r.TargetID] != (i%3 != 2) {
			t.Fatalf("user %d (%s): admin %v viewer %v", i, r.TargetID, admins[r.TargetID], viewers[r.TargetID])
		}
	}
	if r := res[120]; r.Outcome != core.Rejected || !strings.Contains(r.Reason, `role "no-such-role" does not exist`) || r.TargetID == "" {
		t.Fatalf("user with unknown role: %+v", r)
	}
	// Second run with upsert: ids come from lookups, roles stay assigned, no duplicates.
	sink2 := tn.sink(t, func(c *Auth0Config) { c.Upsert = true })
	res2 := writeAll(t, sink2, encodeItems(t, users[:120]))
	for i, r := range res2 {
		// Ids are looked up only for users with roles to assign (an upsert keeps the id).
		if r.Outcome != core.Updated || (i%3 != 2) != (r.TargetID == res[i].TargetID) {
			t.Fatalf("rerun user %d: %+v (first %s)", i, r, res[i].TargetID)
		}
	}
	if got := roleMembers(t, sink2, "admin"); len(got) != len(admins) {
		t.Fatalf("admins %d after rerun, %d before", len(got), len(admins))
	}
}

// With faults (5xx, dropped and truncated answers) every user ends written exactly once
// or rejected with a reason; nothing is lost or duplicated, and the counts match the
// tenant.
func TestAuth0Faults(t *testing.T) {
	onlyJobCreation := func(r *http.Request) bool {
		return !(r.Method == http.MethodPost && r.URL.Path == "/api/v2/jobs/users-imports")
	}
	tests := []struct {
		name   string
		upsert bool
		cfg    faults.Config
		skip   func(*http.Request) bool
	}{
		{"insert", false, faults.Config{Rate5xx: 0.08, Drop: 0.05, Truncate: 0.08, Seed: 11}, nil},
		{"upsert", true, faults.Config{Rate5xx: 0.08, Drop: 0.05, Truncate: 0.08, Seed: 12}, nil},
		// A third of the job creations lose their answer after the job was created: the retry
		// makes a second job for the same users, which must not count them twice.
		{"lost creations insert", false, faults.Config{Truncate: 0.3, Seed: 3}, onlyJobCreation},
		{"lost creations upsert", true, faults.Config{Truncate: 0.3, Seed: 4}, onlyJobCreation},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var inj *faults.Injector
			tn := newTenant(t, sandbox.Config{}, func(h http.Handler) http.Handler {
				inj = faults.New(h, tc.cfg, faults.Hooks{Skip: tc.skip})
				return inj
			})
			users := make([]*schemas.User, 400)
			for i := range users {
				users[i] = mkUser(i, "viewer")
			}
			before := tn.sb.Count()
			sink := tn.sink(t, func(c *Auth0Config) { c.FileLimit = 8192; c.Upsert = tc.upsert })
			sum := runPipeline(t, sink, users, 8)
			st := inj.Stats()
			t.Logf("summary %+v; faults %+v; jobs %d", sum, st, tn.rec.created)
			if st.Errors+st.Drops+st.Truncates == 0 {
				t.Fatal("no faults injected")
			}
			grew := int64(tn.sb.Count() - before)
			if sum.Created != grew || sum.Written+sum.Rejected != int64(len(users)) {
				t.Fatalf("created %d but the tenant grew by %d; summary %+v", sum.Created, grew, sum)
			}
			if sum.Rejected != 0 || sum.Updated != 0 {
				t.Fatalf("rejected %d, updated %d under faults (an empty tenant)", sum.Rejected, sum.Updated)
			}
			// Every user once, with its role.
			members := roleMembers(t, sink, "viewer")
			for i := range users {
				raw := tn.sb.User("auth0|src" + pad5(i))
				if raw == nil || !members["auth0|src"+pad5(i)] {
					t.Fatalf("user %d missing or without role", i)
				}
			}
		})
	}
}

// When the job's report does not account for every user, users are looked up: one not
// in the target is never reported written.
func TestAuth0Reconcile(t *testing.T) {
	tn := newTenant(t, sandbox.Config{})
	// Hide the job's error list: the summary says 1 failed, but no error names it.
	tn.rec.wrap = func(w http.ResponseWriter, r *http.Request, next http.Handler) bool {
		if strings.HasSuffix(r.URL.Path, "/errors") {
			w.WriteHeader(http.StatusNoContent)
			return true
		}
		return false
	}
	items := encodeItems(t, []*schemas.User{mkUser(1), mkUser(2)})
	items = append(items, core.Item{Ref: "bad", Data: []byte(`{"email":"bad@example.com","user_id":"b2","blocked":"yes"}`)})
	res, err := tn.sink(t).Write(context.Background(), items)
	if err != nil {
		t.Fatal(err)
	}
	if res[0].Outcome != core.Created || res[1].Outcome != core.Created || res[0].TargetID != "auth0|src00001" {
		t.Fatalf("written users: %+v", res[:2])
	}
	if res[2].Outcome != core.Rejected || !strings.Contains(res[2].Reason, "did not report this user") {
		t.Fatalf("unreported user: %+v", res[2])
	}
}

func TestAuth0Identities(t *testing.T) {
	social := json.RawMessage(`{"connection":"google-oauth2","provider":"google-oauth2","user_id":1191220092,"isSocial":true,
		"profileData":{"email":"alt@gmail.example","email_verified":true,"name":"Alt","given_name":"A"}}`)
	db := json.RawMessage(`{"connection":"Username-Password-Authentication","provider":"auth0","user_id":"dbsecond",
		"profileData":{"email":"second@example.com","email_verified":false}}`)
	sameEmail := json.RawMessage(`{"connection":"google-oauth2","provider":"google-oauth2","user_id":"77",
		"profileData":{"email":"user00003@example.com"}}`)
	primary := json.RawMessage(`{"connection":"Username-Password-Authentication","provider":"auth0","user_id":"src"}`)
	withIDs := func(i int, ids ...json.RawMessage) *schemas.User {
		u := mkUser(i)
		u.Ferry.Identities = append([]json.RawMessage{primary}, ids...)
		return u
	}

	t.Run("unlink", func(t *testing.T) {
		tn := newTenant(t, sandbox.Config{})
		users := []*schemas.User{withIDs(1, social), withIDs(3, sameEmail)}
		res := writeAll(t, tn.sink(t, func(c *Auth0Config) { c.Unlink = true }), encodeItems(t, users))
		if res[0].Outcome != core.Created {
			t.Fatalf("%+v", res[0])
		}
		raw := tn.sb.User("auth0|1191220092")
		if raw == nil {
			t.Fatal("secondary identity not imported as its own user")
		}
		var m map[string]any
		_ = json.Unmarshal(raw, &m)
		if m["email"] != "alt@gmail.example" || m["app_metadata"] != nil || m["user_metadata"] != nil {
			t.Fatalf("unlinked user %s", raw)
		}
		if res[1].Outcome != core.Rejected || !strings.Contains(res[1].Reason, "one database connection cannot hold both") {
			t.Fatalf("same-email identity: %+v", res[1])
		}
		if tn.sb.User("auth0|src00003") != nil {
			t.Fatal("a rejected user was written")
		}
	})
	t.Run("social without unlink", func(t *testing.T) {
		tn := newTenant(t, sandbox.Config{})
		res := writeAll(t, tn.sink(t), encodeItems(t, []*schemas.User{withIDs(1, social)}))
		if res[0].Outcome != core.Rejected || !strings.Contains(res[0].Reason, "google-oauth2|1191220092") ||
			!strings.Contains(res[0].Reason, "unlink=true") || tn.sb.User("auth0|src00001") != nil {
			t.Fatalf("%+v", res[0])
		}
	})
	t.Run("relink database identity", func(t *testing.T) {
		tn := newTenant(t, sandbox.Config{})
		var linked []string
		// The sandbox links as Auth0 documents it (POST /api/v2/users/{id}/identities); the
		// wrapper only records the calls.
		tn.rec.wrap = func(w http.ResponseWriter, r *http.Request, next http.Handler) bool {
			if r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/identities") {
				linked = append(linked, strings.TrimPrefix(r.URL.Path, "/api/v2/users/"))
			}
			return false
		}
		res := writeAll(t, tn.sink(t), encodeItems(t, []*schemas.User{withIDs(1, db)}))
		if res[0].Outcome != core.Created || len(linked) != 1 || linked[0] != "auth0|src00001/identities" {
			t.Fatalf("%+v, links %v", res[0], linked)
		}
		if tn.sb.User("auth0|dbsecond") != nil {
			t.Fatal("the linked identity is still a user of its own")
		}
		var primary struct {
			Identities []struct {
				UserID      string         `json:"user_id"`
				ProfileData map[string]any `json:"profileData"`
			} `json:"identities"`
		}
		if err := json.Unmarshal(tn.sb.User("auth0|src00001"), &primary); err != nil {
			t.Fatal(err)
		}
		if len(primary.Identities) != 2 || primary.Identities[1].UserID != "dbsecond" || primary.Identities[1].ProfileData == nil {
			t.Fatalf("primary identities after linking: %+v", primary.Identities)
		}
	})
}

func TestAuth0Redact(t *testing.T) {
	s := &Auth0{api: newAuth0API(mustClient(t))}
	item := []byte(`{"email":"a@b.c","password_hash":"$2b$10$abcdefghijklmnopqrstuv","custom_password_hash":{"hash":{"value":"c2VjcmV0c2VjcmV0"}}}`)
	got := s.redact("PATTERN: String does not match: $2b$10$abcdefghijklmnopqrstuv and c2VjcmV0c2VjcmV0", item)
	if strings.Contains(got, "abcdefghij") || strings.Contains(got, "c2VjcmV0") {
		t.Fatalf("secret kept: %s", got)
	}
}

func mustClient(t *testing.T) *httpx.Client {
	c, err := httpx.New(httpx.Config{BaseURL: "http://127.0.0.1:1/"})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// A client configured faster than the tenant's rate limit follows the tenant's rate
// headers instead: at most the warm-up meets a 429 (which it waits out), and no user is
// lost. (Bouncing off 429s without headers is internal/httpx's test.)
func TestAuth0RateLimited(t *testing.T) {
	tn := newTenant(t, sandbox.Config{Buckets: map[string]sandbox.Bucket{sandbox.BucketGlobal: {Burst: 3, PerSecond: 20}}})
	users := make([]*schemas.User, 100)
	for i := range users {
		users[i] = mkUser(i, "viewer")
	}
	sink := tn.sink(t, func(c *Auth0Config) {
		c.FileLimit = 4096
		c.Limiter = httpx.NewLimiter(60, 10) // 3× over the tenant's budget
	})
	sum := runPipeline(t, sink, users, 8)
	tn.rec.mu.Lock()
	n429 := tn.rec.all429
	tn.rec.mu.Unlock()
	t.Logf("summary %+v, 429s %d", sum, n429)
	if sum.Created != int64(len(users)) || n429 > 3 {
		t.Fatalf("created %d of %d, 429s %d (want every user, and 429s only while warming up)", sum.Created, len(users), n429)
	}
	if got := roleMembers(t, sink, "viewer"); len(got) < len(users) {
		t.Fatalf("%d role members", len(got))
	}
}
