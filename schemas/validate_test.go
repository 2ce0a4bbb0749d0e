package schemas

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/segmentio/encoding/json"
)

func ptr[T any](v T) *T { return &v }

// typicalUser is what a provider export usually yields: core, enterprise and ferry parts.
func typicalUser() *User {
	return &User{
		Schemas:     []string{CoreUserURN, EnterpriseUserURN, FerryUserURN},
		ExternalID:  "00u1ab2cd3",
		UserName:    "bjensen@example.com",
		Name:        &Name{Formatted: "Ms. Barbara J Jensen, III", FamilyName: "Jensen", GivenName: "Barbara"},
		DisplayName: "Babs Jensen",
		NickName:    "Babs",
		Locale:      "en-US",
		Timezone:    "America/Los_Angeles",
		Active:      ptr(true),
		Emails: []MultiValued{
			{Value: "bjensen@example.com", Type: "work", Primary: true},
			{Value: "babs@jensen.org", Type: "HOME"},
		},
		PhoneNumbers: []MultiValued{{Value: "+1 555 555 5555", Type: "work"}},
		Photos:       []MultiValued{{Value: "https://photos.example.com/bjensen.jpg", Type: "photo"}},
		Addresses:    []Address{{StreetAddress: "100 Universal City Plaza", Locality: "Hollywood", Region: "CA", PostalCode: "91608", Country: "US", Type: "work", Primary: true}},
		Roles:        []MultiValued{{Value: "admin", Display: "Administrator"}},
		Enterprise:   &EnterpriseUser{EmployeeNumber: "701984", Department: "Tour Operations", Manager: &Manager{Value: "26118915-6090-4610-87e4-49d8ca9f808d"}},
		Ferry: &FerryUser{
			Provider:      "auth0",
			SourceID:      "auth0|5f7c8ec7c33c6c004bbafe82",
			Connection:    "Username-Password-Authentication",
			EmailVerified: ptr(true),
			Identities:    []json.RawMessage{json.RawMessage(`{"provider":"auth0","user_id":"5f7c8ec7c33c6c004bbafe82","connection":"Username-Password-Authentication","isSocial":false}`)},
			AppMetadata:   json.RawMessage(`{"plan":"gold"}`),
			UserMetadata:  json.RawMessage(`{"preferences":{"color":"blue"}}`),
			Extra:         json.RawMessage(`{"created_at":"2020-10-06T15:27:35.473Z","logins_count":12}`),
		},
	}
}

func TestValidateTypicalUserIsValid(t *testing.T) {
	if vs := Validate(typicalUser()); vs != nil {
		t.Fatalf("typical user: %v", Violations(vs))
	}
	if vs := Validate(&User{Schemas: []string{CoreUserURN}, UserName: "x"}); vs != nil {
		t.Fatalf("minimal user: %v", Violations(vs))
	}
}

func TestValidateRules(t *testing.T) {
	tests := []struct {
		name   string
		change func(u *User)
		want   []string // Violation.String() of each, in order
	}{
		{"userName missing", func(u *User) { u.UserName = "" },
			[]string{"userName: required and must not be empty"}},
		{"userName blank", func(u *User) { u.UserName = " \t\n" },
			[]string{"userName: required and must not be empty"}},
		{"userName invalid UTF-8", func(u *User) { u.UserName = "b\xffjensen" },
			[]string{"userName: not valid UTF-8"}},
		{"invalid UTF-8 everywhere", func(u *User) {
			u.Name.GivenName = "\xc3"
			u.DisplayName = "\xed\xa0\x80" // a UTF-16 surrogate encoded in UTF-8
			u.Emails[1].Display = "\xff"
			u.Addresses[0].Locality = "\xfe"
			u.Enterprise.Manager.DisplayName = "\x80"
			u.Ferry.SourceID = "\xff"
		}, []string{
			"name.givenName: not valid UTF-8",
			"displayName: not valid UTF-8",
			"emails[1].display: not valid UTF-8",
			"addresses[0].locality: not valid UTF-8",
			"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.displayName: not valid UTF-8",
			"urn:ferry:params:scim:schemas:extension:ferry:1.0:User:sourceId: not valid UTF-8",
		}},
		{"secret with invalid UTF-8 is not quoted", func(u *User) {
			u.Password = "hunter2\xff"
			u.Ferry.PasswordHash = "$2b$10$abc\xff"
		}, []string{
			"password: not valid UTF-8",
			"urn:ferry:params:scim:schemas:extension:ferry:1.0:User:passwordHash: not valid UTF-8",
		}},
		{"two primary emails", func(u *User) { u.Emails[1].Primary = true },
			[]string{"emails[1].primary: a second primary value: emails[0] is already primary (at most one may be)"}},
		{"three primary phone numbers", func(u *User) {
			u.PhoneNumbers = []MultiValued{{Value: "1", Primary: true}, {Value: "2"}, {Value: "3", Primary: true}, {Value: "4", Primary: true}}
		}, []string{
			"phoneNumbers[2].primary: a second primary value: phoneNumbers[0] is already primary (at most one may be)",
			"phoneNumbers[3].primary: a second primary value: phoneNumbers[0] is already primary (at most one may be)",
		}},
		{"two primary addresses", func(u *User) { u.Addresses = append(u.Addresses, Address{Locality: "Paris", Primary: true}) },
			[]string{"addresses[1].primary: a second primary value: addresses[0] is already primary (at most one may be)"}},
		{"two primaries in each of ims, photos, entitlements, roles, x509Certificates", func(u *User) {
			two := []MultiValued{{Value: "a", Primary: true}, {Value: "b", Primary: true}}
			u.IMs, u.Photos, u.Entitlements, u.Roles = two, two, two, two
			u.X509Certificates = []MultiValued{{Value: "TUlJ", Primary: true}, {Value: "TUlK", Primary: true}}
		}, []string{
			"ims[1].primary: a second primary value: ims[0] is already primary (at most one may be)",
			"photos[1].primary: a second primary value: photos[0] is already primary (at most one may be)",
			"entitlements[1].primary: a second primary value: entitlements[0] is already primary (at most one may be)",
			"roles[1].primary: a second primary value: roles[0] is already primary (at most one may be)",
			"x509Certificates[1].primary: a second primary value: x509Certificates[0] is already primary (at most one may be)",
		}},
		{"groups have no primary", func(u *User) { u.Groups = []MultiValued{{Value: "g1", Primary: true}} },
			[]string{"groups[0].primary: groups has no primary sub-attribute"}},
		{"emails have no $ref", func(u *User) { u.Emails[0].Ref = "https://example.com/x" },
			[]string{"emails[0].$ref: emails has no $ref sub-attribute"}},
		{"groups have $ref", func(u *User) {
			u.Groups = []MultiValued{{Value: "g1", Ref: "https://example.com/v2/Groups/g1", Type: "direct"}}
		},
			nil},
		{"non-canonical email type", func(u *User) { u.Emails[1].Type = "personal" },
			[]string{`emails[1].type: "personal" is not a canonical value (work, home, other)`}},
		{"canonical types, any case", func(u *User) {
			u.Emails[0].Type, u.Emails[1].Type = "Work", "OTHER"
			u.PhoneNumbers = []MultiValued{{Value: "1", Type: "mobile"}, {Value: "2", Type: "Fax"}, {Value: "3", Type: "pager"}, {Value: "4", Type: "home"}, {Value: "5", Type: "other"}}
			u.IMs = []MultiValued{{Value: "a", Type: "aim"}, {Value: "b", Type: "gtalk"}, {Value: "c", Type: "icq"}, {Value: "d", Type: "xmpp"}, {Value: "e", Type: "msn"}, {Value: "f", Type: "skype"}, {Value: "g", Type: "qq"}, {Value: "h", Type: "Yahoo"}}
			u.Photos = []MultiValued{{Value: "https://x/1", Type: "thumbnail"}}
			u.Addresses[0].Type = "Home"
			u.Groups = []MultiValued{{Value: "g", Type: "indirect"}}
		}, nil},
		{"non-canonical types everywhere", func(u *User) {
			u.PhoneNumbers[0].Type = "cell"
			u.IMs = []MultiValued{{Value: "a", Type: "icq2"}}
			u.Photos[0].Type = "avatar"
			u.Addresses[0].Type = "billing"
			u.Groups = []MultiValued{{Value: "g", Type: "nested"}}
		}, []string{
			`phoneNumbers[0].type: "cell" is not a canonical value (work, home, mobile, fax, pager, other)`,
			`ims[0].type: "icq2" is not a canonical value (aim, gtalk, icq, xmpp, msn, skype, qq, yahoo)`,
			`photos[0].type: "avatar" is not a canonical value (photo, thumbnail)`,
			`addresses[0].type: "billing" is not a canonical value (work, home, other)`,
			`groups[0].type: "nested" is not a canonical value (direct, indirect)`,
		}},
		{"roles, entitlements, x509Certificates accept any type", func(u *User) {
			u.Roles[0].Type = "anything"
			u.Entitlements = []MultiValued{{Value: "e", Type: "whatever"}}
			u.X509Certificates = []MultiValued{{Value: "TUlJQw==", Type: "signing"}}
		}, nil},
		{"long non-canonical type is cut in the message", func(u *User) { u.Emails[0].Type = strings.Repeat("é", 40) },
			[]string{`emails[0].type: "` + strings.Repeat("é", 32) + `"... is not a canonical value (work, home, other)`}},
		{"empty values", func(u *User) {
			u.Emails = append(u.Emails, MultiValued{Type: "other"})
			u.PhoneNumbers[0].Value = "  "
			u.Roles = append(u.Roles, MultiValued{Display: "no value"})
			u.Groups = []MultiValued{{}}
		}, []string{
			"emails[2].value: missing or empty: each entry of a multi-valued attribute needs a value",
			"phoneNumbers[0].value: missing or empty: each entry of a multi-valued attribute needs a value",
			"groups[0].value: missing or empty: each entry of a multi-valued attribute needs a value",
			"roles[1].value: missing or empty: each entry of a multi-valued attribute needs a value",
		}},
		{"an address needs no value", func(u *User) { u.Addresses = append(u.Addresses, Address{Country: "FR"}) }, nil},
		{"x509 value is base64", func(u *User) {
			u.X509Certificates = []MultiValued{{Value: "TUlJQ0="}, {Value: "MIIC not base64"}, {Value: "TUlJQw=="}}
		}, []string{
			"x509Certificates[0].value: not base64 (binary, RFC 7643 §2.3.6)",
			"x509Certificates[1].value: not base64 (binary, RFC 7643 §2.3.6)",
		}},
		{"meta dates", func(u *User) {
			u.Meta = &Meta{ResourceType: "User", Created: "2010-01-23T04:56:22Z", LastModified: "last tuesday"}
		}, []string{`meta.lastModified: "last tuesday" is not an xsd:dateTime (e.g. 2008-01-23T04:56:22Z)`}},
		{"core URN missing", func(u *User) { u.Schemas = u.Schemas[1:] },
			[]string{"schemas: does not list the core schema urn:ietf:params:scim:schemas:core:2.0:User"}},
		{"no schemas at all", func(u *User) { u.Schemas, u.Enterprise, u.Ferry = nil, nil, nil },
			[]string{"schemas: does not list the core schema urn:ietf:params:scim:schemas:core:2.0:User"}},
		{"extension carried but not listed", func(u *User) { u.Schemas = []string{CoreUserURN} },
			[]string{
				"schemas: does not list urn:ietf:params:scim:schemas:extension:enterprise:2.0:User although the user carries enterprise extension attributes",
				"schemas: does not list urn:ferry:params:scim:schemas:extension:ferry:1.0:User although the user carries ferry extension attributes",
			}},
		{"extension listed but not carried is fine", func(u *User) { u.Enterprise, u.Ferry = nil, nil }, nil},
		{"URNs match case-insensitively", func(u *User) {
			u.Schemas = []string{strings.ToUpper(CoreUserURN), strings.ToLower(EnterpriseUserURN), FerryUserURN}
		}, nil},
		{"another resource's or no URN", func(u *User) {
			u.Schemas = append(u.Schemas, "urn:example:custom:1.0:User", CoreGroupURN, "urn:ietf:params:scim:api:messages:2.0:Error", "acme")
		},
			[]string{
				`schemas[4]: "urn:ietf:params:scim:schemas:core:2.0:Group" is not a User schema (urn:ietf:params:scim:schemas:core:2.0:User, urn:ietf:params:scim:schemas:extension:enterprise:2.0:User, urn:ferry:params:scim:schemas:extension:ferry:1.0:User, or an extension's URN)`,
				`schemas[5]: "urn:ietf:params:scim:api:messages:2.0:Error" is not a User schema (urn:ietf:params:scim:schemas:core:2.0:User, urn:ietf:params:scim:schemas:extension:enterprise:2.0:User, urn:ferry:params:scim:schemas:extension:ferry:1.0:User, or an extension's URN)`,
				`schemas[6]: "acme" is not a schema URN (a User schema is named by a URN, RFC 7643 §3)`,
			}},
		{"custom extension listed", func(u *User) {
			u.Schemas = append(u.Schemas, "urn:acme:2.0:User")
			u.Extensions = []Extension{{URN: "urn:acme:2.0:User", Data: json.RawMessage(`{"badge":7}`)}}
		}, nil},
		{"custom extension data not listed or not an object", func(u *User) {
			u.Extensions = []Extension{
				{URN: "urn:acme:2.0:User", Data: json.RawMessage(`{"badge":7}`)},
				{URN: "urn:other:1.0:User", Data: json.RawMessage(`"x"`)},
			}
			u.Schemas = append(u.Schemas, "urn:other:1.0:User")
		}, []string{
			"urn:other:1.0:User: expected object (extension data), got string",
			"urn:acme:2.0:User: extension data under this URN, but schemas does not list it",
		}},
		{"URN listed twice", func(u *User) { u.Schemas = append(u.Schemas, strings.ToUpper(EnterpriseUserURN)) },
			[]string{`schemas[3]: "URN:IETF:PARAMS:SCIM:SCHEMAS:EXTENSION:ENTERPRISE:2.0:USER" is listed twice (as schemas[1] too)`}},
		{"ferry opaque fields of the wrong shape", func(u *User) {
			u.Ferry.AppMetadata = json.RawMessage(`"gold"`)
			u.Ferry.MFAFactors = json.RawMessage(`{"totp":{}}`)
			u.Ferry.Identities = append(u.Ferry.Identities, json.RawMessage(`42`))
			u.Ferry.Extra = json.RawMessage("{\"k\":\"\xff\"}")
		}, []string{
			"urn:ferry:params:scim:schemas:extension:ferry:1.0:User:identities[1]: expected object, got number",
			"urn:ferry:params:scim:schemas:extension:ferry:1.0:User:appMetadata: expected object, got string",
			"urn:ferry:params:scim:schemas:extension:ferry:1.0:User:mfaFactors: expected array, got object",
			"urn:ferry:params:scim:schemas:extension:ferry:1.0:User:extra: not valid UTF-8",
		}},
		{"ferry opaque fields may be null or arrays where multi-valued", func(u *User) {
			u.Ferry.AppMetadata = json.RawMessage(`null`)
			u.Ferry.MFAFactors = json.RawMessage(` [{"totp":{"secret":"x"}}]`)
		}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u := typicalUser()
			tt.change(u)
			got := strs(Validate(u))
			if !slices.Equal(got, tt.want) {
				t.Errorf("Validate:\ngot  %q\nwant %q", got, tt.want)
			}
			for _, v := range got {
				for _, secret := range []string{"hunter2", "$2b$10$"} {
					if strings.Contains(v, secret) {
						t.Errorf("violation %q shows a secret", v)
					}
				}
			}
		})
	}
}

func strs(vs []Violation) []string {
	var out []string
	for _, v := range vs {
		out = append(out, v.String())
	}
	return out
}

// Canonical values come from the definitions, and caseExact is honoured.
func TestCanonicalFollowsCaseExact(t *testing.T) {
	a := &Attribute{Name: "type", Type: TypeString, CanonicalValues: []string{"User", "Group"}}
	if !canonical(a, "user") {
		t.Error("caseExact false: user should match User")
	}
	a.CaseExact = true
	if canonical(a, "user") || !canonical(a, "User") {
		t.Error("caseExact true: only User should match")
	}
	if !canonical(&Attribute{CanonicalValues: []string{}}, "x") {
		t.Error("an empty canonical list restricts nothing")
	}
	if got := ruleEmails.typ.CanonicalValues; !slices.Equal(got, []string{"work", "home", "other"}) {
		t.Errorf("emails.type canonical values from the definitions = %v", got)
	}
}

func TestViolationCap(t *testing.T) {
	u := typicalUser()
	for i := 0; i < 3*maxViolations; i++ {
		u.Emails = append(u.Emails, MultiValued{Type: "nope"})
	}
	vs := Validate(u)
	if len(vs) != maxViolations+1 {
		t.Fatalf("got %d violations, want %d", len(vs), maxViolations+1)
	}
	if last := vs[len(vs)-1]; last.Path != "(record)" || last.Msg != "500 more violations not listed" {
		t.Errorf("last violation = %v", last)
	}
}

func TestViolationsError(t *testing.T) {
	vs := Violations{{"userName", "required and must not be empty"}, {"emails[1].type", `"x" is not a canonical value (work, home, other)`}}
	want := `userName: required and must not be empty; emails[1].type: "x" is not a canonical value (work, home, other)`
	if vs.Error() != want {
		t.Errorf("Error() = %q", vs.Error())
	}
	var err error = vs
	var got Violations
	if !errors.As(err, &got) || len(got) != 2 {
		t.Error("errors.As does not find the Violations")
	}
	if Violations(nil).Err() != nil {
		t.Error("no violations must be a nil error")
	}
	if vs.Err() == nil {
		t.Error("violations must be a non-nil error")
	}
}

func TestValidBase64(t *testing.T) {
	for s, want := range map[string]bool{
		"": true, "TQ==": true, "TWE=": true, "TWFu": true, "TWFuTWFu": true, "a+/9": true,
		"TQ=": false, "T===": false, "TQ==TWFu": false, "TW=u": false, "TWF-": false, "TWF_": false, "TWFu\n": false,
	} {
		if validBase64(s) != want {
			t.Errorf("validBase64(%q) = %v", s, !want)
		}
	}
}
