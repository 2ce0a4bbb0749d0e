package transform

import (
	"testing"

	"github.com/ferry-dev/ferry/schemas"
)

func TestSCIMDuplicateAttributes(t *testing.T) {
	core := `"schemas":["` + schemas.CoreUserURN + `"]`
	tests := []struct{ in, field string }{
		{`{` + core + `,"userName":"a","userName":"b"}`, "userName"},
		{`{` + core + `,"userName":"a","USERNAME":"b"}`, "USERNAME"},
		{`{` + core + `,"userName":"a","name":{"givenName":"x","givenname":"y"}}`, "name.givenname"},
		{`{` + core + `,"userName":"a","emails":[{"value":"a@x"},{"value":"b@x","Value":"c@x"}]}`, "emails[1].Value"},
		{`{` + core + `,"userName":"a"}`, ""},
		{`{` + core + `,"userName":"a","name":{"givenName":"x","givenName":"y"}}`, "name.givenName"},
		{`{` + core + `,"userName":"a","addresses":[{"type":"work"},{"type":"home"}],"emails":[{"value":"a@x"},{"type":"work","value":"b@x","TYPE":"home"}]}`, "emails[1].TYPE"},
		{`{"schemas":["` + schemas.CoreUserURN + `","` + schemas.EnterpriseUserURN + `"],"userName":"a","` + schemas.EnterpriseUserURN + `":{"manager":{"value":"m","Value":"n"}}}`, schemas.EnterpriseUserURN + ".manager.Value"},
		{`{"schemas":["` + schemas.CoreUserURN + `","` + schemas.FerryUserURN + `"],"userName":"a","` + schemas.FerryUserURN + `":{"provider":"auth0","Provider":"x"}}`, schemas.FerryUserURN + ".Provider"},
		// Metadata is the provider's JSON: exact-case names, checked by the policies.
		{`{"schemas":["` + schemas.CoreUserURN + `","` + schemas.FerryUserURN + `"],"userName":"a","` + schemas.FerryUserURN + `":{"appMetadata":{"plan":"x","Plan":"y"}}}`, ""},
	}
	for _, tt := range tests {
		_, err := decodeSCIM([]byte(tt.in))
		field, _, _ := firstField(err)
		if tt.field == "" {
			if err != nil {
				t.Errorf("%s: %v", tt.in, err)
			}
			continue
		}
		if field != tt.field {
			t.Errorf("%s: error %v, want one naming %s", tt.in, err, tt.field)
		}
	}
}
