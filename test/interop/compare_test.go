package interop

import (
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// snapshot is a server's directory as compared: users by lower-cased userName without
// what the server assigns (id, meta) or derives (groups, listed from the Group side), and
// groups by displayName with members as sorted userNames (ids differ per server).
type snapshot struct {
	users  map[string]map[string]any
	groups map[string]map[string]any
	list   []map[string]any // the users as listed, in the server's order
}

func (s server) snapshot(t *testing.T) snapshot {
	t.Helper()
	users := s.list(t, "Users")
	snap := snapshot{users: map[string]map[string]any{}, groups: map[string]map[string]any{}, list: users}
	nameOf := map[string]string{}
	for _, u := range users {
		name := asString(u["userName"])
		if _, dup := snap.users[strings.ToLower(name)]; dup {
			t.Errorf("%s: userName %q is held by more than one user", s.kind, name)
		}
		nameOf[asString(u["id"])] = name
		snap.users[strings.ToLower(name)] = normalUser(t, s.kind, u)
	}
	for _, g := range s.list(t, "Groups") {
		name := asString(g["displayName"])
		if _, dup := snap.groups[name]; dup {
			t.Errorf("%s: group %q exists more than once", s.kind, name)
		}
		snap.groups[name] = normalGroup(t, s.kind, g, nameOf)
	}
	return snap
}

// normalUser drops server-assigned and derived attributes, and checks the RFC's rule that
// every extension whose data a resource holds is listed in its schemas; schemas itself is
// then dropped, since a server may list extensions the user has no data for (elimity lists
// every extension of the resource type).
func normalUser(t *testing.T, kind string, u map[string]any) map[string]any {
	out := map[string]any{}
	var listed []string
	for _, s := range asSlice(u["schemas"]) {
		listed = append(listed, strings.ToLower(fmt.Sprint(s)))
	}
	for k, v := range u {
		switch k {
		case "id", "meta", "schemas", "groups":
			continue
		}
		if strings.HasPrefix(strings.ToLower(k), "urn:") && !slices.Contains(listed, strings.ToLower(k)) {
			t.Errorf("%s: user %v holds %s data without listing it in schemas %v", kind, u["userName"], k, u["schemas"])
		}
		out[k] = v
	}
	return out
}

// normalGroup drops id, meta and schemas and names members by userName; a member that is
// no user of the server is an error.
func normalGroup(t *testing.T, kind string, g map[string]any, nameOf map[string]string) map[string]any {
	out := map[string]any{}
	for k, v := range g {
		switch k {
		case "id", "meta", "schemas":
		case "members":
			var names []string
			for _, m := range asSlice(v) {
				id := fmt.Sprint(m.(map[string]any)["value"])
				n, ok := nameOf[id]
				if !ok {
					t.Errorf("%s: group %v has member %s, who is no user", kind, g["displayName"], id)
					n = "?" + id
				}
				names = append(names, n)
			}
			slices.Sort(names)
			if len(names) > 0 {
				out["members"] = names
			}
		default:
			out[k] = v
		}
	}
	return out
}

func asSlice(v any) []any { s, _ := v.([]any); return s }

// expected is the generated directory as a snapshot.
func expected(users []map[string]any, groups []group) snapshot {
	snap := snapshot{users: map[string]map[string]any{}, groups: map[string]map[string]any{}}
	for _, u := range users {
		// Through JSON so numbers and slices have the shapes a decoded answer has.
		b, _ := json.Marshal(u)
		var m map[string]any
		_ = json.Unmarshal(b, &m)
		delete(m, "schemas")
		snap.users[strings.ToLower(asString(m["userName"]))] = m
	}
	for _, g := range groups {
		m := map[string]any{"displayName": g.name}
		if len(g.members) > 0 {
			ms := slices.Clone(g.members)
			slices.Sort(ms)
			m["members"] = ms
		}
		snap.groups[g.name] = m
	}
	return snap
}

// compareUsers and compareGroups report every user (group) that is missing, unexpected
// or different between want and got, the first few in full.
func compareUsers(t *testing.T, what string, want, got snapshot) {
	t.Helper()
	diff(t, what, "user", want.users, got.users)
}

func compareGroups(t *testing.T, what string, want, got snapshot) {
	t.Helper()
	diff(t, what, "group", want.groups, got.groups)
}

func diff(t *testing.T, what, kind string, want, got map[string]map[string]any) {
	t.Helper()
	n := 0
	report := func(format string, args ...any) {
		n++
		if n <= 5 {
			t.Errorf("%s: %s "+format, append([]any{what, kind}, args...)...)
		}
	}
	for _, k := range sortedKeys(want) {
		wv := want[k]
		gv, ok := got[k]
		switch {
		case !ok:
			report("%q missing", k)
		case !reflect.DeepEqual(wv, gv):
			wb, _ := json.Marshal(wv)
			gb, _ := json.Marshal(gv)
			report("%q differs:\n want %s\n  got %s", k, wb, gb)
		}
	}
	for _, k := range sortedKeys(got) {
		if _, ok := want[k]; !ok {
			report("%q not expected", k)
		}
	}
	if n > 5 {
		t.Errorf("%s: %d %ss differ in all (%d wanted, %d found)", what, n, kind, len(want), len(got))
	}
}

func sortedKeys(m map[string]map[string]any) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}
