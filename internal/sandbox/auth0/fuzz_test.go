package auth0

import (
	"bytes"
	"net/http"
	"testing"

	"github.com/ferry-dev/ferry/internal/gen"
)

var fuzzUsers = func() []*user {
	var us []*user
	for i := 0; i < 8; i++ {
		u, _, err := newUser(gen.Auth0(1, i, gen.Options{Nasty: 0.5}))
		if err != nil {
			panic(err)
		}
		us = append(us, u)
	}
	return us
}()

// FuzzParseQuery: any q is parsed or refused, never a panic, and a parsed query can be
// evaluated against real profiles.
func FuzzParseQuery(f *testing.F) {
	for _, s := range []string{
		"", "created_at:[2020-01-01 TO 2020-02-01}", "updated_at:[2021-03-04T05:06:07.000Z TO *]",
		`email:"jane@example.com"`, "email:*@example.com", "a AND (b OR NOT c)", "-user_id:x",
		"_exists_:username", "app_metadata.plan:pro", "logins_count:[10 TO 20]", `"unterminated`,
		"((((", "x:[a TO", "name:J?hn*", `user_id:auth0\|abc`, "created_at:2018-01-01",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := parseQuery(s)
		if err != nil || n == nil {
			return
		}
		for _, u := range fuzzUsers {
			c := evalCtx{u: u}
			n.match(&c)
		}
	})
}

// FuzzValidateImportUser: every item gets errors or none, never a panic, and an item with
// no errors has an email.
func FuzzValidateImportUser(f *testing.F) {
	for _, s := range []string{
		`{"email":"a@example.com"}`, `{}`, `[]`, `null`, `"x"`, `{"email":1}`,
		`{"email":"a@b.c","mfa_factors":[{"totp":{"secret":"AB"}}]}`,
		`{"email":"a@b.c","custom_password_hash":{"algorithm":"md5","hash":{"value":"x","encoding":"hex"}}}`,
		"{\"email\":\"\xff@b.c\"}",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		errs := validateImportUser(b)
		for _, e := range errs {
			if e.Code == "" || e.Message == "" {
				t.Fatalf("empty error %+v", e)
			}
		}
	})
}

// FuzzLookupRaw: export field paths never panic, and the once-decoded profile answers
// exactly what decoding the whole profile for each path answers.
func FuzzLookupRaw(f *testing.F) {
	for _, s := range []string{"user_id", "identities[0].connection", "a[", "a[1][2].b", "a]", "[0]", "user_metadata.preferences.theme", "x[-1]"} {
		f.Add(s)
	}
	raw := fuzzUsers[3].raw
	p := decodeProfile(raw)
	f.Fuzz(func(t *testing.T, path string) {
		want, wok := lookupRaw(raw, path)
		got, ok := p.lookup(path)
		if ok != wok || !bytes.Equal(got, want) {
			t.Fatalf("%q: lookup %q %v, walk %q %v", path, got, ok, want, wok)
		}
	})
}

// FuzzLinkIdentity: any body of POST /users/{id}/identities is linked (201, one user fewer)
// or refused with an Auth0 error body (400/404, nothing changed), never a panic.
func FuzzLinkIdentity(f *testing.F) {
	for _, s := range []string{
		`{"provider":"auth0","user_id":"s1"}`, `{"provider":"auth0","user_id":"p1"}`,
		`{"provider":"auth0","user_id":"s1","connection_id":"con_0000000000000000"}`,
		`{"link_with":"x"}`, `{}`, `[]`, `null`, `{"provider":1,"user_id":{}}`, `{"provider":"auth0","user_id":"s1","x":1}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		tn := newTenant(t, Config{})
		conn := tn.srv.ConnectionID("Username-Password-Authentication")
		tn.runImport([]byte(`[{"email":"p@example.com","user_id":"p1"},{"email":"s@example.com","user_id":"s1"}]`),
			map[string]string{"connection_id": conn})
		before := tn.srv.Count()
		r := tn.do(http.MethodPost, "/api/v2/users/auth0%7Cp1/identities", bytes.NewReader(body), "application/json")
		switch r.status {
		case http.StatusCreated:
			if tn.srv.Count() != before-1 {
				t.Fatalf("linked, but %d users, want %d", tn.srv.Count(), before-1)
			}
		case http.StatusBadRequest, http.StatusNotFound:
			r.apiErr(t)
			if tn.srv.Count() != before {
				t.Fatalf("refused, but the user count changed")
			}
		default:
			t.Fatalf("status %d: %s", r.status, r.body)
		}
	})
}
