package schemas

import (
	"testing"

	"github.com/segmentio/encoding/json"
)

// Validate sits on the hot path: a valid user must cost no allocation. (Counted, not timed:
// no wall-clock threshold in a unit test.)
func TestValidateValidUserDoesNotAllocate(t *testing.T) {
	u := typicalUser()
	u.Meta = &Meta{ResourceType: "User", Created: "2010-01-23T04:56:22Z", LastModified: "2011-05-13T04:42:34.123+02:00"}
	u.X509Certificates = []MultiValued{{Value: "TUlJQ0lqQ0NBWXVnQXdJQkFnSUJBREFOQmdrcWhraUc5dzBCQVFVRkFEQjNNUXN3Q1FZRA==", Primary: true}}
	u.Groups = []MultiValued{{Value: "e9e30dba", Ref: "https://example.com/v2/Groups/e9e30dba", Display: "Tour Guides", Type: "direct"}}
	if vs := Validate(u); vs != nil {
		t.Fatalf("not valid: %v", Violations(vs))
	}
	if n := testing.AllocsPerRun(100, func() { Validate(u) }); n != 0 {
		t.Errorf("Validate of a valid user allocates %v times", n)
	}
}

func BenchmarkValidate(b *testing.B) {
	u := typicalUser()
	b.ReportAllocs()
	for b.Loop() {
		if Validate(u) != nil {
			b.Fatal("not valid")
		}
	}
}

func BenchmarkValidateInvalid(b *testing.B) {
	u := typicalUser()
	u.Emails[1].Type, u.Emails[1].Primary = "personal", true
	b.ReportAllocs()
	for b.Loop() {
		Validate(u)
	}
}

func BenchmarkValidateJSON(b *testing.B) {
	raw, err := json.Marshal(typicalUser())
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	for b.Loop() {
		ValidateJSON(raw)
	}
}
