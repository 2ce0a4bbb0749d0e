package transform

import (
	"testing"

	"github.com/ferry-dev/ferry/internal/core"
	"github.com/ferry-dev/ferry/schemas"
)

func FuzzDecodeOIDC(f *testing.F) { fuzzDecoder(f, core.FormatOIDC) }

func TestDecodeOIDC(t *testing.T) {
	u := mustDecode(t, core.FormatOIDC, `{"sub":"248289761001","name":"Jane Doe","given_name":"Jane",
		"family_name":"Doe","middle_name":"Q","nickname":"JD","preferred_username":"j.doe",
		"profile":"https://e.com/jd","picture":"https://e.com/jd.jpg","website":"https://jd.org",
		"email":"jd@e.com","email_verified":true,"gender":"female","birthdate":"0000-10-31",
		"zoneinfo":"Europe/Paris","locale":"fr-FR","phone_number":"+33 1","phone_number_verified":false,
		"address":{"formatted":"1 rue","street_address":"1 rue","locality":"Paris","region":"IdF",
		"postal_code":"75001","country":"FR","floor":"3"},"updated_at":1311280970}`)
	f := u.Ferry
	no := false
	checks := []struct {
		name      string
		got, want any
	}{
		{"userName", u.UserName, "j.doe"},
		{"externalId", u.ExternalID, "248289761001"},
		{"sourceId", f.SourceID, "248289761001"},
		{"name", *u.Name, schemas.Name{Formatted: "Jane Doe", GivenName: "Jane", FamilyName: "Doe", MiddleName: "Q"}},
		{"displayName", u.DisplayName, "Jane Doe"},
		{"nickName", u.NickName, "JD"},
		{"profileUrl", u.ProfileURL, "https://e.com/jd"},
		{"photos", u.Photos, []schemas.MultiValued{{Value: "https://e.com/jd.jpg", Type: "photo"}}},
		{"emails", u.Emails, []schemas.MultiValued{{Value: "jd@e.com", Primary: true}}},
		{"timezone", u.Timezone, "Europe/Paris"},
		{"locale", u.Locale, "fr-FR"},
		{"phone", u.PhoneNumbers, []schemas.MultiValued{{Value: "+33 1"}}},
		{"phoneVerified", f.PhoneVerified, &no},
		{"address", u.Addresses, []schemas.Address{{Formatted: "1 rue", StreetAddress: "1 rue", Locality: "Paris", Region: "IdF", PostalCode: "75001", Country: "FR"}}},
		{"lastModified", u.Meta.LastModified, "2011-07-21T20:42:50Z"},
		{"extra", string(f.Extra), `{"website":"https://jd.org","gender":"female","birthdate":"0000-10-31","address":{"floor":"3"}}`},
	}
	for _, c := range checks {
		if !jsonEq(t, c.got, c.want) {
			t.Errorf("%s: got %v, want %v", c.name, c.got, c.want)
		}
	}
}

func TestOIDCUpdatedAt(t *testing.T) {
	tests := []struct{ in, want, back string }{
		{`1311280970`, "2011-07-21T20:42:50Z", `1311280970`},
		{`1311280970.25`, "2011-07-21T20:42:50.25Z", `1311280970.25`},
		{`-1.5`, "1969-12-31T23:59:58.5Z", `-1.5`},
		{`1.31128097e9`, "2011-07-21T20:42:50Z", `1311280970`},
		{`"2023-01-17T08:01:44.210Z"`, "2023-01-17T08:01:44.210Z", `1673942504.21`},
	}
	for _, tt := range tests {
		raw := `{"sub":"s","updated_at":` + tt.in + `}`
		u := mustDecode(t, core.FormatOIDC, raw)
		if u.Meta.LastModified != tt.want {
			t.Errorf("%s: lastModified %q, want %q", tt.in, u.Meta.LastModified, tt.want)
		}
		assertSameJSON(t, []byte(`{"sub":"s","updated_at":`+tt.back+`}`), viaSCIM(t, core.FormatOIDC, []byte(raw)))
	}
}

// TestOIDCRoundTrip: claims -> SCIM -> claims gives the claims back, updated_at as seconds.
func TestOIDCRoundTrip(t *testing.T) {
	for _, raw := range []string{
		`{"sub":"1","preferred_username":"jd@e.com","email":"jd@e.com","address":{"country":"FR","x":1},"custom":[1,{"a":null}]}`,
		`{"sub":"1","preferred_username":"1","email_verified":false,"address":{}}`,
		`{"sub":"1","name":"","email":null,"phone_number_verified":true}`,
	} {
		assertSameJSON(t, []byte(raw), viaSCIM(t, core.FormatOIDC, []byte(raw)))
	}
}

func TestDecodeOIDCRejects(t *testing.T) {
	tests := []struct{ in, field, msg string }{
		{`{"name":"x"}`, "sub", "missing: UserInfo requires sub"},
		{`{"sub":1}`, "sub", "expected string, got number"},
		{`{"sub":"1","address":"Paris"}`, "address", "expected object, got string"},
		{`{"sub":"1","address":{"locality":7}}`, "address.locality", "expected string, got number"},
		{`{"sub":"1","updated_at":true}`, "updated_at", "expected number (seconds since the epoch), got boolean"},
		{`{"sub":"1","updated_at":1e300}`, "updated_at", "seconds since the epoch out of range"},
		{`{"sub":"1","updated_at":"last tuesday"}`, "updated_at", "not an RFC 3339 date-time"},
		{`{"sub":"1","email_verified":"yes"}`, "email_verified", "expected boolean, got string"},
	}
	for _, tt := range tests {
		_, err := decodeOIDC([]byte(tt.in))
		fe, ok := err.(*FieldError)
		if !ok || fe.Field != tt.field || fe.Msg != tt.msg {
			t.Errorf("%s: got %v, want %s: %s", tt.in, err, tt.field, tt.msg)
		}
	}
}
