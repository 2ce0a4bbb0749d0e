package load

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/segmentio/encoding/json"
)

// FuzzProviderAnswers feeds arbitrary bytes to every parser of provider answers the sinks
// have: SCIM errors and bulk responses, resource locations, App ID errors and import
// results. None may panic, and reasons stay one printable line of bounded size.
func FuzzProviderAnswers(f *testing.F) {
	for _, s := range []string{
		`{"schemas":["urn:ietf:params:scim:api:messages:2.0:Error"],"status":"409","scimType":"uniqueness","detail":"taken"}`,
		`{"status":400,"detail":"bad"}`,
		`{"Operations":[{"bulkId":"u1","status":"201","location":"/scim/v2/Users/abc"},{"bulkId":"u2","status":{"code":409},"response":{"detail":"x"}}]}`,
		`{"Operations":[{"bulkId":"u1","status":201}]}`,
		`{"added":1,"failed":1,"failReasons":[{"originalId":"a","idp":"google","error":"user already exists"}]}`,
		`{"added":0,"failed":2,"failReasons":[{"originalId":"a","error":{"code":"X","message":"user\nalready exists"}},{"originalId":"b","id":"c","email":"e@x","userName":"u","error":["odd",1]}]}`,
		`{"status":429,"error":"Too Many Requests","code":"TOO_MANY_REQUESTS","message":"slow down"}`,
		"not json \x00\xff",
		`{"error":{"nested":true}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		reason, _ := scimError(400, b, func(s string) string { return s })
		checkReason(t, reason)
		checkReason(t, appIDError(400, b))
		var br bulkResponse
		if json.Unmarshal(b, &br) == nil {
			for _, op := range br.Operations {
				st := bulkStatus(op.Status)
				r, _ := scimError(st, op.Response, func(s string) string { return s })
				checkReason(t, r)
				_ = idFromLocation(op.Location)
			}
		}
		_ = idFromLocation(string(b))
		var ir importResult
		_ = json.Unmarshal(b, &ir)
		for _, fr := range ir.FailReasons {
			txt := failText(fr.Error)
			checkReason(t, txt)
			_ = alreadyExists(txt)
		}
	})
}

func checkReason(t *testing.T, r string) {
	t.Helper()
	if !utf8.ValidString(r) || strings.ContainsAny(r, "\n\r") || len(r) > 600 {
		t.Fatalf("reason not one bounded printable line: %q", r)
	}
}

// FuzzSame checks the comparison never panics and that a user always equals itself.
func FuzzSame(f *testing.F) {
	f.Add([]byte(`{"userName":"A@x","emails":[{"value":"a@x","type":"Work","primary":true}],"active":true,"name":{"givenName":"A"}}`))
	f.Add([]byte(`{"userName":"b","phoneNumbers":[{"value":"1"},{"value":"2"}],"x":[1,"a",null,{}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var m map[string]any
		if json.Unmarshal(b, &m) != nil || m == nil {
			return
		}
		s := &SCIM{}
		if !s.same(m, m) {
			t.Fatalf("a user differs from itself: %s", b)
		}
		_ = s.same(m, map[string]any{})
	})
}
