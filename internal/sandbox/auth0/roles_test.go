package auth0

import (
	"bytes"
	"net/http"
	"slices"
	"testing"

	"github.com/ferry-dev/ferry/internal/gen"
	"github.com/segmentio/encoding/json"
)

type roleJSON struct {
	ID          string `json:"id"`
	Name        string `json:"name"`
	Description string `json:"description"`
}

func TestRolesCatalogPerTenant(t *testing.T) {
	a := newTenant(t, Config{Seed: 1})
	b := newTenant(t, Config{Seed: 2})
	var ra, rb []roleJSON
	a.get("/api/v2/roles").json(t, &ra)
	b.get("/api/v2/roles").json(t, &rb)
	if len(ra) != len(gen.RoleNames()) || len(ra) != len(rb) {
		t.Fatalf("roles: %d and %d", len(ra), len(rb))
	}
	for k := range ra {
		if ra[k].Name != rb[k].Name || ra[k].ID == rb[k].ID {
			t.Fatalf("role %d: %v vs %v (names must match, ids differ)", k, ra[k], rb[k])
		}
	}
	var page struct {
		Roles []roleJSON `json:"roles"`
		Start int        `json:"start"`
		Limit int        `json:"limit"`
		Total int        `json:"total"`
	}
	a.get("/api/v2/roles"+q("include_totals", "true", "per_page", "2", "page", "1")).json(t, &page)
	if page.Total != len(ra) || page.Start != 2 || len(page.Roles) != 2 || page.Roles[0].Name != ra[2].Name {
		t.Fatalf("paged roles %+v", page)
	}
	var filtered []roleJSON
	a.get("/api/v2/roles"+q("name_filter", "ADMIN")).json(t, &filtered)
	if len(filtered) != 2 { // admin, billing-admin
		t.Fatalf("name_filter: %v", filtered)
	}
	empty := newTenant(t, Config{Seed: 3, EmptyCatalog: true})
	var none []roleJSON
	empty.get("/api/v2/roles").json(t, &none)
	if len(none) != 0 {
		t.Fatalf("empty catalog has %d roles", len(none))
	}
}

func TestRolesPermissionsAndResourceServers(t *testing.T) {
	tn := newTenant(t, Config{Seed: 1, EmptyCatalog: true})
	// The system API is listed and cannot be changed.
	var servers []resourceServer
	tn.get("/api/v2/resource-servers").json(t, &servers)
	if len(servers) != 1 || !servers[0].IsSystem {
		t.Fatalf("servers %+v", servers)
	}
	if r := tn.do(http.MethodPatch, "/api/v2/resource-servers/"+servers[0].ID, jsonBody(t, map[string]any{"scopes": []scope{}}), "application/json"); r.status != 403 {
		t.Fatalf("patch system API: %d", r.status)
	}
	r := tn.postJSON("/api/v2/resource-servers", map[string]any{"name": "API", "identifier": "https://api.example.com/", "scopes": []scope{{Value: "read:users"}}})
	if r.status != 201 {
		t.Fatalf("create rs: %d %s", r.status, r.body)
	}
	var rs resourceServer
	r.json(t, &rs)
	if r := tn.postJSON("/api/v2/resource-servers", map[string]any{"identifier": "https://api.example.com/"}); r.status != 409 {
		t.Fatalf("duplicate rs: %d", r.status)
	}
	// PATCH replaces the whole scope list.
	r = tn.do(http.MethodPatch, "/api/v2/resource-servers/"+rs.ID, jsonBody(t, map[string]any{"scopes": []scope{{Value: "read:users"}, {Value: "write:users"}}}), "application/json")
	if r.status != 200 {
		t.Fatalf("patch: %d %s", r.status, r.body)
	}
	r = tn.do(http.MethodPatch, "/api/v2/resource-servers/"+rs.ID, jsonBody(t, map[string]any{"scopes": []scope{{Value: "write:users"}}}), "application/json")
	r.json(t, &rs)
	if len(rs.Scopes) != 1 || rs.Scopes[0].Value != "write:users" {
		t.Fatalf("scopes after replace: %+v", rs.Scopes)
	}
	r = tn.postJSON("/api/v2/roles", map[string]string{"name": "editor", "description": "Edits"})
	if r.status != 200 {
		t.Fatalf("create role: %d %s", r.status, r.body)
	}
	var role roleJSON
	r.json(t, &role)
	if r := tn.postJSON("/api/v2/roles", map[string]string{"name": "editor"}); r.status != 409 {
		t.Fatalf("duplicate role: %d", r.status)
	}
	perm := func(scope string) map[string]any {
		return map[string]any{"permissions": []permission{{ResourceServerIdentifier: "https://api.example.com/", PermissionName: scope}}}
	}
	if r := tn.postJSON("/api/v2/roles/"+role.ID+"/permissions", perm("read:users")); r.status != 400 {
		t.Fatalf("permission on a removed scope: %d %s", r.status, r.body)
	}
	if r := tn.postJSON("/api/v2/roles/"+role.ID+"/permissions", perm("write:users")); r.status != 201 {
		t.Fatalf("add permission: %d %s", r.status, r.body)
	}
	var perms []permission
	tn.get("/api/v2/roles/"+role.ID+"/permissions").json(t, &perms)
	if len(perms) != 1 || perms[0].PermissionName != "write:users" || perms[0].ResourceServerIdentifier != "https://api.example.com/" {
		t.Fatalf("permissions %+v", perms)
	}
	if r := tn.get("/api/v2/roles/rol_nope/permissions"); r.status != 404 {
		t.Fatalf("unknown role: %d", r.status)
	}
}

func jsonBody(t *testing.T, v any) *bytes.Reader { return bytes.NewReader(mustJSON(t, v)) }

func TestRoleUsersCheckpointPaging(t *testing.T) {
	const n = 1500
	tn := newTenant(t, Config{Users: n, Seed: 8, EmptyCatalog: true})
	var role roleJSON
	tn.postJSON("/api/v2/roles", map[string]string{"name": "everyone"}).json(t, &role)
	ids := userIDs(t, tn.srv.Users())
	for k := 0; k < n; k += 500 {
		if r := tn.postJSON("/api/v2/roles/"+role.ID+"/users", map[string]any{"users": ids[k : k+500]}); r.status != 200 {
			t.Fatalf("assign: %d %s", r.status, r.body)
		}
	}
	if r := tn.postJSON("/api/v2/roles/"+role.ID+"/users", map[string]any{"users": []string{"auth0|nobody"}}); r.status != 404 {
		t.Fatalf("assign unknown user: %d", r.status)
	}
	// Offset paging stops at 1,000.
	if r := tn.get("/api/v2/roles/" + role.ID + "/users" + q("page", "10", "per_page", "100")); r.status != 400 {
		t.Fatalf("offset past 1000: %d", r.status)
	}
	var first []roleMember
	tn.get("/api/v2/roles/"+role.ID+"/users"+q("page", "9", "per_page", "100")).json(t, &first)
	if len(first) != 100 {
		t.Fatalf("page 9: %d", len(first))
	}
	// Checkpoint paging reaches everyone, once.
	var got []string
	from := ""
	for pages := 0; ; pages++ {
		var p struct {
			Users []roleMember `json:"users"`
			Next  string       `json:"next"`
		}
		r := tn.get("/api/v2/roles/" + role.ID + "/users" + q("take", "100", "from", from))
		if r.status != 200 {
			t.Fatalf("checkpoint: %d %s", r.status, r.body)
		}
		r.json(t, &p)
		for _, m := range p.Users {
			if m.Email == "" {
				t.Fatalf("member without email: %+v", m)
			}
			got = append(got, m.UserID)
		}
		if p.Next == "" {
			break
		}
		from = p.Next
		if pages > n {
			t.Fatal("checkpoint paging does not end")
		}
	}
	slices.Sort(got)
	if !slices.Equal(got, ids) {
		t.Fatalf("checkpoint paging returned %d members, want %d", len(got), len(ids))
	}
	for _, bad := range []string{q("take", "101"), q("take", "0"), q("from", "%%%"), q("take", "5", "page", "1")} {
		if r := tn.get("/api/v2/roles/" + role.ID + "/users" + bad); r.status != 400 {
			t.Errorf("%s: %d", bad, r.status)
		}
	}
	// A user's roles, and deletion removes membership.
	var roles []roleJSON
	tn.get("/api/v2/users/"+ids[0]+"/roles").json(t, &roles)
	if len(roles) != 1 || roles[0].ID != role.ID {
		t.Fatalf("user roles %v", roles)
	}
	tn.do(http.MethodDelete, "/api/v2/users/"+ids[0], nil, "")
	var page struct {
		Total int `json:"total"`
	}
	tn.get("/api/v2/roles/"+role.ID+"/users"+q("include_totals", "true")).json(t, &page)
	if page.Total != n-1 {
		t.Fatalf("members after delete: %d", page.Total)
	}
}

func TestSeededRoleAssignmentsFollowAppMetadata(t *testing.T) {
	tn := newTenant(t, Config{Users: 200, Seed: 9})
	var roles []roleJSON
	tn.get("/api/v2/roles").json(t, &roles)
	total := 0
	for _, r := range roles {
		var page struct {
			Total int `json:"total"`
		}
		tn.get("/api/v2/roles/"+r.ID+"/users"+q("include_totals", "true")).json(t, &page)
		total += page.Total
	}
	want := 0
	for _, raw := range tn.srv.Users() {
		var u struct {
			AppMetadata struct {
				Roles []string `json:"roles"`
			} `json:"app_metadata"`
		}
		json.Unmarshal(raw, &u)
		want += len(u.AppMetadata.Roles)
	}
	if total == 0 || total != want {
		t.Fatalf("role members %d, app_metadata.roles entries %d", total, want)
	}
}
