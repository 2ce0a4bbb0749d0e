package schemas

import (
	"errors"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/segmentio/encoding/json"
)

const acmeURN = "urn:ietf:params:scim:schemas:extension:acme:2.0:User"

func acmeSchema(t testing.TB) []byte {
	b, err := os.ReadFile("../fixtures/extensions/acme.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParseSchemas(t *testing.T) {
	acme := string(acmeSchema(t))
	rfc, err := os.ReadFile(referencePath()) // the RFC's own /Schemas, where present
	if err != nil {
		rfc = nil
	}
	tests := []struct {
		name    string
		body    string
		ids     []string
		errPart string
	}{
		{"list response", `{"schemas":["urn:ietf:params:scim:api:messages:2.0:ListResponse"],"totalResults":1,"Resources":[` + acme + `]}`, []string{acmeURN}, ""},
		{"bare array", `[` + acme + `]`, []string{acmeURN}, ""},
		{"one resource", acme, []string{acmeURN}, ""},
		{"empty list", `{"Resources":[]}`, []string{}, ""},
		{"type case is normalised", `[{"id":"urn:a:1","attributes":[{"name":"n","type":"Integer"}]}]`, []string{"urn:a:1"}, ""},
		{"id not a URN", `[{"id":"acme","attributes":[]}]`, nil, `id "acme" is not a URN`},
		{"unknown type", `[{"id":"urn:a:1","attributes":[{"name":"n","type":"float"}]}]`, nil, `type "float" is not one of`},
		{"nameless attribute", `[{"id":"urn:a:1","attributes":[{"type":"string"}]}]`, nil, `attribute name "" is not an attribute name`},
		{"too deep", `[{"id":"urn:a:1","attributes":[{"name":"a","type":"complex","subAttributes":[{"name":"b","type":"complex","subAttributes":[{"name":"c","type":"complex","subAttributes":[{"name":"d","type":"string"}]}]}]}]}]`, nil, "nested deeper"},
		{"not JSON", `{"Resources":[`, nil, "Schemas"},
		{"a string", `"x"`, nil, "not a JSON object or array"},
		{"empty", ``, nil, "empty"},
	}
	if rfc != nil {
		tests = append(tests, struct {
			name    string
			body    string
			ids     []string
			errPart string
		}{"RFC 7643 §8.7.1", string(rfc), []string{CoreUserURN, CoreGroupURN, EnterpriseUserURN}, ""})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseSchemas([]byte(tt.body))
			if tt.errPart != "" {
				if err == nil || !strings.Contains(err.Error(), tt.errPart) || !errors.Is(err, ErrDiscovery) {
					t.Fatalf("error %v, want ErrDiscovery containing %q", err, tt.errPart)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			ids := []string{}
			for _, s := range got {
				ids = append(ids, s.ID)
			}
			if !slices.Equal(ids, tt.ids) {
				t.Errorf("ids %q, want %q", ids, tt.ids)
			}
		})
	}
	got, err := ParseSchemas([]byte(`[{"id":"urn:a:1","attributes":[{"name":"n","type":"Integer"}]}]`))
	if err != nil || got[0].Attributes[0].Type != TypeInteger {
		t.Errorf("type not normalised: %+v %v", got, err)
	}
}

func TestParseResourceTypes(t *testing.T) {
	user := `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:ResourceType"],"id":"User","name":"User","endpoint":"/Users","schema":"` + CoreUserURN + `","schemaExtensions":[{"schema":"` + EnterpriseUserURN + `","required":false},{"schema":"` + acmeURN + `","required":true}]}`
	group := `{"id":"Group","name":"Group","endpoint":"/Groups","schema":"` + CoreGroupURN + `"}`
	tests := []struct {
		name    string
		body    string
		exts    []SchemaExtension
		hasUser bool
		errPart string
	}{
		{"list response", `{"Resources":[` + group + `,` + user + `]}`, []SchemaExtension{{EnterpriseUserURN, false}, {acmeURN, true}}, true, ""},
		{"bare array", `[` + user + `]`, []SchemaExtension{{EnterpriseUserURN, false}, {acmeURN, true}}, true, ""},
		{"one resource", user, []SchemaExtension{{EnterpriseUserURN, false}, {acmeURN, true}}, true, ""},
		{"no User type", `[` + group + `]`, nil, false, ""},
		{"extension not a URN", `[{"name":"User","endpoint":"/Users","schema":"` + CoreUserURN + `","schemaExtensions":[{"schema":"acme"}]}]`, nil, false, `schemaExtensions[0]: schema "acme" is not a URN`},
		{"schema not a URN", `[{"name":"User","schema":"User"}]`, nil, false, `schema "User" is not a URN`},
		{"wrong member type", `[{"name":"User","schema":"` + CoreUserURN + `","schemaExtensions":{}}]`, nil, false, "ResourceTypes[0]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rts, err := ParseResourceTypes([]byte(tt.body))
			if tt.errPart != "" {
				if err == nil || !strings.Contains(err.Error(), tt.errPart) {
					t.Fatalf("error %v, want one containing %q", err, tt.errPart)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			exts, ok := UserExtensions(rts)
			if ok != tt.hasUser || !slices.Equal(exts, tt.exts) {
				t.Errorf("UserExtensions = %v %v, want %v %v", exts, ok, tt.exts, tt.hasUser)
			}
		})
	}
}

func TestParseServiceProviderConfig(t *testing.T) {
	c, err := ParseServiceProviderConfig([]byte(`{"bulk":{"supported":true,"maxOperations":1000,"maxPayloadSize":1048576},"filter":{"supported":true,"maxResults":200},"sort":{"supported":true},"etag":{"supported":false},"patch":{"supported":true},"pagination":{"cursor":true,"index":false,"maxPageSize":50,"cursorTimeout":600}}`))
	if err != nil {
		t.Fatal(err)
	}
	if !c.Bulk.Supported || c.Bulk.MaxOperations != 1000 || c.Bulk.MaxPayloadSize != 1<<20 || c.Filter.MaxResults != 200 ||
		!c.Sort.Supported || c.Etag.Supported || !c.Patch.Supported || c.Pagination == nil || !c.Pagination.Cursor ||
		c.Pagination.Index == nil || *c.Pagination.Index || c.Pagination.MaxPageSize != 50 {
		t.Errorf("parsed %+v", c)
	}
	if c, err := ParseServiceProviderConfig([]byte(`{}`)); err != nil || c.Pagination != nil {
		t.Errorf("an RFC 7643-only config: %+v %v", c, err)
	}
	for _, bad := range []string{`{"bulk":{"maxOperations":-1}}`, `{"pagination":{"maxPageSize":-5}}`, `[`, `{"filter":{"maxResults":"many"}}`} {
		if _, err := ParseServiceProviderConfig([]byte(bad)); !errors.Is(err, ErrDiscovery) {
			t.Errorf("%s: error %v, want ErrDiscovery", bad, err)
		}
	}
}

func TestValidateExtension(t *testing.T) {
	defs, err := ParseSchemas(acmeSchema(t))
	if err != nil {
		t.Fatal(err)
	}
	def := &defs[0]
	p := acmeURN + ":"
	tests := []struct {
		name string
		data string
		want []string
	}{
		{"valid, write-only pin not expected on read", `{"badge":1042,"clearance":"x","ratio":1.5,"hired":"2019-03-01T00:00:00Z","skills":["go"],"office":{"building":"B","floor":3,"desk":null},"flags":{"any":[1]},"tier":"Gold"}`, nil},
		{"names are case-insensitive", `{"BADGE":1}`, nil},
		{"wrong types", `{"badge":"1042","ratio":"1.5","skills":"go","office":{"floor":3.5},"hired":"yesterday","clearance":7}`, []string{
			p + "badge: expected integer, got string",
			p + "ratio: expected decimal, got string",
			p + "skills: expected array of string, got string",
			p + "office.floor: expected integer, got number",
			p + `hired: "yesterday" is not an xsd:dateTime (e.g. 2008-01-23T04:56:22Z)`,
			p + "clearance: expected string, got number",
		}},
		{"required missing", `{"clearance":"x"}`, []string{p + "badge: required by the schema's definition, and missing"}},
		{"required null is missing", `{"badge":null}`, []string{p + "badge: required by the schema's definition, and missing"}},
		{"unknown attribute", `{"badge":1,"colour":"red"}`, []string{p + "colour: unknown attribute of the " + acmeURN + " extension"}},
		{"canonical values", `{"badge":1,"tier":"bronze"}`, []string{p + `tier: "bronze" is not a canonical value (gold, silver)`}},
		{"not an object", `[1]`, []string{acmeURN + ": expected object (the " + acmeURN + " extension), got array"}},
	}
	req, err := ParseSchemas([]byte(`[{"id":"urn:r:1","attributes":[
		{"name":"always","type":"string","required":true,"returned":"always"},
		{"name":"asked","type":"string","required":true,"returned":"request"},
		{"name":"secret","type":"string","required":true,"mutability":"writeOnly"}]}]`))
	if err != nil {
		t.Fatal(err)
	}
	if got := strs(ValidateExtension(&req[0], []byte(`{}`))); !slices.Equal(got, []string{"urn:r:1:always: required by the schema's definition, and missing"}) {
		t.Errorf("required but not returned by default: %q", got)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := strs(ValidateExtension(def, []byte(tt.data)))
			if !slices.Equal(got, tt.want) {
				t.Errorf("got  %q\nwant %q", got, tt.want)
			}
		})
	}
}

// FuzzParseSchemas: never a panic; what parses is well formed (URN ids, known types) and
// survives a marshal and a second parse unchanged.
func FuzzParseSchemas(f *testing.F) {
	f.Add(acmeSchema(f))
	f.Add([]byte(`{"Resources":[{"id":"urn:a:1","attributes":[{"name":"n","type":"Integer","subAttributes":[]}]}]}`))
	f.Add([]byte(`[{"id":"urn:x","attributes":null}]`))
	f.Fuzz(func(t *testing.T, body []byte) {
		got, err := ParseSchemas(body)
		if err != nil {
			if !errors.Is(err, ErrDiscovery) {
				t.Fatalf("error %v is not ErrDiscovery", err)
			}
			return
		}
		for _, s := range got {
			if !hasPrefixFold(s.ID, "urn:") {
				t.Fatalf("id %q passed", s.ID)
			}
			var walk func([]Attribute)
			walk = func(as []Attribute) {
				for _, a := range as {
					if !slices.Contains(attrTypes, a.Type) {
						t.Fatalf("type %q passed", a.Type)
					}
					walk(a.SubAttributes)
				}
			}
			walk(s.Attributes)
			// A definition that parsed is usable by the validator without a panic.
			ValidateExtension(&s, []byte(`{"a":1,"b":[{"c":"d"}],"e":null}`))
		}
		b, err := json.Marshal(got)
		if err != nil {
			t.Fatal(err)
		}
		again, err := ParseSchemas(b)
		if err != nil {
			t.Fatalf("re-parse of %s: %v", b, err)
		}
		b2, _ := json.Marshal(again)
		if string(b) != string(b2) {
			t.Fatalf("not stable:\n%s\n%s", b, b2)
		}
	})
}

// FuzzParseResourceTypes: never a panic; every extension that parses is named by a URN.
func FuzzParseResourceTypes(f *testing.F) {
	f.Add([]byte(`{"Resources":[{"id":"User","name":"User","endpoint":"/Users","schema":"urn:ietf:params:scim:schemas:core:2.0:User","schemaExtensions":[{"schema":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User","required":true}]}]}`))
	f.Add([]byte(`[{"schema":"urn:a"},{"schema":"urn:b","schemaExtensions":[]}]`))
	f.Fuzz(func(t *testing.T, body []byte) {
		rts, err := ParseResourceTypes(body)
		if err != nil {
			if !errors.Is(err, ErrDiscovery) {
				t.Fatalf("error %v is not ErrDiscovery", err)
			}
			return
		}
		exts, _ := UserExtensions(rts)
		for _, e := range exts {
			if !hasPrefixFold(e.Schema, "urn:") {
				t.Fatalf("extension %q passed", e.Schema)
			}
		}
	})
}
