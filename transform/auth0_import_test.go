package transform

import (
	"fmt"
	"os"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/ferry-dev/ferry/internal/core"
	"github.com/ferry-dev/ferry/schemas"
	"github.com/segmentio/encoding/json"
)

// The reference schema lives in the shared workspace next to the repository (../../shared
// from transform/ in the main checkout, one level further up from a worktree).
func loadImportSchema(t *testing.T) map[string]any {
	t.Helper()
	for _, p := range []string{
		"../../shared/reference/auth0-bulk-import-user.schema.json",
		"../../../shared/reference/auth0-bulk-import-user.schema.json",
	} {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		var s map[string]any
		if err := json.Unmarshal(b, &s); err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		return s
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("auth0-bulk-import-user.schema.json not found")
	}
	t.Skip("auth0 bulk-import schema not found (shared/reference)")
	return nil
}

// validate checks v against the JSON Schema subset the Auth0 import schema uses.
func validate(s map[string]any, v any, path string) []string {
	var errs []string
	fail := func(f string, a ...any) { errs = append(errs, path+": "+fmt.Sprintf(f, a...)) }
	if typ, ok := s["type"].(string); ok {
		okType := false
		switch typ {
		case "object":
			_, okType = v.(map[string]any)
		case "array":
			_, okType = v.([]any)
		case "string":
			_, okType = v.(string)
		case "boolean":
			_, okType = v.(bool)
		case "integer":
			n, isNum := v.(json.Number)
			okType = isNum && !strings.ContainsAny(string(n), ".eE")
		}
		if !okType {
			fail("want %s, got %T", typ, v)
			return errs
		}
	}
	if enum, ok := s["enum"].([]any); ok {
		found := false
		for _, e := range enum {
			if reflect.DeepEqual(e, v) {
				found = true
			}
		}
		if !found {
			fail("%v not in enum", v)
		}
	}
	if str, ok := v.(string); ok {
		if p, ok := s["pattern"].(string); ok && !regexp.MustCompile(p).MatchString(str) {
			fail("does not match %s", p)
		}
		if s["format"] == "email" && !strings.Contains(str, "@") {
			fail("not an email")
		}
	}
	if obj, ok := v.(map[string]any); ok {
		props, _ := s["properties"].(map[string]any)
		for _, r := range asSlice(s["required"]) {
			if _, ok := obj[r.(string)]; !ok {
				fail("missing required %s", r)
			}
		}
		if mp, ok := s["maxProperties"].(float64); ok && len(obj) > int(mp) {
			fail("more than %v properties", mp)
		}
		for k, pv := range obj {
			ps, ok := props[k].(map[string]any)
			if !ok {
				if s["additionalProperties"] == false {
					fail("property %q not allowed", k)
				}
				continue
			}
			errs = append(errs, validate(ps, pv, path+"."+k)...)
		}
	}
	if arr, ok := v.([]any); ok {
		if n, ok := s["minItems"].(float64); ok && len(arr) < int(n) {
			fail("fewer than %v items", n)
		}
		if n, ok := s["maxItems"].(float64); ok && len(arr) > int(n) {
			fail("more than %v items", n)
		}
		if is, ok := s["items"].(map[string]any); ok {
			for i, e := range arr {
				errs = append(errs, validate(is, e, fmt.Sprintf("%s[%d]", path, i))...)
			}
		}
	}
	return errs
}

func asSlice(v any) []any { s, _ := v.([]any); return s }

func TestSchemaValidatorCatchesViolations(t *testing.T) {
	s := loadImportSchema(t)
	bad := []string{
		`{}`,
		`{"email":"a@x","roles":["x"]}`,
		`{"email":"a@x","email_verified":"true"}`,
		`{"email":"a@x","custom_password_hash":{"algorithm":"rot13","hash":{"value":"x"}}}`,
		`{"email":"a@x","mfa_factors":[{"totp":{"secret":"lower"}}]}`,
		`{"email":"a@x","mfa_factors":[]}`,
	}
	for _, b := range bad {
		if errs := validate(s, generic(t, []byte(b)), "$"); len(errs) == 0 {
			t.Errorf("%s: validator accepted an invalid item", b)
		}
	}
}

// TestAuth0ImportMatchesSchema: every import item ferry writes, from every source format,
// validates against Auth0's own schema; a user without an email is a FieldError on emails.
func TestAuth0ImportMatchesSchema(t *testing.T) {
	s := loadImportSchema(t)
	var users []*schemas.User
	g := newGen(7)
	for range 500 {
		for format, raw := range map[string][]byte{
			core.FormatAuth0:   marshal(t, g.auth0User()),
			core.FormatAppID:   marshal(t, g.appIDUser()),
			core.FormatAppIDCD: marshal(t, g.cdUser()),
		} {
			users = append(users, mustDecode(t, format, string(raw)))
		}
	}
	users = append(users, mustDecode(t, core.FormatAuth0Import, `{"email":"c@x.com","user_id":"9",
		"custom_password_hash":{"algorithm":"pbkdf2","hash":{"value":"$pbkdf2-sha512$i=100000,l=64$c2FsdA$aGFzaA","encoding":"utf8"}},
		"mfa_factors":[{"totp":{"secret":"JBTWY3DPEHPK3PNP"}},{"phone":{"value":"+14155550100"}}]}`))
	var withEmail int
	for _, u := range users {
		item, err := encodeAuth0Import(nil, u)
		if u.PrimaryEmail() == "" {
			if fe, ok := err.(*FieldError); !ok || fe.Field != "emails" {
				t.Fatalf("user without email: want FieldError on emails, got %v", err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%s: %v", u.Ref(), err)
		}
		withEmail++
		if errs := validate(s, generic(t, item), "$"); len(errs) > 0 {
			t.Fatalf("item violates the import schema: %v\n%s", errs, item)
		}
	}
	if withEmail < 1000 {
		t.Fatalf("only %d users with an email: the generator no longer exercises the encoder", withEmail)
	}
}

func TestAuth0ImportItem(t *testing.T) {
	bcrypt := "$2b$10$C2u3HX1l3Xx1Ey3hA3vO4u1oWn0oB0cQKq3wq8r8j8Q7dY6m3pW1e"
	custom := `{"algorithm":"sha256","hash":{"value":"abc","encoding":"hex"}}`
	tests := []struct {
		name  string
		user  func(u *schemas.User)
		want  string
		lossy []string // paths Auth0ImportLosses must list (besides none else)
	}{
		{"provider prefix dropped", func(u *schemas.User) { u.Ferry.SourceID = "google-oauth2|123" },
			`{"user_id":"123","email":"a@x.com"}`, nil},
		{"only the first segment is the provider", func(u *schemas.User) { u.Ferry.SourceID = "samlp|corp|jdoe" },
			`{"user_id":"corp|jdoe","email":"a@x.com"}`, nil},
		{"bcrypt hash", func(u *schemas.User) { u.Ferry.PasswordHash, u.Ferry.PasswordHashAlg = bcrypt, "bcrypt" },
			`{"user_id":"1","email":"a@x.com","password_hash":"` + bcrypt + `"}`, nil},
		{"bcrypt hash without algorithm", func(u *schemas.User) { u.Ferry.PasswordHash = bcrypt },
			`{"user_id":"1","email":"a@x.com","password_hash":"` + bcrypt + `"}`, nil},
		{"PBKDF2 hash cannot go", func(u *schemas.User) {
			u.Ferry.PasswordHash, u.Ferry.PasswordHashAlg = "L6EEYnQ=", "PBKDF2WithHmacSHA512"
		}, `{"user_id":"1","email":"a@x.com"}`, []string{pathHash}},
		{"not a bcrypt string", func(u *schemas.User) { u.Ferry.PasswordHash, u.Ferry.PasswordHashAlg = "$1$abc", "bcrypt" },
			`{"user_id":"1","email":"a@x.com"}`, []string{pathHash}},
		{"custom hash", func(u *schemas.User) { u.Ferry.CustomPasswordHash = json.RawMessage(custom) },
			`{"user_id":"1","email":"a@x.com","custom_password_hash":` + custom + `}`, nil},
		{"bcrypt and custom are exclusive", func(u *schemas.User) {
			u.Ferry.PasswordHash, u.Ferry.CustomPasswordHash = bcrypt, json.RawMessage(custom)
		}, `{"user_id":"1","email":"a@x.com","password_hash":"` + bcrypt + `"}`, []string{pathCustomHash}},
		{"blocked from active", func(u *schemas.User) { f := false; u.Active = &f },
			`{"user_id":"1","email":"a@x.com","blocked":true}`, nil},
		{"username equal to the email comes from extra", func(u *schemas.User) {
			u.Ferry.Extra = json.RawMessage(`{"username":"a@x.com"}`)
		}, `{"user_id":"1","email":"a@x.com","username":"a@x.com"}`, nil},
		{"real username", func(u *schemas.User) { u.UserName = "alice" },
			`{"user_id":"1","email":"a@x.com","username":"alice"}`, nil},
		{"extra and identities cannot go", func(u *schemas.User) {
			u.Ferry.Extra = json.RawMessage(`{"logins_count":3,"last_ip":"x"}`)
			u.Ferry.Identities = []json.RawMessage{json.RawMessage(`{"provider":"auth0"}`)}
			u.Roles = []schemas.MultiValued{{Value: "admin"}}
		}, `{"user_id":"1","email":"a@x.com"}`, []string{"roles", pathIdentities, pathExtra + ".logins_count", pathExtra + ".last_ip"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u := &schemas.User{UserName: "a@x.com", Emails: []schemas.MultiValued{{Value: "a@x.com", Primary: true}},
				Ferry: &schemas.FerryUser{Provider: "auth0", SourceID: "auth0|1"}}
			tt.user(u)
			out, err := encodeAuth0Import(nil, u)
			if err != nil {
				t.Fatal(err)
			}
			assertSameJSON(t, []byte(tt.want), out)
			got := Auth0ImportLosses(u)
			sort.Strings(got)
			want := append([]string(nil), tt.lossy...)
			sort.Strings(want)
			if !reflect.DeepEqual(got, want) && !(len(got) == 0 && len(want) == 0) {
				t.Fatalf("losses %q, want %q", got, want)
			}
			for _, p := range got {
				if strings.Contains(p, "L6EE") || strings.Contains(p, "$2b$") {
					t.Fatalf("loss path leaks a secret: %s", p)
				}
			}
		})
	}
}

// TestAuth0ImportLossesFromSCIM: a full SCIM user going to an Auth0 import names every
// attribute the item leaves behind.
func TestAuth0ImportLossesFromSCIM(t *testing.T) {
	u, err := decodeSCIM([]byte(`{
		"schemas":["` + schemas.CoreUserURN + `","` + schemas.EnterpriseUserURN + `"],
		"id":"2819c223","externalId":"ext-1","userName":"bjensen",
		"meta":{"created":"2010-01-23T04:56:22Z","lastModified":"2011-05-13T04:42:34Z","version":"W/\"a\""},
		"name":{"formatted":"Ms. Barbara J Jensen III","familyName":"Jensen","givenName":"Barbara","middleName":"Jane","honorificPrefix":"Ms.","honorificSuffix":"III"},
		"displayName":"Babs Jensen","nickName":"Babs","profileUrl":"https://login.example.com/bjensen",
		"title":"Tour Guide","userType":"Employee","preferredLanguage":"en-US","locale":"en-US","timezone":"America/Los_Angeles",
		"active":true,"password":"t1meMa$heen",
		"emails":[{"value":"bjensen@example.com","type":"work","primary":true},{"value":"babs@jensen.org","type":"home"}],
		"phoneNumbers":[{"value":"555-555-5555","type":"work"}],
		"photos":[{"value":"https://photos.example.com/1","type":"photo"},{"value":"https://photos.example.com/2","type":"thumbnail"}],
		"addresses":[{"locality":"Hollywood","type":"work"}],
		"groups":[{"value":"e9e30dba","display":"Tour Guides"}],
		"roles":[{"value":"guide"}],
		"` + schemas.EnterpriseUserURN + `":{"employeeNumber":"701984"}}`))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"id", "meta.created", "meta.lastModified", "meta.version",
		"name.formatted", "name.middleName", "name.honorificPrefix", "name.honorificSuffix",
		"profileUrl", "title", "userType", "preferredLanguage", "locale", "timezone", "password",
		"emails[0].type", "emails[1]", "phoneNumbers[0].type", "photos[1]", "addresses", "groups", "roles",
		schemas.EnterpriseUserURN}
	got := Auth0ImportLosses(u)
	sort.Strings(got)
	sort.Strings(want)
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("losses\n got %q\nwant %q", got, want)
	}
	item, err := encodeAuth0Import(nil, u)
	if err != nil {
		t.Fatal(err)
	}
	assertSameJSON(t, []byte(`{"user_id":"ext-1","email":"bjensen@example.com","username":"bjensen",
		"phone_number":"555-555-5555","name":"Babs Jensen","given_name":"Barbara","family_name":"Jensen",
		"nickname":"Babs","picture":"https://photos.example.com/1","blocked":false}`), item)
	if strings.Contains(strings.Join(got, " "), "t1meMa") {
		t.Fatal("a loss path contains the password")
	}
}
