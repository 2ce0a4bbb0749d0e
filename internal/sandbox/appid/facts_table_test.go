package appid

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/encoding/json"
)

// TestFactsTable holds the sandbox to FACTS.md: every row has a check, run with the row's
// value, and every check has a row.
func TestFactsTable(t *testing.T) {
	rows, err := Facts()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) < 40 {
		t.Fatalf("FACTS.md has only %d rows", len(rows))
	}
	seen := map[string]bool{}
	for _, r := range rows {
		seen[r.ID] = true
		check, ok := factChecks[r.ID]
		if !ok {
			t.Errorf("FACTS.md row %s has no check in factChecks", r.ID)
			continue
		}
		t.Run(r.ID, func(t *testing.T) { check(t, factTenant(t), r.Value) })
	}
	for id := range factChecks {
		if !seen[id] {
			t.Errorf("check %s has no row in FACTS.md", id)
		}
	}
}

// factTenant is a small instance with one application, one role, profiles from three
// identity providers and Cloud Directory users, reached over HTTP.
func factTenant(t *testing.T) *factEnv {
	var cd []json.RawMessage
	for i := 0; i < 55; i++ {
		cd = append(cd, genCD(i))
	}
	h := newHarness(t, Config{UserGen: genUser, UserCount: 6, CDUsers: cd,
		Applications: []AppSeed{{Name: "web", Scopes: []string{"read", "write"}}},
		Roles:        []RoleSeed{{Name: "admin", Access: map[string][]string{"web": {"read"}}}}})
	e := &factEnv{harness: h}
	e.user = users(h.do("GET", "/users/export", nil).must(t, 200))[0]
	e.role = h.do("GET", "/roles", nil).must(t, 200).body["roles"].([]any)[0].(map[string]any)
	e.app = h.do("GET", "/applications", nil).must(t, 200).body["applications"].([]any)[0].(map[string]any)
	return e
}

type factEnv struct {
	*harness
	user, role, app map[string]any
}

func (e *factEnv) fill(path string) string {
	return strings.NewReplacer("{id}", e.user["id"].(string), "{roleId}", e.role["id"].(string),
		"{clientId}", e.app["clientId"].(string)).Replace(path)
}

// body is a valid request body for method and path (as the SDK sends it).
func (e *factEnv) body(method, path string) any {
	switch {
	case method == http.MethodPut && strings.HasSuffix(path, "/profile"):
		return map[string]any{"attributes": map[string]any{"a": 1}}
	case method == http.MethodPut && strings.HasPrefix(path, "/users/") && strings.HasSuffix(path, "/roles"):
		return map[string]any{"roles": map[string]any{"ids": []any{e.role["id"]}}}
	case method == http.MethodPut && strings.HasSuffix(path, "/scopes"):
		return map[string]any{"scopes": []any{"read", "write"}}
	case path == "/roles" || strings.HasPrefix(path, "/roles/"):
		return map[string]any{"name": "editor", "description": "d",
			"access": []any{map[string]any{"application_id": e.app["clientId"], "scopes": []any{"read"}}}}
	case path == "/users/import":
		return map[string]any{"users": []any{json.RawMessage(genUser(900))}}
	case path == "/cloud_directory/import":
		return map[string]any{"users": []any{}}
	}
	return nil
}

// query is what a path needs to be answered at all (its required parameters).
func query(path string) string {
	switch path {
	case "/users":
		return "?dataScope=index"
	case "/cloud_directory/export", "/cloud_directory/import":
		return "?encryption_secret=s3"
	}
	return ""
}

func fields(v string) ([]string, map[string]bool) { return FactFields(v) }

// shape checks obj against a field list: required fields present, no field outside it.
func shape(t *testing.T, what string, obj any, v string) {
	t.Helper()
	m, ok := obj.(map[string]any)
	if !ok {
		t.Fatalf("%s is not an object: %v", what, obj)
	}
	all, req := fields(v)
	for f := range req {
		if _, ok := m[f]; !ok {
			t.Errorf("%s lacks required %s: %v", what, f, m)
		}
	}
	for k := range m {
		if !slices.Contains(all, k) {
			t.Errorf("%s has %q, which the source does not define (%s)", what, k, v)
		}
	}
}

func objects(t *testing.T, v any) []any {
	t.Helper()
	arr, ok := v.([]any)
	if !ok || len(arr) == 0 {
		t.Fatalf("want a non-empty array, got %v", v)
	}
	return arr
}

func checkPath(t *testing.T, e *factEnv, v string) {
	methods, path, ok := strings.Cut(v, " ")
	if !ok {
		t.Fatalf("value %q is not METHODS PATH", v)
	}
	for _, m := range strings.Split(methods, ",") {
		r := e.do(m, e.fill(path)+query(path), e.body(m, path))
		if r.status < 200 || r.status > 299 {
			t.Errorf("%s %s: %d %s", m, path, r.status, r.raw)
		}
	}
	// The next method over is not a route: the table names every method ferry may use.
	if r := e.do(http.MethodPatch, e.fill(path)+query(path), nil); r.status != http.StatusNotFound {
		t.Errorf("PATCH %s: %d, want 404", path, r.status)
	}
}

// checkQuery checks each parameter of v on GET|POST path, as the sandbox must treat it.
func checkQuery(method, path string) func(*testing.T, *factEnv, string) {
	return func(t *testing.T, e *factEnv, v string) {
		all, req := fields(v)
		base := url.Values{}
		for f := range req {
			switch f {
			case "dataScope":
				base.Set(f, "index")
			case "encryption_secret":
				base.Set(f, "s3")
			}
		}
		call := func(q url.Values) reply {
			return e.do(method, path+"?"+q.Encode(), e.body(method, path))
		}
		for f := range req {
			q := cloneValues(base)
			q.Del(f)
			if r := call(q); r.status != http.StatusBadRequest {
				t.Errorf("%s %s without required %s: %d, want 400", method, path, f, r.status)
			}
		}
		whole := users(call(base).must(t, 200))
		for _, f := range all {
			q := cloneValues(base)
			switch f {
			case "dataScope", "encryption_secret":
				// covered above (required)
			case "count":
				q.Set("count", "1")
				if n := len(users(call(q).must(t, 200))); n != 1 {
					t.Errorf("count=1: %d users", n)
				}
			case "startIndex":
				q.Set("startIndex", "1")
				q.Set("count", "1")
				got := users(call(q).must(t, 200))
				if len(got) != 1 || itemKey(got[0]) != itemKey(whole[1]) {
					t.Errorf("startIndex=1 is not the second user (0-based): %v", got)
				}
			case "email":
				q.Set("email", strings.ToUpper(e.user["email"].(string)))
				got := users(call(q).must(t, 200))
				if len(got) != 1 || got[0]["id"] != e.user["id"] {
					t.Errorf("email= (case-insensitive) found %v", got)
				}
			case "id":
				ident := e.user["identities"].([]any)[0].(map[string]any)
				q.Set("id", fmt.Sprint(ident["id"]))
				got := users(call(q).must(t, 200))
				if len(got) != 1 || got[0]["id"] != e.user["id"] {
					t.Errorf("id=<IdP user id> found %v", got)
				}
			default:
				t.Errorf("no behaviour known for parameter %s", f)
			}
		}
	}
}

// itemKey names an exported item: a profile by id, a Cloud Directory user by scimUser.id
// (its passwordHash is encrypted afresh on every export).
func itemKey(u map[string]any) string {
	if su, ok := u["scimUser"].(map[string]any); ok {
		return fmt.Sprint(su["id"])
	}
	return fmt.Sprint(u["id"])
}

// created accepts the 2xx answers of a create.
func created(t *testing.T, r reply) reply {
	t.Helper()
	if r.status != http.StatusOK && r.status != http.StatusCreated {
		t.Fatalf("status %d, want 200 or 201: %s", r.status, r.raw)
	}
	return r
}

func cloneValues(v url.Values) url.Values {
	out := url.Values{}
	for k, vs := range v {
		out[k] = append([]string(nil), vs...)
	}
	return out
}

func intValue(t *testing.T, v string) int {
	t.Helper()
	n, err := strconv.Atoi(v)
	if err != nil {
		t.Fatalf("value %q is not a number", v)
	}
	return n
}

var factChecks = map[string]func(*testing.T, *factEnv, string){
	"iam.path": func(t *testing.T, e *factEnv, v string) {
		method, path, _ := strings.Cut(v, " ")
		if method != http.MethodPost || path != "/identity/token" {
			t.Fatalf("unexpected value %q", v)
		}
		e.tokenReq("test-api-key").must(t, 200) // tokenReq posts to /identity/token
		req, _ := http.NewRequest(http.MethodGet, e.url+path, nil)
		if r := send(t, req); r.status == 200 {
			t.Error("GET on the token endpoint issued a token")
		}
	},
	"iam.grant": func(t *testing.T, e *factEnv, v string) {
		for grant, want := range map[string]int{v: 200, "client_credentials": 400, "": 400} {
			form := url.Values{"grant_type": {grant}, "apikey": {"test-api-key"}}
			req, _ := http.NewRequest(http.MethodPost, e.url+"/identity/token", strings.NewReader(form.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			if r := send(t, req); r.status != want {
				t.Errorf("grant_type %q: %d, want %d", grant, r.status, want)
			}
		}
	},
	"iam.form": func(t *testing.T, e *factEnv, v string) {
		all, _ := fields(v)
		full := url.Values{"grant_type": {"urn:ibm:params:oauth:grant-type:apikey"}, "apikey": {"test-api-key"}}
		for _, f := range all {
			if !full.Has(f) {
				t.Fatalf("no value known for form field %s", f)
			}
			form := cloneValues(full)
			form.Del(f)
			req, _ := http.NewRequest(http.MethodPost, e.url+"/identity/token", strings.NewReader(form.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			if r := send(t, req); r.status != 400 {
				t.Errorf("without %s: %d, want 400", f, r.status)
			}
		}
	},
	"iam.response": func(t *testing.T, e *factEnv, v string) {
		r := e.tokenReq("test-api-key").must(t, 200)
		shape(t, "token answer", r.body, v)
		if exp := r.body["expiration"].(float64); int64(exp) != e.clk.Now().Unix()+int64(r.body["expires_in"].(float64)) {
			t.Errorf("expiration %v is not now + expires_in", exp)
		}
	},
	"iam.error": func(t *testing.T, e *factEnv, v string) {
		shape(t, "IAM error", e.tokenReq("wrong-key").must(t, 400).body, v)
	},
	"iam.error.badkey": func(t *testing.T, e *factEnv, v string) {
		status, code, _ := strings.Cut(v, " ")
		r := e.tokenReq("wrong-key").must(t, intValue(t, status))
		if r.body["errorCode"] != code {
			t.Errorf("errorCode %v, want %s", r.body["errorCode"], code)
		}
		if strings.Contains(string(r.raw), "wrong-key") {
			t.Error("the API key is echoed")
		}
	},
	"path.users.export":  checkPath,
	"path.users.import":  checkPath,
	"path.users.search":  checkPath,
	"path.users.profile": checkPath,
	"path.users.roles":   checkPath,
	"path.users.delete":  checkPath,
	"path.cd.export":     checkPath,
	"path.cd.import":     checkPath,
	"path.roles":         checkPath,
	"path.role":          checkPath,
	"path.apps":          checkPath,
	"path.app.scopes":    checkPath,

	"query.users.export": checkQuery(http.MethodGet, "/users/export"),
	"query.users.search": checkQuery(http.MethodGet, "/users"),
	"query.cd.export":    checkQuery(http.MethodGet, "/cloud_directory/export"),
	"query.cd.import": func(t *testing.T, e *factEnv, v string) {
		_, req := fields(v)
		if !req["encryption_secret"] || len(req) != 1 {
			t.Fatalf("unexpected value %q", v)
		}
		e.do("POST", "/cloud_directory/import", map[string]any{"users": []any{}}).appErr(t, 400)
		e.do("POST", "/cloud_directory/import?encryption_secret=s3", map[string]any{"users": []any{}}).must(t, 200)
	},

	"json.export.page": func(t *testing.T, e *factEnv, v string) {
		_, req := fields(v)
		body := e.do("GET", "/users/export", nil).must(t, 200).body
		for f := range req {
			if _, ok := body[f]; !ok {
				t.Errorf("export answer lacks %s", f)
			}
		}
	},
	"json.export.item": func(t *testing.T, e *factEnv, v string) {
		for _, u := range objects(t, e.do("GET", "/users/export", nil).must(t, 200).body["users"]) {
			shape(t, "export item", u, v)
		}
		// The same shape imports, and every field a client sets comes back (idp, hashedIdpId
		// and hashedEmail are the instance's own, derived from the identity; id is replaced).
		item := map[string]any{"id": "orig-x", "identities": []any{map[string]any{"provider": "google", "id": "new-1"}},
			"attributes": map[string]any{"k": "v"}, "name": "N", "email": "n@example.com", "picture": "https://p.example/n",
			"gender": "female", "locale": "de", "preferred_username": "nn", "roles": []any{e.role["name"]}}
		all, _ := fields(v)
		for k := range item {
			if !slices.Contains(all, k) {
				t.Fatalf("test item field %s is not in the row", k)
			}
		}
		if r := e.do("POST", "/users/import", map[string]any{"users": []any{item}}).must(t, 200); r.body["added"] != float64(1) {
			t.Fatalf("an export item does not import: %s", r.raw)
		}
		got := users(e.do("GET", "/users?dataScope=full&email=n@example.com", nil).must(t, 200))
		if len(got) != 1 {
			t.Fatalf("imported user not found: %v", got)
		}
		for k, want := range item {
			if k != "id" && fmt.Sprint(got[0][k]) != fmt.Sprint(want) {
				t.Errorf("%s: imported %v, exported %v", k, want, got[0][k])
			}
		}
	},
	"json.identity": func(t *testing.T, e *factEnv, v string) {
		all, _ := fields(v)
		for _, id := range objects(t, e.user["identities"]) {
			m := id.(map[string]any)
			for _, f := range all {
				if _, ok := m[f]; !ok {
					t.Errorf("seeded identity lacks %s: %v", f, m)
				}
			}
		}
	},
	"json.import.body": func(t *testing.T, e *factEnv, v string) {
		_, req := fields(v)
		for f := range req {
			e.do("POST", "/users/import", map[string]any{"not" + f: []any{}}).appErr(t, 400)
			e.do("POST", "/users/import", map[string]any{f: []any{}}).must(t, 200)
		}
	},
	"json.import.result": func(t *testing.T, e *factEnv, v string) {
		shape(t, "import answer", e.do("POST", "/users/import", e.body("POST", "/users/import")).must(t, 200).body, v)
	},
	"json.import.failReason": func(t *testing.T, e *factEnv, v string) {
		r := e.do("POST", "/users/import", map[string]any{"users": []any{e.user}}).must(t, 200) // a duplicate
		for _, fr := range objects(t, r.body["failReasons"]) {
			shape(t, "fail reason", fr, v)
		}
	},
	"json.search.result": func(t *testing.T, e *factEnv, v string) {
		shape(t, "search answer", e.do("GET", "/users?dataScope=index", nil).must(t, 200).body, v)
	},
	"json.search.requestOptions": func(t *testing.T, e *factEnv, v string) {
		r := e.do("GET", "/users?dataScope=index&startIndex=2&count=3", nil).must(t, 200)
		shape(t, "requestOptions", r.body["requestOptions"], v)
		if fmt.Sprint(r.body["requestOptions"]) != "map[count:3 startIndex:2]" {
			t.Errorf("requestOptions %v does not echo the paging", r.body["requestOptions"])
		}
	},
	"json.search.item": func(t *testing.T, e *factEnv, v string) {
		for _, u := range objects(t, e.do("GET", "/users?dataScope=index", nil).must(t, 200).body["users"]) {
			shape(t, "index hit", u, v)
		}
	},
	"json.profile.put": func(t *testing.T, e *factEnv, v string) {
		_, req := fields(v)
		for f := range req {
			e.do("PUT", e.fill("/users/{id}/profile"), map[string]any{"x" + f: map[string]any{}}).appErr(t, 400)
			r := e.do("PUT", e.fill("/users/{id}/profile"), map[string]any{f: map[string]any{"k": "v"}}).must(t, 200)
			if fmt.Sprint(r.body[f]) != "map[k:v]" {
				t.Errorf("PUT profile: %s", r.raw)
			}
		}
	},
	"json.userroles.put": func(t *testing.T, e *factEnv, v string) {
		outer, inner, ok := strings.Cut(v, ".")
		if !ok {
			t.Fatalf("value %q is not outer.inner", v)
		}
		body := map[string]any{outer: map[string]any{inner: []any{e.role["id"]}}}
		r := e.do("PUT", e.fill("/users/{id}/roles"), body).must(t, 200)
		if got := objects(t, r.body["roles"]); len(got) != 1 || got[0].(map[string]any)["id"] != e.role["id"] {
			t.Errorf("PUT roles: %s", r.raw)
		}
	},
	"json.userroles.item": func(t *testing.T, e *factEnv, v string) {
		e.do("PUT", e.fill("/users/{id}/roles"), e.body("PUT", "/users/{id}/roles")).must(t, 200)
		for _, ro := range objects(t, e.do("GET", e.fill("/users/{id}/roles"), nil).must(t, 200).body["roles"]) {
			shape(t, "user role", ro, v)
		}
	},
	"json.cd.item": func(t *testing.T, e *factEnv, v string) {
		for _, u := range objects(t, e.do("GET", "/cloud_directory/export?encryption_secret=s3", nil).must(t, 200).body["users"]) {
			shape(t, "CD item", u, v)
		}
	},
	"json.cd.profile": func(t *testing.T, e *factEnv, v string) {
		for _, u := range objects(t, e.do("GET", "/cloud_directory/export?encryption_secret=s3", nil).must(t, 200).body["users"]) {
			shape(t, "CD profile", u.(map[string]any)["profile"], v)
		}
	},
	"json.cd.import.result": func(t *testing.T, e *factEnv, v string) {
		shape(t, "CD import answer", e.do("POST", "/cloud_directory/import?encryption_secret=s3", map[string]any{"users": []any{}}).must(t, 200).body, v)
	},
	"json.cd.import.failReason": func(t *testing.T, e *factEnv, v string) {
		page := e.do("GET", "/cloud_directory/export?encryption_secret=s3&count=2", nil).must(t, 200)
		r := e.do("POST", "/cloud_directory/import?encryption_secret=s3", map[string]any{"users": page.body["users"]}).must(t, 200) // duplicates
		frs := objects(t, r.body["failReasons"])
		for _, fr := range frs {
			shape(t, "CD fail reason", fr, v)
		}
		if m := frs[0].(map[string]any); m["email"] != "cd000@example.com" || m["userName"] != "cd000" || m["id"] == "" {
			t.Errorf("CD fail reason does not name the user: %v", m)
		}
	},
	"json.role": func(t *testing.T, e *factEnv, v string) {
		shape(t, "listed role", e.role, v)
		shape(t, "created role", created(t, e.do("POST", "/roles", e.body("POST", "/roles"))).body, v)
		upd := e.body("PUT", "/roles/{roleId}").(map[string]any)
		upd["name"] = e.role["name"]
		shape(t, "updated role", e.do("PUT", e.fill("/roles/{roleId}"), upd).must(t, 200).body, v)
	},
	"json.role.access": func(t *testing.T, e *factEnv, v string) {
		for _, a := range objects(t, e.role["access"]) {
			shape(t, "role access", a, v)
		}
	},
	"json.roles.list": func(t *testing.T, e *factEnv, v string) {
		objects(t, e.do("GET", "/roles", nil).must(t, 200).body[v])
	},
	"json.apps.list": func(t *testing.T, e *factEnv, v string) {
		objects(t, e.do("GET", "/applications", nil).must(t, 200).body[v])
	},
	"json.scopes": func(t *testing.T, e *factEnv, v string) {
		path := e.fill("/applications/{clientId}/scopes")
		if got := fmt.Sprint(e.do("GET", path, nil).must(t, 200).body[v]); got != "[read write]" {
			t.Errorf("GET scopes: %s", got)
		}
		e.do("PUT", path, map[string]any{v: []any{"read"}}).must(t, 200)
		if got := fmt.Sprint(e.do("GET", path, nil).must(t, 200).body[v]); got != "[read]" {
			t.Errorf("GET after PUT: %s", got)
		}
	},
	"enum.dataScope": func(t *testing.T, e *factEnv, v string) {
		all, _ := fields(v)
		for _, s := range all {
			e.do("GET", "/users?dataScope="+s, nil).must(t, 200)
		}
		e.do("GET", "/users?dataScope=everything", nil).appErr(t, 400)
	},
	"enum.idp": func(t *testing.T, e *factEnv, v string) {
		all, _ := fields(v)
		for _, u := range users(e.do("GET", "/users?dataScope=index", nil).must(t, 200)) {
			if !slices.Contains(all, u["idp"].(string)) {
				t.Errorf("idp %q is not one of %s", u["idp"], v)
			}
		}
	},
	"limit.mgmt.rps": func(t *testing.T, e *factEnv, v string) {
		n := intValue(t, v)
		e.tick = 0
		e.clk.Advance(time.Minute) // a full bucket
		for i := 0; i < n; i++ {
			e.do("GET", "/roles", nil).must(t, 200)
		}
		e.do("GET", "/roles", nil).appErr(t, 429)
	},
	"limit.mgmt.block": func(t *testing.T, e *factEnv, v string) {
		secs := intValue(t, v)
		e.tick = 0
		e.clk.Advance(time.Minute)
		for e.do("GET", "/roles", nil).status != 429 {
		}
		e.clk.Advance(time.Duration(secs-1) * time.Second)
		if r := e.do("GET", "/roles", nil); r.status != 429 || r.header.Get("Retry-After") != "1" {
			t.Errorf("1 s before the end of the block: %d Retry-After %q", r.status, r.header.Get("Retry-After"))
		}
		e.clk.Advance(time.Second)
		e.do("GET", "/roles", nil).must(t, 200)
	},
	"limit.users": func(t *testing.T, e *factEnv, v string) {
		var l Limits
		l.defaults()
		if l.MaxUsers != intValue(t, v) {
			t.Errorf("default MaxUsers %d, want %s", l.MaxUsers, v)
		}
		// The limit itself, on an instance made small enough to fill (6 profiles + 55 CD users).
		h := newHarness(t, Config{UserGen: genUser, UserCount: 6, Limits: Limits{MaxUsers: 7}})
		r := h.do("POST", "/users/import", map[string]any{"users": []any{json.RawMessage(genUser(100)), json.RawMessage(genUser(101))}}).must(t, 200)
		if r.body["added"] != float64(1) || r.body["failed"] != float64(1) {
			t.Errorf("past the user limit: %s", r.raw)
		}
	},
	"limit.roles": func(t *testing.T, e *factEnv, v string) {
		n := intValue(t, v)
		for i := 1; i < n; i++ { // the seeded role is the first
			body := e.body("POST", "/roles").(map[string]any)
			body["name"] = fmt.Sprintf("role-%d", i)
			created(t, e.do("POST", "/roles", body))
		}
		body := e.body("POST", "/roles").(map[string]any)
		body["name"] = "one-too-many"
		e.do("POST", "/roles", body).appErr(t, 400)
	},
	"limit.scopes": func(t *testing.T, e *factEnv, v string) {
		n := intValue(t, v)
		var scopes []any
		for i := 0; i <= n; i++ {
			scopes = append(scopes, fmt.Sprintf("s%d", i))
		}
		path := e.fill("/applications/{clientId}/scopes")
		e.do("PUT", path, map[string]any{"scopes": scopes[:n]}).must(t, 200)
		e.do("PUT", path, map[string]any{"scopes": scopes}).appErr(t, 400)
	},
	"limit.apps": func(t *testing.T, e *factEnv, v string) {
		n := intValue(t, v)
		for i := 1; i < n; i++ { // the seeded application is the first
			created(t, e.do("POST", "/applications", map[string]any{"name": fmt.Sprintf("app-%d", i), "type": "regularwebapp"}))
		}
		e.do("POST", "/applications", map[string]any{"name": "one-too-many", "type": "regularwebapp"}).appErr(t, 400)
	},
	"limit.cd.request": func(t *testing.T, e *factEnv, v string) {
		n := intValue(t, v)
		r := e.do("GET", fmt.Sprintf("/cloud_directory/export?encryption_secret=s3&count=%d", n+1), nil).must(t, 200)
		if got := len(users(r)); got != n {
			t.Errorf("count=%d exported %d (55 seeded), want %d", n+1, got, n)
		}
		var many []any
		for i := 0; i <= n; i++ {
			many = append(many, genCD(1000+i))
		}
		e.do("POST", "/cloud_directory/import?encryption_secret=s3", map[string]any{"users": many}).appErr(t, 400)
		e.do("POST", "/cloud_directory/import?encryption_secret=s3", map[string]any{"users": many[:n]}).must(t, 200)
	},
}
