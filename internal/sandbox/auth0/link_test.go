package auth0

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/segmentio/encoding/json"
)

func TestLinkIdentity(t *testing.T) {
	tn := newTenant(t, Config{Users: 0})
	conn := tn.srv.ConnectionID("Username-Password-Authentication")
	other := tn.srv.ConnectionID("github")
	job := tn.runImport([]byte(`[{"email":"p@example.com","user_id":"p1","app_metadata":{"plan":"gold"}},
		{"email":"s@example.com","user_id":"s1","given_name":"Sec","user_metadata":{"x":1}}]`), map[string]string{"connection_id": conn})
	if job["status"] != "completed" {
		t.Fatalf("import: %v", job)
	}
	link := func(primary string, body any) resp {
		return tn.postJSON("/api/v2/users/"+url.PathEscape(primary)+"/identities", body)
	}
	for name, c := range map[string]struct {
		primary string
		body    any
		status  int
		has     string
	}{
		"extra property":       {"auth0|p1", map[string]any{"provider": "auth0", "user_id": "s1", "x": 1}, 400, "Additional properties"},
		"no provider":          {"auth0|p1", map[string]any{"user_id": "s1"}, 400, "provider"},
		"no user_id":           {"auth0|p1", map[string]any{"provider": "auth0"}, 400, "user_id"},
		"link_with":            {"auth0|p1", map[string]any{"link_with": "jwt"}, 400, "link_with"},
		"bad connection_id":    {"auth0|p1", map[string]any{"provider": "auth0", "user_id": "s1", "connection_id": "con_x"}, 400, "pattern"},
		"empty connection_id":  {"auth0|p1", map[string]any{"provider": "auth0", "user_id": "s1", "connection_id": ""}, 400, "pattern"},
		"connection_id number": {"auth0|p1", map[string]any{"provider": "auth0", "user_id": "s1", "connection_id": 7}, 400, "Expected type string"},
		"other connection":     {"auth0|p1", map[string]any{"provider": "auth0", "user_id": "s1", "connection_id": other}, 400, "not in the connection"},
		"unknown primary":      {"auth0|nope", map[string]any{"provider": "auth0", "user_id": "s1"}, 404, "does not exist"},
		"unknown secondary":    {"auth0|p1", map[string]any{"provider": "auth0", "user_id": "nope"}, 400, "does not exist"},
		"itself":               {"auth0|p1", map[string]any{"provider": "auth0", "user_id": "p1"}, 400, "the same"},
		"numeric user_id miss": {"auth0|p1", map[string]any{"provider": "auth0", "user_id": 12345}, 400, "auth0|12345"},
	} {
		r := link(c.primary, c.body)
		if r.status != c.status || !strings.Contains(r.apiErr(t).Message, c.has) {
			t.Errorf("%s: %d %s", name, r.status, r.body)
		}
	}
	r := link("auth0|p1", map[string]any{"provider": "auth0", "user_id": "s1", "connection_id": conn})
	if r.status != http.StatusCreated {
		t.Fatalf("link: %d %s", r.status, r.body)
	}
	var idents []map[string]any
	r.json(t, &idents)
	if len(idents) != 2 || idents[1]["user_id"] != "s1" || idents[1]["profileData"].(map[string]any)["given_name"] != "Sec" {
		t.Fatalf("identities: %s", r.body)
	}
	if tn.srv.User("auth0|s1") != nil || tn.get("/api/v2/users/auth0|s1").status != 404 {
		t.Fatal("the secondary is still a user of its own")
	}
	var p map[string]any
	if err := json.Unmarshal(tn.srv.User("auth0|p1"), &p); err != nil {
		t.Fatal(err)
	}
	// Only the primary's metadata is kept; its stored identities are what the link answered.
	if p["user_metadata"] != nil || p["app_metadata"].(map[string]any)["plan"] != "gold" || len(p["identities"].([]any)) != 2 {
		t.Fatalf("primary after link: %v", p)
	}
	if got := tn.get("/api/v2/users-by-email?email=s@example.com"); got.status != 200 || strings.Contains(string(got.body), "auth0|s1") {
		t.Fatalf("users-by-email still finds the secondary: %s", got.body)
	}
}
