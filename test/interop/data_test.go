package interop

import (
	"fmt"
)

const (
	coreUserURN   = "urn:ietf:params:scim:schemas:core:2.0:User"
	coreGroupURN  = "urn:ietf:params:scim:schemas:core:2.0:Group"
	enterpriseURN = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
	acmeURN       = "urn:ietf:params:scim:schemas:extension:acme:2.0:User"
)

// people gives names in several scripts: Latin with diacritics, CJK, Greek, Cyrillic,
// Arabic, Devanagari, Icelandic.
var people = []struct{ given, family, display string }{
	{"Zoë", "Ångström", "Zoë Ångström"},
	{"小龍", "李", "李小龍"},
	{"Ωmega", "Σταυρόπουλος", "Ωmega Σταυρόπουλος"},
	{"José", "Müller-Lüdenscheidt", "José Müller-Lüdenscheidt"},
	{"Ólafur", "Þórsson", "Ólafur Þórsson"},
	{"Наталья", "Ковалёва", "Наталья Ковалёва"},
	{"محمد", "الفارسي", "محمد الفارسي"},
	{"अनन्या", "शर्मा", "अनन्या शर्मा"},
	{"François", "Œuvray", "François Œuvray"},
	{"Ngozi", "Okonkwo", "Ngozi Okonkwo"},
}

// userName is the i-th user's name: non-ASCII too, since userName is a string like any.
func userName(i int) string {
	p := people[i%len(people)]
	return fmt.Sprintf("%s.%s.%04d@example.org", p.given, p.family, i)
}

// genUsers builds n users deterministically, each with the enterprise and the acme
// extension and several values of each multi-valued attribute.
func genUsers(n int) []map[string]any {
	out := make([]map[string]any, n)
	for i := range out {
		p := people[i%len(people)]
		name := userName(i)
		out[i] = map[string]any{
			"schemas":     []any{coreUserURN, enterpriseURN, acmeURN},
			"externalId":  fmt.Sprintf("hr-%05d", i),
			"userName":    name,
			"displayName": p.display,
			"nickName":    fmt.Sprintf("%s%d", p.given, i),
			"title":       []string{"Engineer", "Ingénieure", "主任", "Διευθυντής"}[i%4],
			"active":      i%9 != 0,
			"name": map[string]any{
				"givenName":  p.given,
				"familyName": p.family,
				"formatted":  p.display,
			},
			"emails": []any{
				map[string]any{"value": fmt.Sprintf("user%04d@work.example.org", i), "type": "work", "primary": true},
				map[string]any{"value": fmt.Sprintf("user%04d@home.example.net", i), "type": "home"},
			},
			"phoneNumbers": []any{
				map[string]any{"value": fmt.Sprintf("+1 555 01%02d %04d", i%100, i), "type": "work", "primary": true},
				map[string]any{"value": fmt.Sprintf("+44 7700 9%05d", i), "type": "mobile"},
			},
			"addresses": []any{
				map[string]any{"type": "work", "primary": true, "streetAddress": fmt.Sprintf("%d Straße der Einheit", i+1),
					"locality": "Zürich", "postalCode": fmt.Sprintf("80%02d", i%100), "country": "CH"},
				map[string]any{"type": "home", "streetAddress": fmt.Sprintf("%d 長安街", i+1), "locality": "北京", "country": "CN"},
			},
			enterpriseURN: map[string]any{
				"employeeNumber": fmt.Sprintf("E%05d", i),
				"costCenter":     fmt.Sprintf("CC-%d", i%13),
				"organization":   "Acme Ωmega",
				"division":       []string{"Nord", "Süd"}[i%2],
				"department":     fmt.Sprintf("Dépt %d", i%17),
			},
			acmeURN: map[string]any{
				"badge":  fmt.Sprintf("B-%05d", i),
				"level":  float64(i % 7),
				"remote": i%3 == 0,
				"skills": []any{"go", []string{"rust", "sql", "ノード"}[i%3]},
				"office": map[string]any{"building": fmt.Sprintf("Bâtiment %c", 'A'+rune(i%5)), "floor": float64(i % 12)},
			},
		}
	}
	return out
}

// group is a group by name with its members' userNames.
type group struct {
	name    string
	members []string
}

// genGroups builds n groups over users 0..users-1: user i belongs to group i%n and, for
// every third user, to group (i*7+3)%n too; the last group has no members.
func genGroups(n, users int) []group {
	gs := make([]group, n)
	for g := range gs {
		gs[g].name = fmt.Sprintf("Équipe %02d — %s", g, people[g%len(people)].given)
	}
	for i := range users {
		if g := i % n; g != n-1 {
			gs[g].members = append(gs[g].members, userName(i))
		}
		if i%3 == 0 {
			if g := (i*7 + 3) % n; g != n-1 && g != i%n {
				gs[g].members = append(gs[g].members, userName(i))
			}
		}
	}
	return gs
}
