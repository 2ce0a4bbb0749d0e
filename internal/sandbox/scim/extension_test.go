package scim

import (
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/segmentio/encoding/json"

	"github.com/ferry-dev/ferry/schemas"
)

const acmeURN = "urn:ietf:params:scim:schemas:extension:acme:2.0:User"

func acmeHarness(t *testing.T, strict bool) *harness {
	t.Helper()
	def, err := os.ReadFile("../../../fixtures/extensions/acme.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	return newHarness(t, Config{Strict: strict, Extensions: []json.RawMessage{def}})
}

// A custom extension given in Config is published the way RFC 7643 §6-7 say: at /Schemas
// (with its attribute definitions, which ferry's parser reads back), and in the User
// resource type's schemaExtensions.
func TestCustomExtensionIsDiscoverable(t *testing.T) {
	h := acmeHarness(t, true)
	r := h.do("GET", "/Schemas", nil)
	if r.status != http.StatusOK {
		t.Fatalf("/Schemas: %d %s", r.status, r.raw)
	}
	defs, err := schemas.ParseSchemas(r.raw)
	if err != nil {
		t.Fatal(err)
	}
	var acme *schemas.Schema
	for i := range defs {
		if defs[i].ID == acmeURN {
			acme = &defs[i]
		}
	}
	if acme == nil {
		t.Fatalf("/Schemas does not list %s: %s", acmeURN, r.raw)
	}
	if a, ok := acme.Attr("badge"); !ok || a.Type != schemas.TypeInteger || !a.Required {
		t.Errorf("badge definition: %+v", a)
	}
	if a, ok := acme.Attr("pin"); !ok || a.Returned != "never" || a.Mutability != "writeOnly" {
		t.Errorf("pin definition: %+v", a)
	}
	if r := h.do("GET", "/Schemas/"+acmeURN, nil); r.status != http.StatusOK || r.body["id"] != acmeURN {
		t.Errorf("/Schemas/%s: %d %s", acmeURN, r.status, r.raw)
	}
	r = h.do("GET", "/ResourceTypes", nil)
	rts, err := schemas.ParseResourceTypes(r.raw)
	if err != nil {
		t.Fatal(err)
	}
	exts, ok := schemas.UserExtensions(rts)
	var names []string
	for _, e := range exts {
		names = append(names, e.Schema)
	}
	if !ok || strings.Join(names, " ") != schemas.EnterpriseUserURN+" "+acmeURN {
		t.Errorf("User schemaExtensions %q", names)
	}
}

// The server keeps custom extension data, checks it by the definition in strict mode, and
// never returns the returned=never attribute.
func TestCustomExtensionData(t *testing.T) {
	user := func(acme string) string {
		return `{"schemas":["` + UserURN + `","` + acmeURN + `"],"userName":"bjensen","` + acmeURN + `":` + acme + `}`
	}
	tests := []struct {
		name    string
		strict  bool
		acme    string
		status  int
		want    map[string]any // the extension as read back
		errPart string
	}{
		{"kept, pin hidden", true, `{"badge":7,"skills":["go"],"office":{"floor":3},"pin":"1234"}`, http.StatusCreated,
			map[string]any{"badge": float64(7), "skills": []any{"go"}, "office": map[string]any{"floor": float64(3)}}, ""},
		{"wrong type refused (strict)", true, `{"badge":"seven"}`, http.StatusBadRequest, nil, "badge"},
		{"unknown attribute refused (strict)", true, `{"badge":1,"colour":"red"}`, http.StatusBadRequest, nil, "colour"},
		{"lenient keeps an unknown attribute", false, `{"badge":1,"colour":"red","pin":"9"}`, http.StatusCreated,
			map[string]any{"badge": float64(1), "colour": "red"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := acmeHarness(t, tt.strict)
			r := h.do("POST", "/Users", user(tt.acme))
			if r.status != tt.status {
				t.Fatalf("POST: %d %s, want %d", r.status, r.raw, tt.status)
			}
			if tt.errPart != "" {
				if !strings.Contains(string(r.raw), tt.errPart) {
					t.Errorf("error %s does not name %s", r.raw, tt.errPart)
				}
				return
			}
			for _, got := range []reply{r, h.do("GET", "/Users/"+r.body["id"].(string), nil), h.do("GET", "/Users", nil)} {
				res := got.body
				if l, ok := res["Resources"].([]any); ok {
					res = l[0].(map[string]any)
				}
				b1, _ := json.Marshal(res[acmeURN])
				b2, _ := json.Marshal(tt.want)
				if string(b1) != string(b2) {
					t.Errorf("read back %s, want %s", b1, b2)
				}
			}
			// The hidden attribute is kept, not dropped: it is there for the server's own use.
			h.srv.mu.RLock()
			defer h.srv.mu.RUnlock()
			for _, e := range h.srv.byID {
				if m, _ := e.res[acmeURN].(map[string]any); m["pin"] == nil {
					t.Errorf("stored extension lost its pin: %v", m)
				}
			}
		})
	}
}
