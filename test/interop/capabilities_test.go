package interop

import (
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// The checks here hold the independent servers to what the interop tests (and ferry's
// SCIM discovery) rely on, so a failure of a migration test is ferry's, not a server that
// cannot do what it is asked.

// checkDiscovery: /Schemas defines the acme extension with its attributes, /ResourceTypes
// lists it (and enterprise) among User's schemaExtensions and has a Group type, and
// /ServiceProviderConfig says PATCH and filtering are supported.
func checkDiscovery(t *testing.T, s server) {
	var schemas listPage
	if _, err := s.call(http.MethodGet, "Schemas", nil, &schemas); err != nil {
		t.Fatal(err)
	}
	var acme map[string]any
	for _, r := range schemas.Resources {
		if r["id"] == acmeURN {
			acme = r
		}
	}
	if acme == nil {
		t.Fatalf("/Schemas does not define %s", acmeURN)
	}
	attrs := map[string]map[string]any{}
	for _, a := range asSlice(acme["attributes"]) {
		m, _ := a.(map[string]any)
		attrs[strings.ToLower(asString(m["name"]))] = m
	}
	for name, typ := range map[string]string{"badge": "string", "level": "integer", "remote": "boolean", "skills": "string", "office": "complex"} {
		if a := attrs[name]; a == nil || a["type"] != typ {
			t.Errorf("/Schemas %s: attribute %s is %v, want type %s", acmeURN, name, a, typ)
		}
	}
	if a := attrs["skills"]; a != nil && a["multiValued"] != true {
		t.Errorf("/Schemas %s: skills is not multiValued: %v", acmeURN, a)
	}
	var subs []string
	for _, a := range asSlice(attrs["office"]["subAttributes"]) {
		subs = append(subs, strings.ToLower(asString(a.(map[string]any)["name"])))
	}
	slices.Sort(subs)
	if !slices.Equal(subs, []string{"building", "floor"}) {
		t.Errorf("/Schemas %s: office has sub-attributes %v, want building, floor", acmeURN, subs)
	}

	var types listPage
	if _, err := s.call(http.MethodGet, "ResourceTypes", nil, &types); err != nil {
		t.Fatal(err)
	}
	byName := map[string]map[string]any{}
	for _, r := range types.Resources {
		byName[asString(r["name"])] = r
	}
	var exts []string
	for _, e := range asSlice(byName["User"]["schemaExtensions"]) {
		exts = append(exts, asString(e.(map[string]any)["schema"]))
	}
	for _, want := range []string{enterpriseURN, acmeURN} {
		if !slices.Contains(exts, want) {
			t.Errorf("/ResourceTypes User: schemaExtensions %v lack %s", exts, want)
		}
	}
	if g := byName["Group"]; g == nil || g["endpoint"] != "/Groups" || g["schema"] != coreGroupURN {
		t.Errorf("/ResourceTypes Group: %v, want endpoint /Groups and schema %s", g, coreGroupURN)
	}

	var sp map[string]any
	if _, err := s.call(http.MethodGet, "ServiceProviderConfig", nil, &sp); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"patch", "filter"} {
		if m, _ := sp[k].(map[string]any); m == nil || m["supported"] != true {
			t.Errorf("/ServiceProviderConfig %s: %v, want supported", k, sp[k])
		}
	}
}

// checkFilter: userName eq finds exactly the user named (non-ASCII names too), alone or
// or-ed, and nothing for a name nobody has; displayName eq likewise finds a group.
func checkFilter(t *testing.T, s server, ids map[string]string, groups []group) {
	for _, name := range []string{groups[1].name, groups[len(groups)-1].name} {
		p := s.page(t, "Groups", url.Values{"filter": {`displayName eq "` + name + `"`}})
		if len(p.Resources) != 1 || p.Resources[0]["displayName"] != name || p.TotalResults != 1 {
			t.Errorf("Groups filter displayName eq %q: %d groups (totalResults %d), want that one", name, len(p.Resources), p.TotalResults)
		}
	}
	for _, c := range []struct {
		filter string
		want   []string
	}{
		{`userName eq "` + userName(1) + `"`, []string{userName(1)}},
		{`userName eq "` + userName(6) + `" or userName eq "` + userName(1999) + `"`, []string{userName(6), userName(1999)}},
		{`userName eq "nobody@example.org"`, nil},
	} {
		p := s.page(t, "Users", url.Values{"filter": {c.filter}})
		var got []string
		for _, r := range p.Resources {
			got = append(got, asString(r["userName"]))
			if r["id"] != ids[asString(r["userName"])] {
				t.Errorf("filter %s: %s has id %v, want %s", c.filter, r["userName"], r["id"], ids[asString(r["userName"])])
			}
		}
		slices.Sort(got)
		slices.Sort(c.want)
		if !slices.Equal(got, c.want) || p.TotalResults != len(c.want) {
			t.Errorf("filter %s: %v (totalResults %d), want %v", c.filter, got, p.TotalResults, c.want)
		}
	}
}

// checkPaging: a page at any startIndex is the start of that slice of the whole listing
// (a server may answer fewer than count, never others or more), with totalResults the
// whole count. (itemsPerPage is not checked: both servers answer the count asked for, or
// their cap, on a last page that holds fewer, though RFC 7644 §3.4.2 says it is the number
// returned; a client must count the Resources.)
func checkPaging(t *testing.T, s server, all []map[string]any) {
	// Offsets on and off count's multiples, one (len-10, len) with startIndex below count.
	for _, c := range []struct{ start, count int }{{1, 100}, {51, 40}, {101, 100}, {len(all) - 5, 100}, {len(all) - 10, len(all)}, {len(all) + 1, 10}, {7, 0}} {
		p := s.page(t, "Users", url.Values{"startIndex": {strconv.Itoa(c.start)}, "count": {strconv.Itoa(c.count)}})
		lo, hi := min(c.start-1, len(all)), min(c.start-1+c.count, len(all))
		var want, got []any
		for _, r := range all[lo:hi] {
			want = append(want, r["id"])
		}
		for _, r := range p.Resources {
			got = append(got, r["id"])
		}
		short := len(got) <= len(want) && (len(got) > 0 || len(want) == 0)
		if !short || !slices.Equal(got, want[:len(got)]) || p.TotalResults != len(all) {
			t.Errorf("startIndex=%d count=%d: %d resources (totalResults %d), want the first of users %d..%d of %d",
				c.start, c.count, len(got), p.TotalResults, lo+1, hi, len(all))
		}
	}
}

// checkGroupPatch: a group takes members by PATCH add and loses one by PATCH remove with
// a members[value eq "id"] path, the requests a provisioning client sends; the probe group
// is deleted again.
func checkGroupPatch(t *testing.T, s server, ids map[string]string) {
	u := []string{ids[userName(3)], ids[userName(4)], ids[userName(5)]}
	var g map[string]any
	if _, err := s.call(http.MethodPost, "Groups", map[string]any{"schemas": []any{coreGroupURN}, "displayName": "Interop probe ✓"}, &g); err != nil {
		t.Fatal(err)
	}
	id := asString(g["id"])
	defer func() {
		if _, err := s.call(http.MethodDelete, "Groups/"+id, nil, nil); err != nil {
			t.Error(err)
		}
		if code, _ := s.call(http.MethodGet, "Groups/"+id, nil, nil); code != http.StatusNotFound {
			t.Errorf("deleted group: GET answers %d, want 404", code)
		}
	}()
	patch := func(ops ...map[string]any) {
		t.Helper()
		body := map[string]any{"schemas": []any{"urn:ietf:params:scim:api:messages:2.0:PatchOp"}, "Operations": ops}
		if _, err := s.call(http.MethodPatch, "Groups/"+id, body, nil); err != nil {
			t.Fatal(err)
		}
	}
	members := func() []string {
		t.Helper()
		var g map[string]any
		if _, err := s.call(http.MethodGet, "Groups/"+id, nil, &g); err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, m := range asSlice(g["members"]) {
			out = append(out, asString(m.(map[string]any)["value"]))
		}
		slices.Sort(out)
		return out
	}
	sorted := func(s ...string) []string { slices.Sort(s); return s }
	patch(map[string]any{"op": "add", "path": "members", "value": []any{map[string]any{"value": u[0]}, map[string]any{"value": u[1]}}})
	patch(map[string]any{"op": "add", "path": "members", "value": []any{map[string]any{"value": u[2]}}})
	if got := members(); !slices.Equal(got, sorted(u...)) {
		t.Errorf("after PATCH add: members %v, want %v", got, sorted(u...))
	}
	patch(map[string]any{"op": "remove", "path": `members[value eq "` + u[1] + `"]`})
	if got := members(); !slices.Equal(got, sorted(u[0], u[2])) {
		t.Errorf("after PATCH remove: members %v, want %v", got, sorted(u[0], u[2]))
	}
}

func asString(v any) string { s, _ := v.(string); return s }
