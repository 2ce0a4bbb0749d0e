package extract

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/ferry-dev/ferry/internal/core"
	"github.com/ferry-dev/ferry/internal/sandbox/faults"
	sb "github.com/ferry-dev/ferry/internal/sandbox/scim"
	"github.com/segmentio/encoding/json"
)

const acmeURN = "urn:ietf:params:scim:schemas:extension:acme:2.0:User"

func acmeUser(name, acme string) json.RawMessage {
	return json.RawMessage(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User","` + acmeURN + `"],"userName":"` + name + `","` + acmeURN + `":` + acme + `}`)
}

// startAcme serves a lenient sandbox with the acme extension and the given users; edit (if
// set) rewrites its /Users answers, as a server with sloppier typing would send them.
func startAcme(t *testing.T, users []json.RawMessage, edit func([]byte) []byte, spc func([]byte) []byte) *scimEnv {
	t.Helper()
	def, err := os.ReadFile("../fixtures/extensions/acme.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	clk := newFakeClock()
	s, err := sb.New(sb.Config{Users: users, Clock: clk, BasePath: "/scim/v2", Token: "scim-test-token", Extensions: []json.RawMessage{def}})
	if err != nil {
		t.Fatal(err)
	}
	var h http.Handler = s.Handler()
	if edit != nil {
		h = rewriting(h, "/scim/v2/Users", func(_ string, b []byte) []byte { return edit(b) })
	}
	if spc != nil {
		h = rewriting(h, "/scim/v2/ServiceProviderConfig", func(_ string, b []byte) []byte { return spc(b) })
	}
	srv := serve(t, h, faults.Config{})
	return &scimEnv{sb: s, srv: srv.URL, clock: clk, rec: &recorder{next: http.DefaultTransport, now: clk.Now}, users: len(users)}
}

// The source reads the server's discovery documents once and learns its paging, limits and
// extensions, including the attribute definitions of the custom one.
func TestSCIMSourceLearnsTheServer(t *testing.T) {
	e := startAcme(t, nil, nil, nil)
	src := e.source(t)
	d := src.Server(context.Background())
	if !d.HasConfig || !d.CursorPaging() || !d.IndexPaging() || !d.Config.Filter.Supported || !d.Config.Sort.Supported ||
		!d.Config.Etag.Supported || !d.Config.Bulk.Supported || d.Config.Bulk.MaxOperations <= 0 || d.Config.Bulk.MaxPayloadSize <= 0 ||
		d.Config.Filter.MaxResults <= 0 {
		t.Errorf("config not learned: %+v", d.Config)
	}
	if !d.Declares(acmeURN) || !d.Declares("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User") || d.Declares("urn:other:1") {
		t.Errorf("extensions: %+v", d.Extensions)
	}
	def := d.Definitions[strings.ToLower(acmeURN)]
	if def == nil {
		t.Fatalf("no definition of %s: %v", acmeURN, d.Definitions)
	}
	if a, ok := def.Attr("pin"); !ok || a.Returned != "never" {
		t.Errorf("pin: %+v", a)
	}
	if len(d.Definitions) != 1 {
		t.Errorf("definitions of built-in schemas kept: %v", d.Definitions)
	}
	if s := d.Summary(); !strings.Contains(s, "paging cursor and index") || !strings.Contains(s, acmeURN) {
		t.Errorf("summary %q", s)
	}
	// Once: a second call reads nothing more.
	n := len(e.rec.exchanges())
	src.Server(context.Background())
	src.Total(context.Background())
	for _, x := range e.rec.exchanges()[n:] {
		if !strings.HasSuffix(x.path, "/Users") {
			t.Errorf("discovery read again: %s", x.path)
		}
	}
}

// Extension values are checked by the server's own definition: a wrong type, an attribute
// the schema does not define or a missing required one rejects that user (naming user and
// attribute), while the write-only pin the server never returns is not expected.
func TestSCIMSourceValidatesExtensionTypes(t *testing.T) {
	users := []json.RawMessage{
		acmeUser("good", `{"badge":1,"pin":"0000","skills":["go"]}`),
		acmeUser("wrongtype", `{"badge":2,"ratio":1.5}`),
		acmeUser("undefined", `{"badge":3,"colour":"red"}`),
		acmeUser("nobadge", `{"clearance":"low"}`),
	}
	retype := func(b []byte) []byte { return bytes.Replace(b, []byte(`"badge":2`), []byte(`"badge":"two"`), 1) }
	e := startAcme(t, users, retype, nil)
	recs, err := collect(context.Background(), e.source(t))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"good":      "",
		"wrongtype": `user "wrongtype": ` + acmeURN + `:badge: expected integer, got string`,
		"undefined": `user "undefined": ` + acmeURN + `:colour: unknown attribute of the ` + acmeURN + ` extension`,
		"nobadge":   `user "nobadge": ` + acmeURN + `:badge: required by the schema's definition, and missing`,
	}
	if len(recs) != len(want) {
		t.Fatalf("%d records, want %d", len(recs), len(want))
	}
	for _, r := range recs {
		var u struct{ UserName string }
		json.Unmarshal(r.Data, &u)
		w, ok := want[u.UserName]
		if !ok {
			t.Fatalf("unexpected user %s", r.Data)
		}
		got := ""
		if r.Err != nil {
			got = r.Err.Error()
		}
		if (w == "") != (got == "") || !strings.HasPrefix(got, w) {
			t.Errorf("%s: error %q, want %q", u.UserName, got, w)
		}
		if bytes.Contains(r.Data, []byte(`"pin"`)) {
			t.Errorf("%s: the server returned the write-only pin: %s", u.UserName, r.Data)
		}
	}
}

// --since needs a filter; a server that says it has none is a configuration error, not a
// full export passed off as an incremental one.
func TestSCIMSinceNeedsFilter(t *testing.T) {
	noFilter := func(b []byte) []byte {
		return bytes.Replace(b, []byte(`"filter":{"maxResults":200,"supported":true}`), []byte(`"filter":{"maxResults":200,"supported":false}`), 1)
	}
	e := startAcme(t, []json.RawMessage{acmeUser("a", `{"badge":1}`)}, nil, noFilter)
	src := e.source(t)
	src.Since(time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC))
	_, err := collect(context.Background(), src)
	if !errors.Is(err, core.ErrUsage) || !strings.Contains(err.Error(), "filter.supported is false") {
		t.Fatalf("error %v, want a usage error about filters", err)
	}
}

// A server that publishes no discovery documents (or broken ones) is read with RFC 7644's
// defaults, says so, and checks no extension types; users still come through.
func TestSCIMSourceWithoutDiscovery(t *testing.T) {
	tests := []struct {
		name  string
		serve func(w http.ResponseWriter, path string) bool // true: answered
		notes []string
	}{
		{"404 everywhere", func(w http.ResponseWriter, path string) bool {
			w.WriteHeader(http.StatusNotFound)
			return true
		}, []string{"ServiceProviderConfig: HTTP 404", "Schemas: HTTP 404", "ResourceTypes: HTTP 404"}},
		{"garbage documents", func(w http.ResponseWriter, path string) bool {
			w.Header().Set("Content-Type", "application/scim+json")
			switch {
			case strings.HasSuffix(path, "/Schemas"):
				w.Write([]byte(`[{"id":"acme","attributes":[]}]`))
			case strings.HasSuffix(path, "/ResourceTypes"):
				w.Write([]byte(`{"Resources":[{"schema":"User"}]}`))
			default:
				w.Write([]byte(`{"bulk":{"maxOperations":-3}}`))
			}
			return true
		}, []string{"ServiceProviderConfig: a negative limit", `id "acme" is not a URN`, `schema "User" is not a URN`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			users := []json.RawMessage{acmeUser("a", `{"badge":"not checked"}`)}
			clk := newFakeClock()
			s, err := sb.New(sb.Config{Users: users, Clock: clk, BasePath: "/scim/v2", Token: "scim-test-token"})
			if err != nil {
				t.Fatal(err)
			}
			h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				switch {
				case strings.HasSuffix(r.URL.Path, "/ServiceProviderConfig"), strings.HasSuffix(r.URL.Path, "/Schemas"), strings.HasSuffix(r.URL.Path, "/ResourceTypes"):
					tt.serve(w, r.URL.Path)
					return
				}
				s.Handler().ServeHTTP(w, r)
			})
			srv := serve(t, h, faults.Config{})
			e := &scimEnv{sb: s, srv: srv.URL, clock: clk, rec: &recorder{next: http.DefaultTransport, now: clk.Now}}
			src := e.source(t)
			d := src.Server(context.Background())
			if d.HasConfig || d.CursorPaging() || !d.IndexPaging() || len(d.Definitions) != 0 {
				t.Errorf("defaults not kept: %+v", d)
			}
			sum := d.Summary()
			for _, n := range tt.notes {
				if !strings.Contains(sum, n) {
					t.Errorf("summary %q does not say %q", sum, n)
				}
			}
			if !strings.HasPrefix(sum, "paging index") {
				t.Errorf("summary %q", sum)
			}
			recs, err := collect(context.Background(), src)
			if err != nil || len(recs) != 1 || recs[0].Err != nil {
				t.Errorf("users without discovery: %v %v", recs, err)
			}
		})
	}
}
