package appid

import (
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
