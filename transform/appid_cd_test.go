package transform

import (
	"strings"
	"testing"

	"github.com/ferry-dev/ferry/internal/core"
	"github.com/ferry-dev/ferry/schemas"
)

func FuzzDecodeAppIDCD(f *testing.F) { fuzzDecoder(f, core.FormatAppIDCD) }

func TestDecodeAppIDCD(t *testing.T) {
	u := mustDecode(t, core.FormatAppIDCD, `{"scimUser":{"originalId":"66ad","userName":"myUserName",
		"name":{"givenName":"John","familyName":"Doe"},"displayName":"John Doe","active":true,
		"emails":[{"value":"j@mail.com","primary":true}],"status":"CONFIRMED","mfaContext":{}},
		"passwordHash":"$2a$10$abc","passwordHashAlg":"bcrypt","profile":{"attributes":{"points":150}},"roles":["adult"]}`)
	f := u.Ferry
	checks := []struct {
		name      string
		got, want any
	}{
		{"userName", u.UserName, "myUserName"},
		{"sourceId from originalId", f.SourceID, "66ad"},
		{"provider", f.Provider, "appid-cd"},
		{"connection", f.Connection, "cloud_directory"},
		{"name", *u.Name, schemas.Name{GivenName: "John", FamilyName: "Doe"}},
		{"active", *u.Active, true},
		{"emails", u.Emails, []schemas.MultiValued{{Value: "j@mail.com", Primary: true}}},
		{"hash", f.PasswordHash, "$2a$10$abc"},
		{"alg", f.PasswordHashAlg, "bcrypt"},
		{"attributes", string(f.Attributes), `{"points":150}`},
		{"roles", u.Roles, []schemas.MultiValued{{Value: "adult"}}},
		{"non-SCIM scimUser members kept", string(f.Extra), `{"scimUser":{"status":"CONFIRMED","mfaContext":{}}}`},
	}
	for _, c := range checks {
		if !jsonEq(t, c.got, c.want) {
			t.Errorf("%s: got %v, want %v", c.name, c.got, c.want)
		}
	}
}

func TestDecodeAppIDCDRejects(t *testing.T) {
	tests := []struct{ in, field, msg string }{
		{`{"roles":[]}`, "scimUser", "missing"},
		{`{"scimUser":[]}`, "scimUser", "expected object, got array"},
		{`{"scimUser":{"userName":"a","emails":[{"value":"x"},{"value":5}]}}`, "scimUser.emails[1].value", "expected string, got number"},
		{`{"scimUser":{"userName":"a","emails":[{"value":"x","verified":true}]}}`, "scimUser.verified", "attribute not in the SCIM User schema or a known extension"},
		{`{"scimUser":{"userName":"a","name":{"GivenName":"x"}}}`, "scimUser.GivenName", "attribute not in the SCIM User schema or a known extension"},
		{`{"scimUser":{"userName":"a","active":"yes"}}`, "scimUser.active", "expected boolean, got string"},
		{`{"scimUser":{"userName":"a"},"passwordHash":42}`, "passwordHash", "expected string, got number"},
		{`{"scimUser":{"userName":"a"},"profile":{"attributes":[]}}`, "profile.attributes", "expected object, got array"},
		{`{"scimUser":{"userName":"a"},"profile":{"x":1,"x":2}}`, "profile.x", "duplicate key"},
		{`{"scimUser":{"displayName":"nobody"}}`, "scimUser.userName", "missing: a user needs userName, an email or originalId"},
	}
	for _, tt := range tests {
		_, err := decodeAppIDCD([]byte(tt.in))
		fe, ok := err.(*FieldError)
		if !ok || fe.Field != tt.field || fe.Msg != tt.msg {
			t.Errorf("%s: got %v, want %s: %s", tt.in, err, tt.field, tt.msg)
		}
	}
}

// TestAppIDCDRoundTripSCIMEquivalence pins the one documented difference: inside scimUser
// attributes, sub-attributes with unassigned values (RFC 7643 §2.5) come back absent.
func TestAppIDCDRoundTripSCIMEquivalence(t *testing.T) {
	raw := []byte(`{"scimUser":{"userName":"u","emails":[{"value":"a@x.com","primary":false,"type":""}],"displayName":""}}`)
	got := viaSCIM(t, core.FormatAppIDCD, raw)
	assertSameJSON(t, []byte(`{"scimUser":{"userName":"u","emails":[{"value":"a@x.com"}],"displayName":""}}`), got)
}

// TestEncodeAppIDCDFromAuth0: another provider's user becomes a Cloud Directory item with
// its SCIM attributes; ids that mean nothing to App ID (SCIM id, originalId) are left out.
func TestEncodeAppIDCDFromAuth0(t *testing.T) {
	u := mustDecode(t, core.FormatAuth0, `{"user_id":"auth0|1","email":"a@x.com","username":"alice","name":"A",
		"password_hash":"$2b$10$xyz","blocked":false}`)
	u.ID = "scim-9"
	out, err := encodeAppIDCD(nil, u)
	if err != nil {
		t.Fatal(err)
	}
	assertSameJSON(t, []byte(`{"scimUser":{"externalId":"auth0|1","userName":"alice","name":{"formatted":"A"},
		"displayName":"A","active":true,"emails":[{"value":"a@x.com","primary":true}]},
		"passwordHash":"$2b$10$xyz","passwordHashAlg":"bcrypt"}`), out)
	if strings.Contains(string(out), "scim-9") || strings.Contains(string(out), "originalId") {
		t.Fatalf("foreign ids written: %s", out)
	}
	back := mustDecode(t, core.FormatAppIDCD, string(out))
	if back.UserName != "alice" || back.PrimaryEmail() != "a@x.com" || back.Ferry.PasswordHash != "$2b$10$xyz" {
		t.Fatalf("item does not read back: %s", out)
	}
}
