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
