package scim

import (
	"net/http"
	"strings"
	"testing"

	"github.com/segmentio/encoding/json"
)

func TestCreateAndGet(t *testing.T) {
	h := newHarness(t, Config{BasePath: "/scim/v2"})
	r := h.do("POST", "/Users", user("Alice@Example.com", "password", "s3cret",
		"name", map[string]any{"givenname": "Alice"}, // attribute names are case-insensitive
		"emails", []any{map[string]any{"value": "alice@example.com", "type": "work", "primary": true}})).must(t, 201)
	id := str(r.body["id"])
	meta, _ := r.body["meta"].(map[string]any)
	if id == "" || r.header.Get("Location") != h.url+"/Users/"+id || str(meta["location"]) != h.url+"/Users/"+id {
		t.Fatalf("location: header %q meta %v", r.header.Get("Location"), meta)
	}
	if r.header.Get("ETag") == "" || r.header.Get("ETag") != str(meta["version"]) {
		t.Fatalf("ETag %q vs meta.version %v", r.header.Get("ETag"), meta["version"])
	}
	if _, ok := r.body["password"]; ok {
		t.Fatal("password returned")
	}
	if n, _ := r.body["name"].(map[string]any); n["givenName"] != "Alice" {
		t.Fatalf("name not canonicalized: %v", r.body["name"])
	}
	g := h.do("GET", "/Users/"+id, nil).must(t, 200)
	if g.body["userName"] != "Alice@Example.com" || str(g.body["meta"].(map[string]any)["created"]) != t0.Format("2006-01-02T15:04:05Z07:00") {
		t.Fatalf("get: %s", g.raw)
	}
	h.do("GET", "/Users/"+id, nil, "If-None-Match", r.header.Get("ETag")).must(t, 304)
	if st := h.do("GET", "/Users/nope", nil).scimErr(t, 404); st != "" {
		t.Fatalf("scimType %q", st)
	}
	stored, _ := h.srv.User(id)
	if !strings.Contains(string(stored), "s3cret") {
		t.Fatal("password not kept in the store")
	}
}

func TestUniqueness(t *testing.T) {
	h := newHarness(t, Config{})
	h.do("POST", "/Users", user("alice", "externalId", "E1")).must(t, 201)
	if st := h.do("POST", "/Users", user("ALICE")).scimErr(t, 409); st != errUniqueness {
		t.Fatalf("scimType %q", st)
	}
	if st := h.do("POST", "/Users", user("bob", "externalId", "E1")).scimErr(t, 409); st != errUniqueness {
		t.Fatalf("externalId: scimType %q", st)
	}
	bob := h.do("POST", "/Users", user("bob")).must(t, 201)
	// Renaming bob to Alice collides too, by PUT and by PATCH.
	id := str(bob.body["id"])
	if st := h.do("PUT", "/Users/"+id, user("Alice")).scimErr(t, 409); st != errUniqueness {
		t.Fatalf("PUT scimType %q", st)
	}
	patch := map[string]any{"schemas": []any{PatchURN}, "Operations": []any{
		map[string]any{"op": "replace", "path": "userName", "value": "aLiCe"}}}
	if st := h.do("PATCH", "/Users/"+id, patch).scimErr(t, 409); st != errUniqueness {
		t.Fatalf("PATCH scimType %q", st)
	}
	if h.srv.Len() != 2 {
		t.Fatalf("%d users", h.srv.Len())
	}
}

func TestETags(t *testing.T) {
	h := newHarness(t, Config{})
	r := h.do("POST", "/Users", user("carol")).must(t, 201)
	id, v1 := str(r.body["id"]), r.header.Get("ETag")
	r2 := h.do("PUT", "/Users/"+id, user("carol", "displayName", "Carol"), "If-Match", v1).must(t, 200)
	v2 := r2.header.Get("ETag")
	if v2 == v1 {
		t.Fatal("version did not change")
	}
	h.do("PUT", "/Users/"+id, user("carol", "displayName", "Stale"), "If-Match", v1).scimErr(t, 412)
	patch := map[string]any{"schemas": []any{PatchURN}, "Operations": []any{map[string]any{"op": "add", "path": "title", "value": "x"}}}
	h.do("PATCH", "/Users/"+id, patch, "If-Match", v1).scimErr(t, 412)
	h.do("DELETE", "/Users/"+id, nil, "If-Match", v1).scimErr(t, 412)
	// A PUT that changes nothing keeps the version.
	same := h.do("PUT", "/Users/"+id, user("carol", "displayName", "Carol"), "If-Match", v2).must(t, 200)
	if same.header.Get("ETag") != v2 {
		t.Fatalf("no-op PUT changed the version: %s -> %s", v2, same.header.Get("ETag"))
	}
	h.do("DELETE", "/Users/"+id, nil, "If-Match", `W/"nope", `+v2).must(t, 204)
	h.do("GET", "/Users/"+id, nil).scimErr(t, 404)
}

func TestPutKeepsPasswordAndClearsOthers(t *testing.T) {
	h := newHarness(t, Config{})
	id := str(h.do("POST", "/Users", user("dan", "password", "pw", "title", "Boss")).must(t, 201).body["id"])
	r := h.do("PUT", "/Users/"+id, user("dan")).must(t, 200)
	if _, ok := r.body["title"]; ok {
		t.Fatal("PUT kept an attribute the body left out")
	}
	stored, _ := h.srv.User(id)
	if !strings.Contains(string(stored), `"password":"pw"`) {
		t.Fatalf("password lost: %s", stored)
	}
}

func TestPatch(t *testing.T) {
	base := func() map[string]any {
		return user("erin", "name", map[string]any{"givenName": "Erin", "familyName": "Old"},
			"emails", []any{
				map[string]any{"value": "erin@work.example", "type": "work", "primary": true},
				map[string]any{"value": "erin@home.example", "type": "home"},
			}, "active", true)
	}
	ops := func(o ...map[string]any) map[string]any {
		list := make([]any, len(o))
		for i := range o {
			list[i] = o[i]
		}
		return map[string]any{"schemas": []any{PatchURN}, "Operations": list}
	}
	op := func(name, path string, value any) map[string]any {
		m := map[string]any{"op": name}
		if path != "" {
			m["path"] = path
		}
		if value != nil {
			m["value"] = value
		}
		return m
	}
	cases := []struct {
		name    string
		strict  bool
		patch   map[string]any
		status  int
		errType string
		check   func(t *testing.T, u map[string]any)
	}{
		{name: "replace sub-attribute", patch: ops(op("replace", "name.familyName", "New")), status: 200,
			check: func(t *testing.T, u map[string]any) {
				n := u["name"].(map[string]any)
				if n["familyName"] != "New" || n["givenName"] != "Erin" {
					t.Fatalf("name %v", n)
				}
			}},
		{name: "replace through a value filter", patch: ops(op("Replace", `emails[type eq "work"].value`, "erin@new.example")), status: 200,
			check: func(t *testing.T, u map[string]any) {
				if e := u["emails"].([]any)[0].(map[string]any); e["value"] != "erin@new.example" || e["type"] != "work" {
					t.Fatalf("emails %v", u["emails"])
				}
			}},
		{name: "remove through a value filter", patch: ops(op("remove", `emails[type eq "home"]`, nil)), status: 200,
			check: func(t *testing.T, u map[string]any) {
				if len(u["emails"].([]any)) != 1 {
					t.Fatalf("emails %v", u["emails"])
				}
			}},
		{name: "add a primary value clears the old primary", patch: ops(op("add", "emails", []any{map[string]any{"value": "p@x.example", "type": "other", "primary": true}})), status: 200,
			check: func(t *testing.T, u map[string]any) {
				es := u["emails"].([]any)
				if len(es) != 3 || es[0].(map[string]any)["primary"] != false || es[2].(map[string]any)["primary"] != true {
					t.Fatalf("emails %v", es)
				}
			}},
		{name: "add without a path merges", patch: ops(op("add", "", map[string]any{"title": "CTO", "name": map[string]any{"middleName": "M"},
			EnterpriseURN: map[string]any{"department": "R&D"}})), status: 200,
			check: func(t *testing.T, u map[string]any) {
				n := u["name"].(map[string]any)
				ent, _ := u[EnterpriseURN].(map[string]any)
				if u["title"] != "CTO" || n["middleName"] != "M" || n["givenName"] != "Erin" || ent["department"] != "R&D" || !listHas(u["schemas"], EnterpriseURN) {
					t.Fatalf("user %v", u)
				}
			}},
		{name: "extension attribute by URN path", patch: ops(op("add", EnterpriseURN+":manager.value", "boss-id")), status: 200,
			check: func(t *testing.T, u map[string]any) {
				ent, _ := u[EnterpriseURN].(map[string]any)
				if m, _ := ent["manager"].(map[string]any); m["value"] != "boss-id" {
					t.Fatalf("enterprise %v", ent)
				}
			}},
		{name: "core URN path", patch: ops(op("replace", UserURN+":displayName", "E")), status: 200,
			check: func(t *testing.T, u map[string]any) {
				if u["displayName"] != "E" {
					t.Fatalf("user %v", u)
				}
			}},
		{name: "remove attribute", patch: ops(op("remove", "name", nil)), status: 200,
			check: func(t *testing.T, u map[string]any) {
				if _, ok := u["name"]; ok {
					t.Fatal("name kept")
				}
			}},
		{name: "Entra boolean string (lenient)", patch: ops(op("Replace", "active", "False")), status: 200,
			check: func(t *testing.T, u map[string]any) {
				if u["active"] != false {
					t.Fatalf("active %v", u["active"])
				}
			}},
		{name: "Entra boolean string (strict)", strict: true, patch: ops(op("Replace", "active", "False")), status: 400, errType: errInvalidValue},
		{name: "lenient creates the filtered value", patch: ops(op("replace", `phoneNumbers[type eq "work"].value`, "+1 555")), status: 200,
			check: func(t *testing.T, u map[string]any) {
				p := u["phoneNumbers"].([]any)[0].(map[string]any)
				if p["type"] != "work" || p["value"] != "+1 555" {
					t.Fatalf("phones %v", u["phoneNumbers"])
				}
			}},
		{name: "strict: filter matches nothing", strict: true, patch: ops(op("replace", `phoneNumbers[type eq "work"].value`, "+1 555")), status: 400, errType: errNoTarget},
		{name: "remove without path", patch: ops(op("remove", "", nil)), status: 400, errType: errNoTarget},
		{name: "id is read-only", patch: ops(op("replace", "id", "x")), status: 400, errType: errMutability},
		{name: "bad op", patch: ops(op("move", "title", "x")), status: 400, errType: errInvalidSyntax},
		{name: "bad path", patch: ops(op("add", "emails[type eq", "x")), status: 400, errType: errInvalidPath},
		{name: "no operations", patch: map[string]any{"schemas": []any{PatchURN}}, status: 400, errType: errInvalidSyntax},
		{name: "removing userName fails validation", patch: ops(op("remove", "userName", nil)), status: 400, errType: errInvalidValue},
		{name: "two primaries", patch: ops(op("replace", `emails[type eq "home"].primary`, true), op("add", "emails", []any{map[string]any{"value": "z@z", "primary": true}})), status: 200,
			check: func(t *testing.T, u map[string]any) {
				n := 0
				for _, e := range u["emails"].([]any) {
					if e.(map[string]any)["primary"] == true {
						n++
					}
				}
				if n != 1 {
					t.Fatalf("%d primaries: %v", n, u["emails"])
				}
			}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, Config{Strict: tc.strict})
			id := str(h.do("POST", "/Users", base()).must(t, 201).body["id"])
			r := h.do("PATCH", "/Users/"+id, tc.patch)
			if tc.status != 200 {
				if st := r.scimErr(t, tc.status); st != tc.errType {
					t.Fatalf("scimType %q, want %q: %s", st, tc.errType, r.raw)
				}
				// A failed patch changes nothing.
				g := h.do("GET", "/Users/"+id, nil).must(t, 200)
				if g.body["userName"] != "erin" || len(g.body["emails"].([]any)) != 2 {
					t.Fatalf("failed patch changed the user: %s", g.raw)
				}
				return
			}
			r.must(t, 200)
			tc.check(t, r.body)
			var stored map[string]any
			raw, _ := h.srv.User(id)
			_ = json.Unmarshal(raw, &stored)
			tc.check(t, stored)
		})
	}
}

func TestStrictAndLenient(t *testing.T) {
	cases := []struct {
		name   string
		user   map[string]any
		strict int // status in strict mode
		lenien int // status in lenient mode
	}{
		{"unknown attribute", user("a", "favoriteColor", "blue"), 400, 201},
		{"non-canonical email type", user("a", "emails", []any{map[string]any{"value": "a@x", "type": "corporate"}}), 400, 201},
		{"unknown extension", user("a", "urn:example:ext:1.0:User", map[string]any{"x": 1}), 400, 201},
		{"extension not listed in schemas", user("a", EnterpriseURN, map[string]any{"department": "X"}), 400, 201},
		{"schemas missing core", map[string]any{"schemas": []any{}, "userName": "a"}, 400, 201},
		{"wrong JSON type", user("a", "active", "yes"), 400, 400},
		{"no userName", map[string]any{"schemas": []any{UserURN}}, 400, 400},
		{"two primaries", user("a", "emails", []any{map[string]any{"value": "1@x", "primary": true}, map[string]any{"value": "2@x", "primary": true}}), 400, 400},
		{"array for a single-valued attribute", user("a", "title", []any{"x"}), 400, 400},
		{"single value for a multi-valued attribute", user("a", "emails", map[string]any{"value": "a@x"}), 400, 201},
	}
	for _, tc := range cases {
		for _, strict := range []bool{true, false} {
			want := tc.lenien
			if strict {
				want = tc.strict
			}
			h := newHarness(t, Config{Strict: strict})
			r := h.do("POST", "/Users", tc.user)
			if want == 201 {
				r.must(t, 201)
				continue
			}
			if st := r.scimErr(t, want); st != errInvalidValue {
				t.Errorf("%s (strict=%v): scimType %q", tc.name, strict, st)
			}
		}
	}
	// Lenient mode keeps what it does not know, and lists an unlisted extension.
	h := newHarness(t, Config{})
	r := h.do("POST", "/Users", user("keep", "favoriteColor", "blue", EnterpriseURN, map[string]any{"department": "X"})).must(t, 201)
	if r.body["favoriteColor"] != "blue" || !listHas(r.body["schemas"], EnterpriseURN) {
		t.Fatalf("lenient: %s", r.raw)
	}
}

func TestBadRequests(t *testing.T) {
	h := newHarness(t, Config{MaxBodyBytes: 512})
	if st := h.do("POST", "/Users", `{"userName":`).scimErr(t, 400); st != errInvalidSyntax {
		t.Fatalf("malformed JSON: %q", st)
	}
	if st := h.do("POST", "/Users", []byte("{\"userName\":\"\xff\"}")).scimErr(t, 400); st != errInvalidSyntax {
		t.Fatalf("invalid UTF-8: %q", st)
	}
	h.do("POST", "/Users", `[1,2]`).scimErr(t, 400)
	h.do("POST", "/Users", `null`).scimErr(t, 400)
	h.do("POST", "/Users", user(strings.Repeat("x", 600))).scimErr(t, 413)
	h.do("POST", "/Users", user("a"), "Content-Type", "text/plain").scimErr(t, 415)
	h.do("POST", "/Users", user("a"), "Content-Type", "application/json; charset=utf-8").must(t, 201)
	h.do("GET", "/Users", nil, "Authorization", "").scimErr(t, 401)
	r := h.do("GET", "/Users", nil, "Authorization", "Bearer wrong")
	r.scimErr(t, 401)
	if !strings.HasPrefix(r.header.Get("WWW-Authenticate"), "Bearer") {
		t.Fatalf("WWW-Authenticate %q", r.header.Get("WWW-Authenticate"))
	}
	h.do("GET", "/Roles", nil).scimErr(t, 404)
	h.do("DELETE", "/Users", nil).scimErr(t, http.StatusMethodNotAllowed)
}

func TestSeeds(t *testing.T) {
	if _, err := New(Config{Users: append(genUsers(2), json.RawMessage(`{"schemas":["`+UserURN+`"]}`))}); err == nil || !strings.Contains(err.Error(), "seed user 2") {
		t.Fatalf("err = %v", err)
	}
	if _, err := New(Config{Users: []json.RawMessage{json.RawMessage(`nope`)}}); err == nil {
		t.Fatal("bad JSON seed accepted")
	}
	s, err := New(Config{Users: genUsers(5)})
	if err != nil || s.Len() != 5 {
		t.Fatalf("%v %d", err, s.Len())
	}
	if _, ok := s.UserByName("USER003@example.com"); !ok {
		t.Fatal("UserByName is case-sensitive")
	}
}
