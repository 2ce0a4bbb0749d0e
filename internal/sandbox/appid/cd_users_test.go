package appid

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/segmentio/encoding/json"
)

// The FACTS.md rows of the Cloud Directory user endpoints (cd_users.go), registered beside
// the others of facts_table_test.go.
func init() {
	factChecks["path.cd.users"] = checkCDPath
	factChecks["path.cd.user"] = checkCDPath
	factChecks["query.cd.users"] = checkCDQuery
	factChecks["json.cd.users.list"] = func(t *testing.T, e *factEnv, v string) {
		r := e.do("GET", "/cloud_directory/Users?count=3", nil).must(t, 200)
		shape(t, "CD user list", r.body, v)
		if r.body["totalResults"] != float64(55) || r.body["itemsPerPage"] != float64(3) {
			t.Errorf("totalResults/itemsPerPage %v/%v, want 55/3", r.body["totalResults"], r.body["itemsPerPage"])
		}
	}
	factChecks["json.cd.user"] = func(t *testing.T, e *factEnv, v string) {
		for _, u := range resources(t, e.do("GET", "/cloud_directory/Users?count=5", nil).must(t, 200)) {
			shape(t, "listed CD user", u, v)
			shape(t, "CD user", e.do("GET", "/cloud_directory/Users/"+u["id"].(string), nil).must(t, 200).body, v)
		}
	}
	factChecks["json.cd.user.put"] = checkCDPut
	factChecks["json.cd.search.identity"] = checkCDProfile
}

// cdUser0 is the first seeded Cloud Directory user, as the list shows it.
func (e *factEnv) cdUser0(t *testing.T) map[string]any {
	t.Helper()
	return resources(t, e.do("GET", "/cloud_directory/Users?query=cd000%40example.com", nil).must(t, 200))[0]
}

func resources(t *testing.T, r reply) []map[string]any {
	t.Helper()
	arr, ok := r.body["Resources"].([]any)
	if !ok {
		t.Fatalf("no Resources array: %s", r.raw)
	}
	out := make([]map[string]any, len(arr))
	for i, x := range arr {
		out[i], _ = x.(map[string]any)
	}
	return out
}

func checkCDPath(t *testing.T, e *factEnv, v string) {
	methods, path, ok := strings.Cut(v, " ")
	if !ok {
		t.Fatalf("value %q is not METHODS PATH", v)
	}
	u := e.cdUser0(t)
	path = strings.ReplaceAll(path, "{userId}", u["id"].(string))
	for _, m := range strings.Split(methods, ",") {
		var body any
		if m == http.MethodPut {
			body = map[string]any{"emails": u["emails"], "displayName": "Put Check"}
		}
		if r := e.do(m, path, body); r.status != http.StatusOK {
			t.Errorf("%s %s: %d %s", m, path, r.status, r.raw)
		}
	}
	if r := e.do(http.MethodPatch, path, nil); r.status != http.StatusNotFound {
		t.Errorf("PATCH %s: %d, want 404", path, r.status)
	}
	if strings.HasSuffix(v, "{userId}") {
		e.do("GET", "/cloud_directory/Users/no-such-user", nil).appErr(t, 404)
	}
}

func checkCDQuery(t *testing.T, e *factEnv, v string) {
	all, _ := fields(v)
	list := func(q url.Values) []map[string]any {
		return resources(t, e.do("GET", "/cloud_directory/Users?"+q.Encode(), nil).must(t, 200))
	}
	whole := list(url.Values{"count": {"10"}})
	for _, f := range all {
		switch f {
		case "count":
			if n := len(list(url.Values{"count": {"1"}})); n != 1 {
				t.Errorf("count=1: %d users", n)
			}
			if n := len(list(url.Values{"count": {"500"}})); n != 50 {
				t.Errorf("count=500: %d users, want the cap of 50", n)
			}
		case "startIndex":
			got := list(url.Values{"startIndex": {"1"}, "count": {"1"}})
			if len(got) != 1 || got[0]["id"] != whole[1]["id"] {
				t.Errorf("startIndex=1 is not the second user (0-based): %v", got)
			}
		case "query":
			for _, q := range []string{"CD003@Example.com", "cd003"} {
				got := list(url.Values{"query": {q}})
				if len(got) != 1 || got[0]["userName"] != "cd003" {
					t.Errorf("query=%s (e-mail or userName, case aside) found %v", q, got)
				}
			}
			if got := list(url.Values{"query": {"cd00"}}); len(got) != 0 {
				t.Errorf("query=cd00 (not exact) found %d users", len(got))
			}
		default:
			t.Errorf("no behaviour known for parameter %s", f)
		}
	}
}

func checkCDPut(t *testing.T, e *factEnv, v string) {
	u := e.cdUser0(t)
	path := "/cloud_directory/Users/" + u["id"].(string)
	_, req := fields(v)
	for f := range req {
		body := map[string]any{"emails": u["emails"], "displayName": "X"}
		delete(body, f)
		e.do("PUT", path, body).appErr(t, 400)
	}
	before := exportedCD(t, e, "cd000")
	r := e.do("PUT", path, map[string]any{"emails": u["emails"], "displayName": "Changed", "active": false,
		"status": "CONFIRMED", "password": "a new clear-text password"}).must(t, 200)
	if r.body["displayName"] != "Changed" || r.body["active"] != false || r.body["status"] != "CONFIRMED" {
		t.Errorf("PUT answer does not hold the change: %s", r.raw)
	}
	got := e.do("GET", path, nil).must(t, 200).body
	if got["displayName"] != "Changed" || got["userName"] != "cd000" {
		t.Errorf("GET after PUT: %v", got)
	}
	after := exportedCD(t, e, "cd000")
	if e.srv.cd[u["id"].(string)].passwordHash != "$2a$10$hash000" || after["passwordHashAlg"] != before["passwordHashAlg"] {
		t.Errorf("PUT changed the stored password hash")
	}
	// Another user's e-mail is taken.
	other := e.do("GET", "/cloud_directory/Users?query=cd001", nil).must(t, 200)
	if r := e.do("PUT", path, map[string]any{"emails": resources(t, other)[0]["emails"]}); r.status != http.StatusConflict {
		t.Errorf("PUT with another user's e-mail: %d, want 409", r.status)
	}
}

func exportedCD(t *testing.T, e *factEnv, userName string) map[string]any {
	t.Helper()
	for _, u := range users(e.do("GET", "/cloud_directory/export?encryption_secret=s3&count=50", nil).must(t, 200)) {
		if u["scimUser"].(map[string]any)["userName"] == userName {
			return u
		}
	}
	t.Fatalf("%s not exported", userName)
	return nil
}

func checkCDProfile(t *testing.T, e *factEnv, v string) {
	u := e.cdUser0(t)
	hits := users(e.do("GET", "/users?dataScope=full&email=CD000%40example.com", nil).must(t, 200))
	if len(hits) != 1 {
		t.Fatalf("GET /users?email= of a Cloud Directory user: %d hits", len(hits))
	}
	p := hits[0]
	ident, _ := p["identities"].([]any)
	if len(ident) != 1 {
		t.Fatalf("profile identities %v", p["identities"])
	}
	id0 := ident[0].(map[string]any)
	if id0["provider"] != v || id0["id"] != u["id"] || p["id"] == u["id"] {
		t.Errorf("profile %v: want identity {%s, %v} and an id of its own", p, v, u["id"])
	}
	if fmt.Sprint(p["attributes"]) != "map[i:0]" {
		t.Errorf("profile attributes %v, want the imported ones", p["attributes"])
	}
	idx := users(e.do("GET", "/users?dataScope=index&email=cd000%40example.com", nil).must(t, 200))
	if len(idx) != 1 || idx[0]["idp"] != v {
		t.Errorf("index hit %v, want idp %s", idx, v)
	}
	// The profile is where the attributes and roles live: the export reads them there.
	pid := p["id"].(string)
	e.do("PUT", "/users/"+pid+"/profile", map[string]any{"attributes": map[string]any{"k": "v"}}).must(t, 200)
	e.do("PUT", "/users/"+pid+"/roles", map[string]any{"roles": map[string]any{"ids": []any{e.role["id"]}}}).must(t, 200)
	x := exportedCD(t, e, "cd000")
	if fmt.Sprint(x["profile"]) != "map[attributes:map[k:v]]" || fmt.Sprint(x["roles"]) != "[admin]" {
		t.Errorf("export after PUT profile/roles: profile %v roles %v", x["profile"], x["roles"])
	}
	// The profile export lists imported profiles only, as before.
	for _, ex := range users(e.do("GET", "/users/export?count=50", nil).must(t, 200)) {
		if ex["id"] == pid {
			t.Errorf("users/export lists the Cloud Directory user's profile")
		}
	}
}

// FuzzCDUserPut: any PUT body is answered 200, 400 or 409, never a panic, and after a 200
// the user is still found by the e-mail or userName it now has.
func FuzzCDUserPut(f *testing.F) {
	f.Add([]byte(`{"emails":[{"value":"new@example.com","primary":true}],"displayName":"N","active":false}`))
	f.Add([]byte(`{"emails":[{"value":"cd001@example.com"}]}`))
	f.Add([]byte(`{"emails":[{"value":5}],"userName":["x"]}`))
	f.Add([]byte(`{"emails":[{}],"active":"yes"}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		s, err := New(Config{CDUsers: []json.RawMessage{genCD(0), genCD(1)}})
		if err != nil {
			t.Fatal(err)
		}
		id := s.cdOrder[0].id
		w := httptest.NewRecorder()
		s.handleCDUser(w, httptest.NewRequest(http.MethodPut, "/x", bytes.NewReader(body)), id)
		switch w.Code {
		case http.StatusOK:
			u := s.cd[id]
			if s.cdIndex[u.key] != id || u.key == "" {
				t.Fatalf("%s: user no longer indexed by %q", body, u.key)
			}
		case http.StatusBadRequest, http.StatusConflict:
		default:
			t.Fatalf("%s: status %d", body, w.Code)
		}
	})
}
