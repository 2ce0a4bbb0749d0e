package scim

import (
	"fmt"
	"net/url"
	"strings"
	"testing"
)

func patchOp(ops ...map[string]any) map[string]any {
	arr := make([]any, len(ops))
	for i, o := range ops {
		arr[i] = o
	}
	return map[string]any{"schemas": []any{PatchURN}, "Operations": arr}
}

func memberList(ids ...string) []any {
	out := make([]any, len(ids))
	for i, id := range ids {
		out[i] = map[string]any{"value": id}
	}
	return out
}

func groupHarness(t *testing.T, users int, cfg Config) (*harness, []string) {
	t.Helper()
	cfg.Users = genUsers(users)
	h := newHarness(t, cfg)
	ids := make([]string, users)
	for i := range ids {
		ids[i], _ = h.srv.UserByName(fmt.Sprintf("user%03d@example.com", i))
	}
	return h, ids
}

func memberCount(r reply) int {
	ms, _ := r.body["members"].([]any)
	return len(ms)
}

func TestGroupsCRUD(t *testing.T) {
	h, ids := groupHarness(t, 4, Config{})
	g := h.do("POST", "/Groups", map[string]any{"schemas": []any{GroupURN}, "displayName": "Admins", "members": memberList(ids[0], ids[1], ids[1])}).must(t, 201)
	id := str(g.body["id"])
	if memberCount(g) != 2 || g.header.Get("Location") == "" || g.header.Get("ETag") == "" {
		t.Fatalf("created group: %s", g.raw)
	}
	cases := []struct {
		name, method, path string
		body               any
		status             int
		scimType           string
	}{
		{"displayName is unique case-insensitively", "POST", "/Groups", map[string]any{"displayName": "aDMINS"}, 409, errUniqueness},
		{"displayName is required", "POST", "/Groups", map[string]any{"displayName": " "}, 400, errInvalidValue},
		{"members must be users", "POST", "/Groups", map[string]any{"displayName": "X", "members": memberList("nope")}, 400, errInvalidValue},
		{"unknown group", "GET", "/Groups/nope", nil, 404, ""},
		{"a PATCH names its schema", "PATCH", "/Groups/" + id, map[string]any{"Operations": []any{}}, 400, errInvalidValue},
		{"a remove needs a path", "PATCH", "/Groups/" + id, patchOp(map[string]any{"op": "remove"}), 400, errNoTarget},
		{"a broken filter path is refused, not a panic", "PATCH", "/Groups/" + id, patchOp(map[string]any{"op": "remove", "path": "members["}), 400, errInvalidPath},
		{"an unknown op", "PATCH", "/Groups/" + id, patchOp(map[string]any{"op": "move", "path": "members"}), 400, errInvalidValue},
		{"stale If-Match", "PUT", "/Groups/" + id, map[string]any{"displayName": "Admins"}, 412, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var hdr []string
			if c.status == 412 {
				hdr = []string{"If-Match", `W/"stale"`}
			}
			if st := h.do(c.method, c.path, c.body, hdr...).scimErr(t, c.status); st != c.scimType {
				t.Fatalf("scimType %q, want %q", st, c.scimType)
			}
		})
	}
	// PATCH add, remove by filter, rename; the answer honours excludedAttributes.
	r := h.do("PATCH", "/Groups/"+id+"?excludedAttributes=members", patchOp(
		map[string]any{"op": "add", "path": "members", "value": memberList(ids[2], ids[0])},
		map[string]any{"op": "remove", "path": fmt.Sprintf(`members[value eq "%s"]`, ids[1])},
		map[string]any{"op": "replace", "path": "displayName", "value": "Operators"},
	)).must(t, 200)
	if _, has := r.body["members"]; has || r.body["displayName"] != "Operators" {
		t.Fatalf("patched: %s", r.raw)
	}
	if got, _ := h.srv.GroupMembers("operators"); strings.Join(got, ",") != "user000@example.com,user002@example.com" {
		t.Fatalf("members after PATCH: %v", got)
	}
	// Deleting a user takes it out of the group.
	h.do("DELETE", "/Users/"+ids[2], nil).must(t, 204)
	if got := memberCount(h.do("GET", "/Groups/"+id, nil).must(t, 200)); got != 1 {
		t.Fatalf("%d members after the user was deleted, want 1", got)
	}
	// PUT replaces members; DELETE removes the group and frees its name.
	h.do("PUT", "/Groups/"+id, map[string]any{"displayName": "Operators", "members": memberList(ids[3])}).must(t, 200)
	if got, _ := h.srv.GroupMembers("Operators"); len(got) != 1 || got[0] != "user003@example.com" {
		t.Fatalf("members after PUT: %v", got)
	}
	h.do("DELETE", "/Groups/"+id, nil).must(t, 204)
	h.do("GET", "/Groups/"+id, nil).scimErr(t, 404)
	h.do("POST", "/Groups", map[string]any{"displayName": "operators"}).must(t, 201)
}

func TestGroupsListLimits(t *testing.T) {
	h, ids := groupHarness(t, 6, Config{GroupListMembers: 3, GroupPatchMembers: 2})
	for i := range 5 {
		h.do("POST", "/Groups", map[string]any{"displayName": fmt.Sprintf("g%d", i), "members": memberList(ids[:min(i, 3)]...)}).must(t, 201)
	}
	big := h.do("POST", "/Groups", map[string]any{"displayName": "Big", "members": memberList(ids...)}).must(t, 201)
	cases := []struct {
		name     string
		query    string
		status   int
		total    int
		resource int
	}{
		{"a page past the member limit is tooMany", "", 400, 0, 0},
		{"excludedAttributes=members lists everything", "excludedAttributes=members", 200, 6, 6},
		{"attributes without members too", "attributes=displayName", 200, 6, 6},
		{"paging", "excludedAttributes=members&startIndex=2&count=2", 200, 6, 2},
		{"a page of small groups carries members", "count=5", 200, 6, 5},
		{"filter displayName eq, case-insensitively", "filter=" + url.QueryEscape(`displayName eq "G3"`), 200, 1, 1},
		{"filter on the big group asks for it alone", "filter=" + url.QueryEscape(`displayName eq "big"`), 400, 0, 0},
		{"filter by member", "excludedAttributes=members&filter=" + url.QueryEscape(fmt.Sprintf(`members[value eq "%s"]`, ids[2])), 200, 3, 3}, // g3, g4, Big
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := h.do("GET", "/Groups?"+c.query, nil)
			if c.status != 200 {
				if st := r.scimErr(t, c.status); st != errTooMany {
					t.Fatalf("scimType %q", st)
				}
				return
			}
			r.must(t, 200)
			if r.body["totalResults"] != float64(c.total) || len(resources(r)) != c.resource {
				t.Fatalf("total %v, %d resources: %s", r.body["totalResults"], len(resources(r)), r.raw)
			}
		})
	}
	// The big group reads whole by id.
	id := str(big.body["id"])
	if n := memberCount(h.do("GET", "/Groups/"+id, nil).must(t, 200)); n != 6 {
		t.Fatalf("GET /Groups/{id}: %d members, want 6", n)
	}
	// PATCH takes at most 2 member changes.
	tooMany := patchOp(map[string]any{"op": "remove", "path": "members", "value": memberList(ids[:3]...)})
	if st := h.do("PATCH", "/Groups/"+id, tooMany).scimErr(t, 400); st != errTooMany {
		t.Fatalf("scimType %q", st)
	}
	ok := patchOp(map[string]any{"op": "remove", "path": "members", "value": memberList(ids[:2]...)})
	if n := memberCount(h.do("PATCH", "/Groups/"+id, ok).must(t, 200)); n != 4 {
		t.Fatalf("%d members after removing 2 of 6", n)
	}
}

func TestGroupsDiscovery(t *testing.T) {
	h := newHarness(t, Config{})
	rt := h.do("GET", "/ResourceTypes/Group", nil).must(t, 200)
	if rt.body["endpoint"] != "/Groups" || rt.body["schema"] != GroupURN {
		t.Fatalf("%s", rt.raw)
	}
	h.do("GET", "/Schemas/"+GroupURN, nil).must(t, 200)
}
