package transform

import (
	"strings"
	"testing"

	"github.com/ferry-dev/ferry/schemas"
	"github.com/segmentio/encoding/json"
)

func TestRecordLosses(t *testing.T) {
	u := &schemas.User{
		UserName:   "ann",
		Name:       &schemas.Name{GivenName: "Ann", MiddleName: "Q"},
		Emails:     []schemas.MultiValued{{Value: "a@x.org", Primary: true}, {Value: "second@x.org"}},
		Title:      "CTO",
		Enterprise: &schemas.EnterpriseUser{Department: "R&D"},
		Ferry: &schemas.FerryUser{
			PasswordHash: "pbkdf2-secret-hash", PasswordHashAlg: "pbkdf2",
			Extra: json.RawMessage(`{"logins_count":7}`),
		},
	}
	var c Changes
	paths := Auth0ImportLosses(u)
	RecordLosses(u, "auth0-import", paths, &c)
	got := map[string]string{}
	for _, ch := range c.List {
		if ch.Rule != RuleTargetFormat || ch.After != nil {
			t.Errorf("change %+v: want rule %s and no after", ch, RuleTargetFormat)
		}
		got[ch.Path] = string(ch.Before)
	}
	want := map[string]string{
		"name.middleName":         `"Q"`,
		"emails[1]":               `{"value":"second@x.org"}`,
		"title":                   `"CTO"`,
		schemas.EnterpriseUserURN: `{"department":"R\u0026D"}`,
		schemas.FerryUserURN + ":extra.logins_count": `7`,
	}
	for p, v := range want {
		if got[p] != v {
			t.Errorf("%s: before = %s, want %s (all: %v)", p, got[p], v, got)
		}
	}
	for p, v := range got {
		if strings.Contains(v, "pbkdf2-secret-hash") {
			t.Errorf("%s: the password hash reached the change log", p)
		}
	}
	// A whole extension lost (a SCIM target that does not declare it) keeps its value
	// with the secrets inside masked.
	var whole Changes
	RecordLosses(u, "scim", []string{schemas.FerryUserURN}, &whole)
	if b := string(whole.List[0].Before); strings.Contains(b, "pbkdf2-secret-hash") || !strings.Contains(b, "logins_count") {
		t.Errorf("lost ferry extension logged as %s", b)
	}
}
