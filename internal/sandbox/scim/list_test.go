package scim

import (
	"fmt"
	"net/url"
	"testing"
	"time"

	"github.com/segmentio/encoding/json"
)

// seeded returns a harness with n users created one minute apart.
func seeded(t *testing.T, n int, cfg Config) *harness {
	h := newHarness(t, cfg)
	for _, raw := range genUsers(n) {
		h.clk.Advance(time.Minute)
		h.do("POST", "/Users", raw).must(t, 201)
	}
	return h
}

func names(r reply) []string {
	var out []string
	for _, u := range resources(r) {
		out = append(out, str(u["userName"]))
	}
	return out
}

func TestFilters(t *testing.T) {
	h := seeded(t, 10, Config{})
	// user003 gets an extra home email and a manager; meta.lastModified of user00i is t0+(i+1)min.
	id, _ := h.srv.UserByName("user003@example.com")
	h.do("PATCH", "/Users/"+id, map[string]any{"schemas": []any{PatchURN}, "Operations": []any{
		map[string]any{"op": "add", "path": "emails", "value": []any{map[string]any{"value": "Three@Home.example", "type": "home"}}},
	}}).must(t, 200)
	ts := func(i int) string { return t0.Add(time.Duration(i+1) * time.Minute).Format(time.RFC3339) }
	cases := []struct {
		filter string
		want   []int // user indexes
	}{
		{`userName eq "USER001@example.com"`, []int{1}},
		{`userName ne "user001@example.com" and userName sw "user00"`, []int{0, 2, 3, 4, 5, 6, 7, 8, 9}},
		{`userName co "R00"`, []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}},
		{`userName ew "9@EXAMPLE.COM"`, []int{9}},
		{`externalId eq "EXT-002"`, []int{2}},
		{`externalId eq "ext-002"`, nil}, // externalId is caseExact
		{`emails.value eq "three@home.example"`, []int{3}},
		{`emails co "home"`, []int{3}}, // a complex multi-valued attribute compares its value
		{`emails[type eq "home" and value sw "three"]`, []int{3}},
		{`emails[type eq "home"] or userName eq "user000@example.com"`, []int{0, 3}},
		{`title pr`, nil},
		{`name.givenName pr and not (active eq true)`, []int{1, 3, 5, 7, 9}},
		{`NOT(active eq true) AND (userName eq "user001@example.com" OR userName eq "user002@example.com")`, []int{1}},
		// user003 was patched after the others were created.
		{`meta.lastModified gt "` + ts(7) + `"`, []int{3, 8, 9}},
		{`meta.lastModified ge "` + ts(7) + `"`, []int{3, 7, 8, 9}},
		{`meta.lastModified lt "` + ts(1) + `"`, []int{0}},
		{`meta.lastModified le "` + ts(1) + `"`, []int{0, 1}},
		{`urn:ietf:params:scim:schemas:core:2.0:User:userName eq "user004@example.com"`, []int{4}},
		{`userName gt "user007@example.com"`, []int{8, 9}},
		{`title eq null`, []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}},
	}
	for _, tc := range cases {
		r := h.do("GET", "/Users?count=100&filter="+url.QueryEscape(tc.filter), nil).must(t, 200)
		var want []string
		for _, i := range tc.want {
			want = append(want, fmt.Sprintf("user%03d@example.com", i))
		}
		if got := names(r); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("%s:\n got %v\nwant %v", tc.filter, got, want)
		}
		if r.body["totalResults"] != float64(len(tc.want)) {
			t.Errorf("%s: totalResults %v", tc.filter, r.body["totalResults"])
		}
	}
	for _, bad := range []string{`userName eq`, `userName xx "a"`, `(userName eq "a"`, `emails[type eq "work"`, `userName eq "a" and`, `"a" eq userName`, `userName eq 01x`} {
		if st := h.do("GET", "/Users?filter="+url.QueryEscape(bad), nil).scimErr(t, 400); st != errInvalidFilter {
			t.Errorf("%s: scimType %q", bad, st)
		}
	}
	// POST /.search takes the same query in a body.
	r := h.do("POST", "/Users/.search", map[string]any{"schemas": []any{SearchURN}, "filter": `externalId eq "EXT-005"`, "attributes": []any{"userName"}}).must(t, 200)
	if got := resources(r); len(got) != 1 || got[0]["userName"] != "user005@example.com" || got[0]["emails"] != nil {
		t.Fatalf(".search: %s", r.raw)
	}
}

func TestIndexPaging(t *testing.T) {
	h := seeded(t, 25, Config{MaxPageSize: 20, DefaultPageSize: 7})
	var all []string
	for start := 1; ; start += 10 {
		r := h.do("GET", fmt.Sprintf("/Users?startIndex=%d&count=10", start), nil).must(t, 200)
		if r.body["totalResults"] != float64(25) || r.body["startIndex"] != float64(start) || r.body["itemsPerPage"] != float64(len(resources(r))) {
			t.Fatalf("page %d: %s", start, r.raw)
		}
		if len(resources(r)) == 0 {
			break
		}
		all = append(all, names(r)...)
	}
	if len(all) != 25 || all[0] != "user000@example.com" || all[24] != "user024@example.com" {
		t.Fatalf("paged %d users: %v", len(all), all)
	}
	if n := len(resources(h.do("GET", "/Users", nil).must(t, 200))); n != 7 {
		t.Fatalf("default page size: %d", n)
	}
	if n := len(resources(h.do("GET", "/Users?count=500", nil).must(t, 200))); n != 20 {
		t.Fatalf("count over maxPageSize gave %d", n)
	}
	r := h.do("GET", "/Users?count=0", nil).must(t, 200)
	if len(resources(r)) != 0 || r.body["totalResults"] != float64(25) {
		t.Fatalf("count=0: %s", r.raw)
	}
	if st := h.do("GET", "/Users?count=ten", nil).scimErr(t, 400); st != errInvalidCount {
		t.Fatalf("count=ten: %q", st)
	}
	r = h.do("GET", "/Users?sortBy=userName&sortOrder=descending&count=3", nil).must(t, 200)
	if got := names(r); fmt.Sprint(got) != "[user024@example.com user023@example.com user022@example.com]" {
		t.Fatalf("sorted: %v", got)
	}
}

func TestCursorPaging(t *testing.T) {
	h := seeded(t, 25, Config{CursorTimeout: time.Hour})
	var all []string
	cursor := ""
	for page := 0; ; page++ {
		r := h.do("GET", "/Users?count=10&cursor="+url.QueryEscape(cursor), nil).must(t, 200)
		if _, ok := r.body["startIndex"]; ok {
			t.Fatal("cursor paging answered startIndex")
		}
		all = append(all, names(r)...)
		if page == 1 {
			// Deleting a user already seen and one not yet seen moves nothing else.
			for _, n := range []string{"user000@example.com", "user022@example.com"} {
				id, _ := h.srv.UserByName(n)
				h.do("DELETE", "/Users/"+id, nil).must(t, 204)
			}
		}
		next, ok := r.body["nextCursor"].(string)
		if !ok {
			if page != 2 {
				t.Fatalf("no nextCursor on page %d", page)
			}
			break
		}
		cursor = next
	}
	if len(all) != 24 {
		t.Fatalf("cursor paging gave %d users: %v", len(all), all)
	}
	seen := map[string]bool{}
	for _, n := range all {
		if seen[n] || n == "user022@example.com" {
			t.Fatalf("duplicate or deleted user %s", n)
		}
		seen[n] = true
	}

	first := h.do("GET", "/Users?count=5&cursor=", nil).must(t, 200)
	tok := str(first.body["nextCursor"])
	for _, bad := range []string{"garbage", tok + "x", "e30.AAAA"} {
		if st := h.do("GET", "/Users?count=5&cursor="+url.QueryEscape(bad), nil).scimErr(t, 400); st != errInvalidCursor {
			t.Errorf("cursor %q: scimType %q", bad, st)
		}
	}
	// A cursor belongs to its query.
	if st := h.do("GET", "/Users?count=5&filter="+url.QueryEscape(`active eq true`)+"&cursor="+url.QueryEscape(tok), nil).scimErr(t, 400); st != errInvalidCursor {
		t.Errorf("cursor of another filter: %q", st)
	}
	if st := h.do("GET", "/Users?startIndex=1&cursor=", nil).scimErr(t, 400); st != errInvalidValue {
		t.Errorf("startIndex with cursor: %q", st)
	}
	h.clk.Advance(2 * time.Hour)
	if st := h.do("GET", "/Users?count=5&cursor="+url.QueryEscape(tok), nil).scimErr(t, 400); st != errExpiredCursor {
		t.Errorf("old cursor: %q", st)
	}
}

func TestCursorPagingSorted(t *testing.T) {
	h := seeded(t, 12, Config{})
	var all []string
	q := "/Users?count=5&sortBy=userName&sortOrder=descending&cursor="
	cursor := ""
	for i := 0; i < 10; i++ {
		r := h.do("GET", q+url.QueryEscape(cursor), nil).must(t, 200)
		all = append(all, names(r)...)
		next, ok := r.body["nextCursor"].(string)
		if !ok {
			break
		}
		cursor = next
	}
	if len(all) != 12 || all[0] != "user011@example.com" || all[11] != "user000@example.com" {
		t.Fatalf("%v", all)
	}
}

func TestDiscovery(t *testing.T) {
	h := newHarness(t, Config{BulkMaxOperations: 10, BulkMaxPayload: 4096, MaxPageSize: 50})
	// Discovery needs no token.
	r := h.do("GET", "/ServiceProviderConfig", nil, "Authorization", "").must(t, 200)
	var spc struct {
		Bulk struct {
			Supported      bool
			MaxOperations  int
			MaxPayloadSize int
		}
		Filter struct {
			Supported  bool
			MaxResults int
		}
		Patch      struct{ Supported bool }
		Etag       struct{ Supported bool }
		Sort       struct{ Supported bool }
		Pagination struct {
			Cursor, Index           bool
			DefaultPaginationMethod string
			MaxPageSize             int
			CursorTimeout           int
		}
		AuthenticationSchemes []struct{ Type string }
	}
	if err := json.Unmarshal(r.raw, &spc); err != nil {
		t.Fatal(err)
	}
	if !spc.Bulk.Supported || spc.Bulk.MaxOperations != 10 || spc.Bulk.MaxPayloadSize != 4096 || spc.Filter.MaxResults != 50 ||
		!spc.Patch.Supported || !spc.Etag.Supported || !spc.Sort.Supported || !spc.Pagination.Cursor || !spc.Pagination.Index ||
		spc.Pagination.MaxPageSize != 50 || spc.Pagination.CursorTimeout != 600 || len(spc.AuthenticationSchemes) != 1 ||
		spc.AuthenticationSchemes[0].Type != "oauthbearertoken" {
		t.Fatalf("ServiceProviderConfig: %s", r.raw)
	}
	sch := h.do("GET", "/Schemas", nil).must(t, 200)
	if sch.body["totalResults"] != float64(3) { // User, Enterprise User, Group
		t.Fatalf("schemas: %v", sch.body["totalResults"])
	}
	one := h.do("GET", "/Schemas/"+EnterpriseURN, nil).must(t, 200)
	if one.body["id"] != EnterpriseURN {
		t.Fatalf("%s", one.raw)
	}
	rt := h.do("GET", "/ResourceTypes/User", nil).must(t, 200)
	if rt.body["endpoint"] != "/Users" || rt.body["schema"] != UserURN {
		t.Fatalf("%s", rt.raw)
	}
	h.do("GET", "/Schemas/urn:nope", nil).scimErr(t, 404)
}

func TestCustomSchemas(t *testing.T) {
	var builtin []json.RawMessage
	if err := json.Unmarshal(builtinSchemas, &builtin); err != nil {
		t.Fatal(err)
	}
	ferry := json.RawMessage(`{"id":"urn:ferry:params:scim:schemas:extension:ferry:1.0:User","name":"FerryUser","attributes":[
		{"name":"provider","type":"string","multiValued":false,"caseExact":true,"mutability":"readWrite","returned":"default"}]}`)
	h := newHarness(t, Config{Strict: true, Schemas: append(builtin, ferry)})
	const urn = "urn:ferry:params:scim:schemas:extension:ferry:1.0:User"
	u := user("f", urn, map[string]any{"provider": "auth0"})
	u["schemas"] = []any{UserURN, urn}
	h.do("POST", "/Users", u).must(t, 201)
	u = user("g", urn, map[string]any{"nope": 1})
	u["schemas"] = []any{UserURN, urn}
	h.do("POST", "/Users", u).scimErr(t, 400)
	if h.do("GET", "/Schemas", nil).must(t, 200).body["totalResults"] != float64(4) {
		t.Fatal("custom schema not served")
	}
	if _, err := New(Config{Schemas: []json.RawMessage{ferry}}); err == nil {
		t.Fatal("schemas without the core User accepted")
	}
}
