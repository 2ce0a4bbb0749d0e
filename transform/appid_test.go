package transform

import (
	"strings"
	"testing"

	"github.com/ferry-dev/ferry/internal/core"
	"github.com/ferry-dev/ferry/schemas"
)

func FuzzDecodeAppID(f *testing.F) { fuzzDecoder(f, core.FormatAppID) }

func TestDecodeAppIDFacebook(t *testing.T) {
	u := mustDecode(t, core.FormatAppID, `{"id":"a0791903","name":"David Test-user","email":"dave@domain.com",
		"picture":"https://fb.example/p.jpg",
		"identities":[{"provider":"facebook","id":"111","idpUserInfo":{"picture":{"data":{"url":"https://fb.example/p.jpg","height":50}}}}],
		"attributes":{"role":"admin"},"roles":["adult"],"lastLogin":"2024-01-01"}`)
	f := u.Ferry
	checks := []struct {
		name      string
		got, want any
	}{
		{"userName", u.UserName, "dave@domain.com"},
		{"externalId", u.ExternalID, "a0791903"},
		{"sourceId", f.SourceID, "a0791903"},
		{"provider", f.Provider, "appid"},
		{"connection is the first identity's provider", f.Connection, "facebook"},
		{"displayName", u.DisplayName, "David Test-user"},
		{"name.formatted", u.Name.Formatted, "David Test-user"},
		{"photos", u.Photos, []schemas.MultiValued{{Value: "https://fb.example/p.jpg", Type: "photo"}}},
		{"nested facebook picture kept", strings.Contains(string(f.Identities[0]), `"data":{"url":"https://fb.example/p.jpg"`), true},
		{"attributes", string(f.Attributes), `{"role":"admin"}`},
		{"roles", u.Roles, []schemas.MultiValued{{Value: "adult"}}},
		{"extra", string(f.Extra), `{"lastLogin":"2024-01-01"}`},
	}
	for _, c := range checks {
		if !jsonEq(t, c.got, c.want) {
			t.Errorf("%s: got %v, want %v", c.name, c.got, c.want)
		}
	}
	if u := mustDecode(t, core.FormatAppID, `{"id":"g-1"}`); u.UserName != "g-1" {
		t.Errorf("userName without email: %q, want the id", u.UserName)
	}
}

func TestDecodeAppIDRejects(t *testing.T) {
	tests := []struct{ in, field, msg string }{
		{`{"id":"1","identities":[{"provider":"google","id":"1"},{"provider":"facebook","id":[1]}]}`, "identities[1].id", "expected string or number, got array"},
		{`{"id":"1","identities":[{"provider":7}]}`, "identities[0].provider", "expected string, got number"},
		{`{"id":"1","identities":[{"idpUserInfo":"x"}]}`, "identities[0].idpUserInfo", "expected object, got string"},
		{`{"id":"1","identities":["x"]}`, "identities[0]", "expected object, got string"},
		{`{"id":"1","attributes":[]}`, "attributes", "expected object, got array"},
		{`{"id":"1","roles":[{"name":"a"}]}`, "roles[0]", "expected string, got object"},
		{`{"id":"1","roles":"admin"}`, "roles", "expected array, got string"},
		{`{"id":1}`, "id", "expected string, got number"},
		{`{"name":"no id"}`, "id", "missing: a user needs id or email"},
		{`"x"`, "(record)", "expected a JSON object, got string"},
	}
	for _, tt := range tests {
		_, err := decodeAppID([]byte(tt.in))
		fe, ok := err.(*FieldError)
		if !ok || fe.Field != tt.field || fe.Msg != tt.msg {
			t.Errorf("%s: got %v, want %s: %s", tt.in, err, tt.field, tt.msg)
		}
	}
}

// TestEncodeAppIDFromAuth0: an Auth0 user becomes an App ID import item with the fields
// both know; identities stay as they are for the identities policy to rewrite.
func TestEncodeAppIDFromAuth0(t *testing.T) {
	u := mustDecode(t, core.FormatAuth0, `{"user_id":"auth0|1","email":"a@x.com","name":"A","picture":"https://p",
		"app_metadata":{"k":1},"roles":["admin"]}`)
	u.Ferry.Extra = nil
	out, err := encodeAppID(nil, u)
	if err != nil {
		t.Fatal(err)
	}
	assertSameJSON(t, []byte(`{"id":"auth0|1","name":"A","email":"a@x.com","picture":"https://p","roles":["admin"]}`), out)
}
