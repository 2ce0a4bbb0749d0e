package transform

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ferry-dev/ferry/internal/core"
	"github.com/ferry-dev/ferry/schemas"
	"github.com/segmentio/encoding/json"
)

func FuzzDecodeAuth0(f *testing.F) { fuzzDecoder(f, core.FormatAuth0) }

func mustDecode(t testing.TB, format, raw string) *schemas.User {
	t.Helper()
	dec, err := DecoderFor(format)
	if err != nil {
		t.Fatal(err)
	}
	u, err := dec.Decode([]byte(raw))
	if err != nil {
		t.Fatalf("decode %s: %v", raw, err)
	}
	return u
}

func TestDecodeAuth0Mapping(t *testing.T) {
	u := mustDecode(t, core.FormatAuth0, `{
		"user_id":"google-oauth2|1035","email":"Jane@Example.com","email_verified":"true",
		"name":"Jane Doe","given_name":"Jane","family_name":"Doe","nickname":"jd",
		"picture":"https://p.example/j.png","blocked":false,"phone_number":"+14155550100",
		"created_at":"2021-03-04T09:12:45.317Z","updated_at":"2024-11-02T17:40:01Z",
		"identities":[{"provider":"google-oauth2","user_id":"1035","connection":"google-oauth2","isSocial":true},
		              {"provider":"facebook","user_id":10155143411342461,"connection":"facebook","isSocial":true,"profileData":{"name":"J"}}],
		"app_metadata":{"plan":"pro"},"user_metadata":{"a":{"b":[1,2]}},
		"roles":["admin"],"last_login":"2024-11-02T17:40:00Z","logins_count":7}`)
	f := u.Ferry
	checks := []struct {
		name      string
		got, want any
	}{
		{"userName (email, no username)", u.UserName, "Jane@Example.com"},
		{"externalId", u.ExternalID, "google-oauth2|1035"},
		{"sourceId", f.SourceID, "google-oauth2|1035"},
		{"provider", f.Provider, "auth0"},
		{"connection", f.Connection, "google-oauth2"},
		{"email", u.Emails, []schemas.MultiValued{{Value: "Jane@Example.com", Primary: true}}},
		{"emailVerified from the string quirk", *f.EmailVerified, true},
		{"displayName", u.DisplayName, "Jane Doe"},
		{"name", *u.Name, schemas.Name{Formatted: "Jane Doe", GivenName: "Jane", FamilyName: "Doe"}},
		{"nickName", u.NickName, "jd"},
		{"photos", u.Photos, []schemas.MultiValued{{Value: "https://p.example/j.png", Type: "photo"}}},
		{"phone", u.PhoneNumbers, []schemas.MultiValued{{Value: "+14155550100"}}},
		{"active = !blocked", *u.Active, true},
		{"meta", *u.Meta, schemas.Meta{ResourceType: "User", Created: "2021-03-04T09:12:45.317Z", LastModified: "2024-11-02T17:40:01Z"}},
		{"identities kept", len(f.Identities), 2},
		{"numeric identity user_id stays a number", strings.Contains(string(f.Identities[1]), `"user_id":10155143411342461`), true},
		{"linked identity profileData kept", strings.Contains(string(f.Identities[1]), `"profileData":{"name":"J"}`), true},
		{"appMetadata raw", string(f.AppMetadata), `{"plan":"pro"}`},
		{"userMetadata raw", string(f.UserMetadata), `{"a":{"b":[1,2]}}`},
		{"roles", u.Roles, []schemas.MultiValued{{Value: "admin"}}},
		{"extra verbatim", string(f.Extra), `{"last_login":"2024-11-02T17:40:00Z","logins_count":7}`},
		{"schemas", u.Schemas, []string{schemas.CoreUserURN, schemas.FerryUserURN}},
	}
	for _, c := range checks {
		if !jsonEq(t, c.got, c.want) {
			t.Errorf("%s: got %v, want %v", c.name, c.got, c.want)
		}
	}
}

func jsonEq(t *testing.T, a, b any) bool {
	return canonical(t, a) == canonical(t, b)
}

func TestAuth0UserName(t *testing.T) {
	tests := []struct {
		in, want      string
		extraUsername bool // kept in Extra so that it comes back though it equals a derived value
	}{
		{`{"user_id":"auth0|1","email":"a@x.com","username":"alice"}`, "alice", false},
		{`{"user_id":"auth0|1","email":"a@x.com"}`, "a@x.com", false},
		{`{"user_id":"sms|1","phone_number":"+1"}`, "sms|1", false},
		{`{"user_id":"auth0|1","email":"a@x.com","username":"a@x.com"}`, "a@x.com", true},
		{`{"user_id":"auth0|1","username":"auth0|1"}`, "auth0|1", true},
		{`{"user_id":"auth0|1","email":"","username":""}`, "auth0|1", false},
	}
	for _, tt := range tests {
		u := mustDecode(t, core.FormatAuth0, tt.in)
		if u.UserName != tt.want {
			t.Errorf("%s: userName %q, want %q", tt.in, u.UserName, tt.want)
		}
		_, inExtra := lookup(u.Ferry.Extra, "username")
		if inExtra != tt.extraUsername && !strings.Contains(tt.in, `"username":""`) {
			t.Errorf("%s: username in extra = %v, want %v", tt.in, inExtra, tt.extraUsername)
		}
		assertSameJSON(t, []byte(tt.in), viaSCIM(t, core.FormatAuth0, []byte(tt.in)))
	}
}

// TestDecodeAuth0Rejects: every record of the wrong shape is a *FieldError naming the
// field by its JSON path, and no message repeats a value (values may be secrets).
func TestDecodeAuth0Rejects(t *testing.T) {
	tests := []struct {
		in, field, msg string
	}{
		{`{"user_id":"a|1","identities":[{"user_id":"1"},{"user_id":{"x":1}}]}`, "identities[1].user_id", "expected string or number, got object"},
		{`{"user_id":"a|1","identities":[{"user_id":"1"},{"user_id":true}]}`, "identities[1].user_id", "expected string or number, got boolean"},
		{`{"user_id":"a|1","identities":[{"connection":5}]}`, "identities[0].connection", "expected string, got number"},
		{`{"user_id":"a|1","identities":[{"isSocial":"yes"}]}`, "identities[0].isSocial", "expected boolean, got string"},
		{`{"user_id":"a|1","identities":[{"profileData":[]}]}`, "identities[0].profileData", "expected object, got array"},
		{`{"user_id":"a|1","identities":[1]}`, "identities[0]", "expected object, got number"},
		{`{"user_id":"a|1","identities":{}}`, "identities", "expected array, got object"},
		{`{"user_id":"a|1","identities":[{"user_id":"1","user_id":"2"}]}`, "identities[0].user_id", "duplicate key"},
		{`{"user_id":7}`, "user_id", "expected string, got number"},
		{`{"user_id":"a|1","email_verified":"yes"}`, "email_verified", "expected boolean, got string"},
		{`{"user_id":"a|1","blocked":"true"}`, "blocked", "expected boolean, got string"},
		{`{"user_id":"a|1","created_at":"yesterday"}`, "created_at", "not an RFC 3339 date-time"},
		{`{"user_id":"a|1","app_metadata":[1]}`, "app_metadata", "expected object, got array"},
		{`{"user_id":"a|1","user_metadata":"x"}`, "user_metadata", "expected object, got string"},
		{`{"user_id":"a|1","roles":["a",2]}`, "roles[1]", "expected string, got number"},
		{`{"user_id":"a|1","mfa_factors":{}}`, "mfa_factors", "expected array, got object"},
		{`{"user_id":"a|1","password_hash":123456789}`, "password_hash", "expected string, got number"},
		{`{"user_id":"a|1","email":"a@x","email":"b@x"}`, "email", "duplicate key"},
		{`{"user_id":"a|1","name":"\ud800"}`, "name", "invalid escape or unpaired UTF-16 surrogate in string"},
		{`{"last_login":"2024-01-01T00:00:00Z"}`, "user_id", "missing: a user needs user_id, username or email"},
		{`[{"user_id":"a|1"}]`, "(record)", "expected a JSON object, got array"},
		{`{"user_id":"a|1",}`, "(record)", "malformed JSON"},
		{"{\"user_id\":\"a|\xff\"}", "(record)", "invalid UTF-8"},
		{``, "(record)", "malformed JSON"},
	}
	for _, tt := range tests {
		_, err := decodeAuth0([]byte(tt.in))
		fe, ok := err.(*FieldError)
		if !ok {
			t.Errorf("%s: got %T %v, want *FieldError", tt.in, err, err)
			continue
		}
		if fe.Field != tt.field || !strings.HasPrefix(fe.Msg, tt.msg) {
			t.Errorf("%s:\n got %q: %q\nwant %q: %q", tt.in, fe.Field, fe.Msg, tt.field, tt.msg)
		}
		if strings.Contains(fe.Error(), "123456789") || strings.Contains(fe.Error(), "yesterday") {
			t.Errorf("%s: message repeats the value: %v", tt.in, fe)
		}
	}
}

// TestEncodeAuth0SCIMWins: a policy changes SCIM attributes, not Extra; a provider field
// left in Extra must neither override nor duplicate the attribute written from SCIM.
func TestEncodeAuth0SCIMWins(t *testing.T) {
	u := mustDecode(t, core.FormatAuth0, `{"user_id":"auth0|1","email":"old@x.com","picture":"https://old"}`)
	u.Photos[0].Value = "https://new"
	u.Ferry.Extra = json.RawMessage(`{"picture":"https://stale","logins_count":3}`)
	out, err := encodeAuth0(nil, u)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Count(string(out), `"picture"`) != 1 {
		t.Fatalf("picture written twice: %s", out)
	}
	assertSameJSON(t, []byte(`{"user_id":"auth0|1","email":"old@x.com","picture":"https://new","logins_count":3}`), out)
}

func TestEncodeAuth0BadRaw(t *testing.T) {
	tests := []struct {
		mut   func(f *schemas.FerryUser)
		field string
	}{
		{func(f *schemas.FerryUser) { f.AppMetadata = json.RawMessage(`[1]`) }, pathAppMeta},
		{func(f *schemas.FerryUser) { f.UserMetadata = json.RawMessage(`{"a":`) }, pathUserMeta},
		{func(f *schemas.FerryUser) {
			f.Identities = []json.RawMessage{json.RawMessage(`{}`), json.RawMessage(`3`)}
		}, pathIdentities + "[1]"},
		{func(f *schemas.FerryUser) { f.Extra = json.RawMessage(`[]`) }, pathExtra},
		{func(f *schemas.FerryUser) { f.MFAFactors = json.RawMessage(`{}`) }, pathMFA},
	}
	for _, tt := range tests {
		u := mustDecode(t, core.FormatAuth0, `{"user_id":"auth0|1","email":"a@x.com"}`)
		tt.mut(u.Ferry)
		_, err := encodeAuth0(nil, u)
		if fe, ok := err.(*FieldError); !ok || fe.Field != tt.field {
			t.Errorf("want FieldError on %s, got %v", tt.field, err)
		}
	}
}

func realisticAuth0(b *testing.B) []byte {
	raw, err := os.ReadFile(filepath.Join(fixturesDir, "auth0", "google-linked.json"))
	if err != nil {
		b.Fatal(err)
	}
	var c []byte
	c, err = json.Append(nil, json.RawMessage(raw), 0) // compact, as the export job writes it
	if err != nil {
		b.Fatal(err)
	}
	return c
}

// BenchmarkAuth0ToSCIM is the hot path of an Auth0 export: decode one user, write SCIM.
func BenchmarkAuth0ToSCIM(b *testing.B) {
	raw := realisticAuth0(b)
	b.ReportAllocs()
	b.SetBytes(int64(len(raw)))
	var out []byte
	for b.Loop() {
		u, err := decodeAuth0(raw)
		if err != nil {
			b.Fatal(err)
		}
		out, err = encodeSCIM(out[:0], u)
		if err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkBaselineDecodeEncode is a plain decode into map[string]any and re-encode of the
// same bytes: what a mapping that goes through generic values would cost at least.
func BenchmarkBaselineDecodeEncode(b *testing.B) {
	raw := realisticAuth0(b)
	b.ReportAllocs()
	b.SetBytes(int64(len(raw)))
	var out []byte
	for b.Loop() {
		var m map[string]any
		if err := json.Unmarshal(raw, &m); err != nil {
			b.Fatal(err)
		}
		var err error
		out, err = json.Append(out[:0], m, 0)
		if err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSCIMToAuth0Import(b *testing.B) {
	raw := realisticAuth0(b)
	u, err := decodeAuth0(raw)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	var out []byte
	for b.Loop() {
		out, err = encodeAuth0Import(out[:0], u)
		if err != nil {
			b.Fatal(err)
		}
	}
	b.SetBytes(int64(len(out)))
}

// TestDecodeDoesNotAliasInput: a source may reuse its buffer once Decode returns.
func TestDecodeDoesNotAliasInput(t *testing.T) {
	for _, format := range []string{core.FormatAuth0, core.FormatAppID, core.FormatAppIDCD, core.FormatOIDC} {
		raw, err := os.ReadFile(filepath.Join(fixturesDir, format, map[string]string{
			core.FormatAuth0: "google-linked.json", core.FormatAppID: "facebook.json",
			core.FormatAppIDCD: "bcrypt.json", core.FormatOIDC: "full.json"}[format]))
		if err != nil {
			t.Fatal(err)
		}
		u := mustDecode(t, format, string(raw))
		before, _ := encodeSCIM(nil, u)
		dec, _ := DecoderFor(format)
		u, _ = dec.Decode(raw)
		for i := range raw {
			raw[i] = 'X'
		}
		after, _ := encodeSCIM(nil, u)
		if string(before) != string(after) {
			t.Errorf("%s: the decoded user changed when the input buffer was overwritten", format)
		}
	}
}
