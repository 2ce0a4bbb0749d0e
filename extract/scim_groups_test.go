package extract

import (
	"testing"
	"unicode/utf8"

	"github.com/segmentio/encoding/json"

	"github.com/ferry-dev/ferry/schemas"
)

func rolesOf(t *testing.T, raw []byte) []string {
	t.Helper()
	var u schemas.User
	if err := json.Unmarshal(raw, &u); err != nil {
		t.Fatalf("%s: %v", raw, err)
	}
	var out []string
	for _, r := range u.Roles {
		out = append(out, r.Value)
	}
	return out
}

func TestWithGroups(t *testing.T) {
	cases := []struct {
		name   string
		in     string
		groups []string
		want   []string
		same   bool // the record comes back untouched
	}{
		{"no groups", `{"userName":"a"}`, nil, nil, true},
		{"spliced", `{"userName":"a"}`, []string{"Admins", "Ops"}, []string{"Admins", "Ops"}, false},
		{"own roles kept first, no duplicates", `{"userName":"a","roles":[{"value":"admins","primary":true},{"value":"x"}]}`, []string{"Admins", "Ops"}, []string{"admins", "x", "Ops"}, false},
		{"null roles", `{"userName":"a","roles":null}`, []string{"Ops"}, []string{"Ops"}, false},
		{"malformed roles left to the decoder", `{"userName":"a","roles":"x"}`, []string{"Ops"}, nil, true},
		{"not an object", `[1]`, []string{"Ops"}, nil, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out := withGroups([]byte(c.in), c.groups)
			if c.same {
				if string(out) != c.in {
					t.Fatalf("changed: %s", out)
				}
				return
			}
			got := rolesOf(t, out)
			if len(got) != len(c.want) {
				t.Fatalf("roles %v, want %v", got, c.want)
			}
			for i := range got {
				if got[i] != c.want[i] {
					t.Fatalf("roles %v, want %v", got, c.want)
				}
			}
			var m map[string]json.RawMessage
			if err := json.Unmarshal(out, &m); err != nil || string(m["userName"]) != `"a"` {
				t.Fatalf("other members lost: %s", out)
			}
		})
	}
}

// FuzzWithGroups: whatever the record, the result is the record untouched or a JSON
// object holding every group among its roles, once.
func FuzzWithGroups(f *testing.F) {
	for _, s := range []string{`{"userName":"a"}`, `{"roles":[{"value":"G"}]}`, `{"Roles":[]}`, `{"roles":null}`,
		`{"roles":"x"}`, `[]`, `{`, `{"a":1,"roles":[{"value":"g"},{"value":"G"}]}`, ``} {
		f.Add([]byte(s), "G")
	}
	f.Fuzz(func(t *testing.T, raw []byte, group string) {
		if group == "" || !utf8.ValidString(group) {
			return // a displayName decoded from JSON is valid UTF-8
		}
		out := withGroups(raw, []string{group})
		if string(out) == string(raw) {
			return
		}
		var u struct {
			Roles []schemas.MultiValued `json:"roles"`
		}
		if err := json.Unmarshal(out, &u); err != nil {
			t.Fatalf("%q -> %q: %v", raw, out, err)
		}
		n := 0
		for _, r := range u.Roles {
			if r.Value == group {
				n++
			}
		}
		if n == 0 {
			t.Fatalf("%q -> %q: group %q not among the roles", raw, out, group)
		}
	})
}
