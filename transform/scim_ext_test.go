package transform

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/ferry-dev/ferry/internal/core"
	"github.com/ferry-dev/ferry/schemas"
)

func TestDecodeSCIMCustomExtensions(t *testing.T) {
	const core = `"schemas":["urn:ietf:params:scim:schemas:core:2.0:User","urn:acme:2.0:User"],"userName":"u"`
	tests := []struct {
		name    string
		rec     string
		want    []schemas.Extension
		errPath string
	}{
		{"kept verbatim", `{` + core + `,"urn:acme:2.0:User":{"b":1.50,"s":"<\u00e9>"}}`,
			[]schemas.Extension{{URN: "urn:acme:2.0:User", Data: []byte(`{"b":1.50,"s":"<\u00e9>"}`)}}, ""},
		{"white space outside strings goes", `{` + core + `, "urn:acme:2.0:User" : { "b" : [ 1 , 2 ], "s":"a  b" } }`,
			[]schemas.Extension{{URN: "urn:acme:2.0:User", Data: []byte(`{"b":[1,2],"s":"a  b"}`)}}, ""},
		{"in record order", `{` + core + `,"urn:z:1":{},"urn:a:1":{"x":null}}`,
			[]schemas.Extension{{URN: "urn:z:1", Data: []byte(`{}`)}, {URN: "urn:a:1", Data: []byte(`{"x":null}`)}}, ""},
		{"null is unassigned", `{` + core + `,"urn:acme:2.0:User":null}`, nil, ""},
		{"enterprise stays typed", `{` + core + `,"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"department":"d"}}`, nil, ""},
		{"not an object", `{` + core + `,"urn:acme:2.0:User":[1]}`, nil, "urn:acme:2.0:User"},
		{"core still strict", `{` + core + `,"nick":"x","urn:acme:2.0:User":{}}`, nil, "nick"},
		{"core types still strict", `{` + core + `,"active":1,"urn:acme:2.0:User":{}}`, nil, "active"},
		{"trailing data", `{` + core + `,"urn:acme:2.0:User":{}} 0`, nil, "(record)"},
		{"trailing data, URN not listed", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"u","urn:acme:2.0:User":{}}{}`, nil, "(record)"},
		{"malformed extension", `{` + core + `,"urn:acme:2.0:User":tru}`, nil, "(record)"},
		{"schemas not first", `{"userName":"u","schemas":["urn:ietf:params:scim:schemas:core:2.0:User","urn:acme:2.0:User"],"urn:acme:2.0:User":{"b":1}}`,
			[]schemas.Extension{{URN: "urn:acme:2.0:User", Data: []byte(`{"b":1}`)}}, ""},
		{"listed, no data", `{` + core + `}`, nil, ""},
		{"duplicate extension", `{` + core + `,"urn:acme:2.0:User":{},"URN:ACME:2.0:User":{}}`, nil, "*"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u, err := decodeSCIM([]byte(tt.rec))
			if tt.errPath != "" {
				if err == nil {
					t.Fatalf("decoded %+v, want an error at %s", u, tt.errPath)
				}
				var fe *FieldError
				if tt.errPath != "*" && errors.As(err, &fe) && fe.Field != tt.errPath {
					t.Errorf("error %v names %q, want %q", err, fe.Field, tt.errPath)
				}
				if tt.errPath != "*" && fe == nil && !strings.Contains(err.Error(), tt.errPath) {
					t.Errorf("error %q does not name %s", err, tt.errPath)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(u.Extensions) != len(tt.want) {
				t.Fatalf("extensions %q, want %q", u.Extensions, tt.want)
			}
			for i := range tt.want {
				if u.Extensions[i].URN != tt.want[i].URN || string(u.Extensions[i].Data) != string(tt.want[i].Data) {
					t.Errorf("extension %d: %s %s, want %s %s", i, u.Extensions[i].URN, u.Extensions[i].Data, tt.want[i].URN, tt.want[i].Data)
				}
			}
			if u.UserName != "u" {
				t.Errorf("userName %q", u.UserName)
			}
		})
	}
}

// Custom extensions on targets that are not SCIM: Cloud Directory's scimUser carries them
// as it carries the enterprise extension (verbatim, both ways); the Auth0 shapes and the
// App ID profile have no place for them, as for the enterprise extension, so each is a
// loss whose change keeps the data as read.
func TestCustomExtensionsOnOtherTargets(t *testing.T) {
	const acme = `{"badge":1.50,"pin":"1234","nested":{"a":[1,"<&>"]}}`
	rec := `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User","urn:acme:2.0:User"],"userName":"u@example.com","emails":[{"value":"u@example.com","primary":true}],"urn:acme:2.0:User":` + acme + `}`
	u, err := decodeSCIM([]byte(rec))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		format string
		lost   bool
	}{
		{core.FormatAuth0, true},
		{core.FormatAuth0Import, true},
		{core.FormatAppID, true},
		{core.FormatAppIDCD, false},
		{core.FormatSCIM, false},
	}
	for _, tt := range tests {
		t.Run(tt.format, func(t *testing.T) {
			var paths []string
			if f := LossesFor(tt.format); f != nil {
				paths = f(u)
			}
			if got := slices.Contains(paths, "urn:acme:2.0:User"); got != tt.lost {
				t.Fatalf("losses %q: acme lost %v, want %v", paths, got, tt.lost)
			}
			if tt.lost {
				ch := Changes{User: u.Ref()}
				RecordLosses(u, tt.format, []string{"urn:acme:2.0:User"}, &ch)
				if len(ch.List) != 1 || ch.List[0].Path != "urn:acme:2.0:User" {
					t.Fatalf("changes %+v", ch.List)
				}
				if b := ch.List[0].Before; string(b) != acme {
					t.Errorf("change keeps %s, want the data as read %s", ch.List[0].Before, acme)
				}
				return
			}
			enc, _ := EncoderFor(tt.format)
			dec, _ := DecoderFor(tt.format)
			out, err := enc.Encode(nil, u)
			if err != nil {
				t.Fatal(err)
			}
			back, err := dec.Decode(out)
			if err != nil {
				t.Fatalf("%s: %v", out, err)
			}
			if len(back.Extensions) != 1 || back.Extensions[0].URN != "urn:acme:2.0:User" || string(back.Extensions[0].Data) != acme {
				t.Errorf("%s: extensions back %q", out, back.Extensions)
			}
			if tt.format == core.FormatAppIDCD && !strings.Contains(string(out), `"scimUser":{`) {
				t.Errorf("not in scimUser: %s", out)
			}
		})
	}
}
