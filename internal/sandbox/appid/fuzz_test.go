package appid

import (
	"net/http"
	"testing"

	"github.com/segmentio/encoding/json"
)

// FuzzImportItem feeds arbitrary bytes as one users/import item and one Cloud Directory
// import item: every item ends added or failed with a reason, never a panic.
func FuzzImportItem(f *testing.F) {
	f.Add(genUser(1))
	f.Add([]byte(genCD(2)))
	f.Add([]byte(`{"identities":[{"provider":"google","id":12}],"attributes":null,"roles":null}`))
	f.Add([]byte(`{"scimUser":{"emails":[{"value":1},{"primary":true}]},"passwordHash":"AAAA","passwordHashAlg":"x"}`))
	f.Add([]byte(`{"identities":[null],"roles":[1]}`))
	f.Fuzz(func(t *testing.T, item []byte) {
		if !json.Valid(item) {
			return // the HTTP layer refuses the whole body before items are looked at
		}
		s, err := New(Config{Roles: nil})
		if err != nil {
			t.Fatal(err)
		}
		for _, res := range []ImportResult{
			s.importProfiles([]json.RawMessage{item}),
			s.importCD([]json.RawMessage{item}, "secret", false),
		} {
			if res.Added+res.Failed != 1 || len(res.FailReasons) != res.Failed {
				t.Fatalf("%s: %+v", item, res)
			}
			for _, fr := range res.FailReasons {
				if fr.Error == "" {
					t.Fatalf("empty reason for %s", item)
				}
			}
		}
	})
}

// FuzzConforms: any request path, query and body is judged (nil or an error naming the
// departure), never a panic.
func FuzzConforms(f *testing.F) {
	f.Add("POST", "/management/v4/t/users/import", []byte(`{"users":[{"id":"x","identities":[],"attributes":{}}]}`))
	f.Add("PUT", "/management/v4/t/users/a/roles", []byte(`{"roles":{"ids":[]}}`))
	f.Add("POST", "/management/v4/t/roles", []byte(`{"name":"r","access":[{"application_id":"c","scopes":[]},null]}`))
	f.Add("GET", "/management/v4/t/users?dataScope=index&email=x", []byte(nil))
	f.Add("POST", "/identity/token", []byte("grant_type=x&apikey=%zz"))
	f.Add("PUT", "/management/v4/t/applications/c/scopes", []byte(`[]`))
	f.Fuzz(func(t *testing.T, method, target string, body []byte) {
		r, err := http.NewRequest(method, "http://h"+target, nil)
		if err != nil {
			return
		}
		if err := Conforms(r, body); err != nil && err.Error() == "" {
			t.Fatal("an empty error")
		}
	})
}
