package transform

import (
	"bytes"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/ferry-dev/ferry/internal/core"
	"github.com/ferry-dev/ferry/schemas"
	"github.com/segmentio/encoding/json"
)

var update = flag.Bool("update", false, "rewrite the golden files under fixtures/mappings and fixtures/policies")

const fixturesDir = "../fixtures/mappings"

// generic decodes JSON into plain values, numbers kept as written so that 1e3 and 1000,
// or a large integer and its float rounding, do not compare equal.
func generic(t testing.TB, b []byte) any {
	t.Helper()
	var v any
	if _, err := json.Parse(b, &v, json.UseNumber); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, b)
	}
	return v
}

func canonical(t testing.TB, v any) string {
	t.Helper()
	b, err := json.Append(nil, v, json.SortMapKeys)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// assertSameJSON fails unless a and b are equal JSON values (member order aside).
func assertSameJSON(t testing.TB, want, got []byte) {
	t.Helper()
	if ok, diff := sameJSON(t, want, got); !ok {
		t.Fatal(diff)
	}
}

func sameJSON(t testing.TB, want, got []byte) (bool, string) {
	t.Helper()
	w, g := generic(t, want), generic(t, got)
	if reflect.DeepEqual(w, g) {
		return true, ""
	}
	return false, fmt.Sprintf("JSON differs\nwant %s\ngot  %s", canonical(t, w), canonical(t, g))
}

// viaSCIM runs format -> SCIM bytes -> format, the path a backup takes.
func viaSCIM(t testing.TB, format string, raw []byte) []byte {
	t.Helper()
	dec, err := DecoderFor(format)
	if err != nil {
		t.Fatal(err)
	}
	enc, err := EncoderFor(format)
	if err != nil {
		t.Fatal(err)
	}
	u, err := dec.Decode(raw)
	if err != nil {
		t.Fatalf("decode %s: %v\n%s", format, err, raw)
	}
	scim, err := encodeSCIM(nil, u)
	if err != nil {
		t.Fatalf("encode scim: %v", err)
	}
	u2, err := decodeSCIM(scim)
	if err != nil {
		t.Fatalf("decode scim: %v\n%s", err, scim)
	}
	out, err := enc.Encode(nil, u2)
	if err != nil {
		t.Fatalf("encode %s: %v\n%s", format, err, scim)
	}
	return out
}

// normalised applies the one rewrite a round trip may make: Auth0's (and some OIDC
// providers') string booleans become booleans. Everything else must come back unchanged.
func normalised(t testing.TB, raw []byte, keys ...string) []byte {
	t.Helper()
	v := generic(t, raw).(map[string]any)
	for _, k := range keys {
		switch v[k] {
		case "true":
			v[k] = true
		case "false":
			v[k] = false
		}
	}
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// ---- generators ---------------------------------------------------------------------

type gen struct{ r *rand.Rand }

func newGen(seed uint64) *gen { return &gen{rand.New(rand.NewPCG(seed, 0x5eed))} }

func (g *gen) chance(p float64) bool { return g.r.Float64() < p }

var (
	words  = []string{"jane", "doe", "Ümit", "Zoë", "李", "Ξένια", "o'brien", "a\"b", "tab\there", "line\nbreak", "😀", "x\u2028y", "<b>&amp;", "back\\slash", "Ærøskøbing"}
	idpsA0 = []string{"google-oauth2", "facebook", "github", "windowslive", "samlp", "oidc"}
)

func (g *gen) word() string { return words[g.r.IntN(len(words))] }

func (g *gen) text() string {
	n := 1 + g.r.IntN(3)
	parts := make([]string, n)
	for i := range parts {
		parts[i] = g.word()
	}
	return strings.Join(parts, " ")
}

func (g *gen) hex(n int) string {
	const h = "0123456789abcdef"
	b := make([]byte, n)
	for i := range b {
		b[i] = h[g.r.IntN(16)]
	}
	return string(b)
}

func (g *gen) email() string {
	return fmt.Sprintf("%s.%d@example.%s", strings.ToLower(g.hex(6)), g.r.IntN(1000), []string{"com", "org", "fr"}[g.r.IntN(3)])
}

func (g *gen) date() string {
	return fmt.Sprintf("20%02d-%02d-%02dT%02d:%02d:%02d.%03dZ", 10+g.r.IntN(15), 1+g.r.IntN(12), 1+g.r.IntN(28), g.r.IntN(24), g.r.IntN(60), g.r.IntN(60), g.r.IntN(1000))
}

// value makes arbitrary nested JSON for metadata and unknown fields.
func (g *gen) value(depth int) any {
	switch k := g.r.IntN(8); {
	case k == 0:
		return nil
	case k == 1:
		return g.chance(0.5)
	case k == 2:
		return json.Number(fmt.Sprint(g.r.IntN(1e6) - 5000))
	case k == 3:
		return json.Number("12345678901234567890") // beyond float64 precision
	case k < 6 || depth > 2:
		return g.text()
	case k == 6:
		a := make([]any, g.r.IntN(4))
		for i := range a {
			a[i] = g.value(depth + 1)
		}
		return a
	default:
		return g.object(depth + 1)
	}
}

func (g *gen) object(depth int) map[string]any {
	m := map[string]any{}
	for range g.r.IntN(5) {
		m[g.word()+g.hex(2)] = g.value(depth)
	}
	return m
}

// maybe sets k to v with probability p, or to one of the awkward absent-ish values.
func (g *gen) maybe(m map[string]any, k string, p float64, v func() any) {
	if !g.chance(p) {
		return
	}
	switch g.r.IntN(20) {
	case 0:
		m[k] = nil
	case 1:
		m[k] = ""
	default:
		m[k] = v()
	}
}

func (g *gen) auth0User() map[string]any {
	m := map[string]any{}
	strategy := []string{"auth0", "google-oauth2", "sms", "email"}[g.r.IntN(4)]
	id := g.hex(24)
	g.maybe(m, "user_id", 0.95, func() any { return strategy + "|" + id })
	g.maybe(m, "email", 0.8, func() any { return g.email() })
	g.maybe(m, "email_verified", 0.7, func() any { return []any{true, false, "true", "false"}[g.r.IntN(4)] })
	g.maybe(m, "username", 0.3, func() any {
		switch g.r.IntN(4) {
		case 0:
			if e, ok := m["email"].(string); ok {
				return e // same as email: must still come back
			}
		case 1:
			if e, ok := m["user_id"].(string); ok {
				return e
			}
		}
		return g.word() + g.hex(3)
	})
	g.maybe(m, "phone_number", 0.3, func() any { return fmt.Sprintf("+%d", 10000000000+g.r.IntN(1e9)) })
	g.maybe(m, "phone_verified", 0.2, func() any { return []any{true, false, "true"}[g.r.IntN(3)] })
	g.maybe(m, "name", 0.8, func() any { return g.text() })
	g.maybe(m, "given_name", 0.5, func() any { return g.word() })
	g.maybe(m, "family_name", 0.5, func() any { return g.word() })
	g.maybe(m, "nickname", 0.6, func() any { return g.word() })
	g.maybe(m, "picture", 0.7, func() any { return "https://cdn.example.com/" + g.hex(8) + ".png" })
	g.maybe(m, "locale", 0.2, func() any { return []string{"en", "fr-CA", "ja"}[g.r.IntN(3)] })
	g.maybe(m, "blocked", 0.3, func() any { return g.chance(0.5) })
	g.maybe(m, "created_at", 0.9, func() any { return g.date() })
	g.maybe(m, "updated_at", 0.9, func() any { return g.date() })
	g.maybe(m, "last_login", 0.6, func() any { return g.date() })
	g.maybe(m, "logins_count", 0.6, func() any { return json.Number(fmt.Sprint(g.r.IntN(5000))) })
	g.maybe(m, "app_metadata", 0.5, func() any { return g.object(0) })
	g.maybe(m, "user_metadata", 0.5, func() any { return g.object(0) })
	g.maybe(m, "roles", 0.2, func() any {
		rs := make([]any, g.r.IntN(4))
		for i := range rs {
			rs[i] = g.word()
		}
		return rs
	})
	g.maybe(m, "identities", 0.9, func() any {
		n := 1 + g.r.IntN(3)
		if g.chance(0.05) {
			n = 0
		}
		ids := make([]any, n)
		for i := range ids {
			p := strategy
			if i > 0 {
				p = idpsA0[g.r.IntN(len(idpsA0))]
			}
			idn := map[string]any{"provider": p, "connection": p, "isSocial": p != "auth0"}
			if g.chance(0.3) {
				idn["user_id"] = json.Number(fmt.Sprint(1e15 + g.r.IntN(1e9))) // the numeric quirk
			} else {
				idn["user_id"] = g.hex(20)
			}
			if i > 0 {
				idn["profileData"] = g.object(0)
			}
			ids[i] = idn
		}
		return ids
	})
	for range g.r.IntN(3) {
		m["x_"+g.word()] = g.value(0)
	}
	if !hasStr(m, "user_id") && !hasStr(m, "email") && !hasStr(m, "username") {
		m["user_id"] = "auth0|" + id
	}
	return m
}

func (g *gen) appIDUser() map[string]any {
	m := map[string]any{}
	g.maybe(m, "id", 0.95, func() any { return g.hex(8) + "-" + g.hex(4) + "-" + g.hex(4) })
	g.maybe(m, "email", 0.8, func() any { return g.email() })
	g.maybe(m, "name", 0.8, func() any { return g.text() })
	g.maybe(m, "picture", 0.6, func() any { return "https://img.example.com/" + g.hex(6) })
	g.maybe(m, "attributes", 0.6, func() any { return g.object(0) })
	g.maybe(m, "roles", 0.5, func() any {
		rs := make([]any, g.r.IntN(3))
		for i := range rs {
			rs[i] = g.word()
		}
		return rs
	})
	g.maybe(m, "identities", 0.9, func() any {
		ids := make([]any, 1+g.r.IntN(2))
		for i := range ids {
			info := g.object(0)
			if g.chance(0.5) {
				info["picture"] = map[string]any{"data": map[string]any{"url": "https://fb.example/" + g.hex(5), "height": json.Number("50")}}
			}
			var id any = g.hex(17)
			if g.chance(0.2) {
				id = json.Number(fmt.Sprint(1e14 + g.r.IntN(1e9)))
			}
			ids[i] = map[string]any{"provider": []string{"facebook", "google", "saml", "cloud_directory"}[g.r.IntN(4)], "id": id, "idpUserInfo": info}
		}
		return ids
	})
	for range g.r.IntN(3) {
		m["x_"+g.word()] = g.value(0)
	}
	if !hasStr(m, "id") && !hasStr(m, "email") {
		m["id"] = g.hex(12)
	}
	return m
}

func (g *gen) cdUser() map[string]any {
	su := map[string]any{}
	g.maybe(su, "originalId", 0.9, func() any { return g.hex(8) + "-" + g.hex(4) })
	g.maybe(su, "userName", 0.4, func() any { return g.word() + g.hex(3) })
	if g.chance(0.8) {
		n := map[string]any{"givenName": g.word(), "familyName": g.word()}
		if g.chance(0.5) {
			n["formatted"] = g.text()
		}
		su["name"] = n
	}
	g.maybe(su, "displayName", 0.7, func() any { return g.text() })
	g.maybe(su, "active", 0.9, func() any { return g.chance(0.8) })
	if g.chance(0.9) {
		es := []any{map[string]any{"value": g.email(), "primary": true}}
		if g.chance(0.3) {
			es = append(es, map[string]any{"value": g.email(), "type": "home"})
		}
		su["emails"] = es
	}
	if g.chance(0.3) {
		su["phoneNumbers"] = []any{map[string]any{"value": "+3361234" + g.hex(4), "type": "mobile"}}
	}
	if g.chance(0.2) {
		su["addresses"] = []any{map[string]any{"locality": g.word(), "country": "FR", "type": "home"}}
	}
	if g.chance(0.2) {
		su[schemas.EnterpriseUserURN] = map[string]any{"department": g.word(), "manager": map[string]any{"value": g.hex(6)}}
	}
	g.maybe(su, "status", 0.7, func() any { return []string{"CONFIRMED", "PENDING"}[g.r.IntN(2)] })
	g.maybe(su, "passwordHistory", 0.3, func() any {
		return []any{map[string]any{"passwordHash": g.hex(40), "hashAlgorithm": "PBKDF2WithHmacSHA512"}}
	})
	g.maybe(su, "mfaContext", 0.3, func() any { return map[string]any{} })
	g.maybe(su, "schemas", 0.1, func() any { return []any{schemas.CoreUserURN} })
	if !hasStr(su, "originalId") && su["emails"] == nil && !hasStr(su, "userName") {
		su["userName"] = "u" + g.hex(6)
	}
	m := map[string]any{"scimUser": su}
	if g.chance(0.8) {
		if g.chance(0.5) {
			m["passwordHash"], m["passwordHashAlg"] = "$2a$10$"+g.hex(53), "bcrypt"
		} else {
			m["passwordHash"], m["passwordHashAlg"] = g.hex(64), "PBKDF2WithHmacSHA512"
		}
	}
	switch g.r.IntN(4) {
	case 0:
	case 1:
		m["profile"] = map[string]any{}
	default:
		m["profile"] = map[string]any{"attributes": g.object(0)}
	}
	g.maybe(m, "roles", 0.6, func() any {
		rs := make([]any, g.r.IntN(3))
		for i := range rs {
			rs[i] = g.word()
		}
		return rs
	})
	return m
}

func hasStr(m map[string]any, k string) bool {
	s, ok := m[k].(string)
	return ok && s != ""
}

func marshal(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// ---- property tests -----------------------------------------------------------------

const propertyUsers = 3000

func TestRoundTripAuth0Property(t *testing.T) {
	g := newGen(1)
	for i := range propertyUsers {
		raw := marshal(t, g.auth0User())
		got := viaSCIM(t, core.FormatAuth0, raw)
		want := normalised(t, raw, "email_verified", "phone_verified")
		if ok, diff := sameJSON(t, want, got); !ok {
			t.Fatalf("user %d: %s\ninput %s", i, diff, raw)
		}
	}
}

func TestRoundTripAppIDProperty(t *testing.T) {
	g := newGen(2)
	for i := range propertyUsers {
		raw := marshal(t, g.appIDUser())
		if ok, diff := sameJSON(t, raw, viaSCIM(t, core.FormatAppID, raw)); !ok {
			t.Fatalf("user %d: %s\ninput %s", i, diff, raw)
		}
	}
}

func TestRoundTripAppIDCDProperty(t *testing.T) {
	g := newGen(3)
	for i := range propertyUsers {
		raw := marshal(t, g.cdUser())
		if ok, diff := sameJSON(t, raw, viaSCIM(t, core.FormatAppIDCD, raw)); !ok {
			t.Fatalf("user %d: %s\ninput %s", i, diff, raw)
		}
	}
}

// TestRoundTripNormalisation pins down the only rewrite an Auth0 round trip makes.
func TestRoundTripNormalisation(t *testing.T) {
	raw := []byte(`{"user_id":"auth0|1","email":"a@example.com","email_verified":"true","phone_verified":"false"}`)
	got := viaSCIM(t, core.FormatAuth0, raw)
	assertSameJSON(t, []byte(`{"user_id":"auth0|1","email":"a@example.com","email_verified":true,"phone_verified":false}`), got)
}

// ---- golden files -------------------------------------------------------------------

// TestGolden decodes every fixtures/mappings/<format>/*.json into SCIM and compares with
// the .scim.golden next to it (go test -run TestGolden -update rewrites them), checks the
// round trip of every fixture, and for Auth0 fixtures also the bulk-import item.
func TestGolden(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(fixturesDir, "*", "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no fixtures under %s (%v)", fixturesDir, err)
	}
	for _, in := range files {
		format := filepath.Base(filepath.Dir(in))
		name := format + "/" + filepath.Base(in)
		t.Run(name, func(t *testing.T) {
			raw, err := os.ReadFile(in)
			if err != nil {
				t.Fatal(err)
			}
			dec, err := DecoderFor(format)
			if err != nil {
				t.Fatal(err)
			}
			u, err := dec.Decode(raw)
			if err != nil {
				t.Fatal(err)
			}
			scim, err := encodeSCIM(nil, u)
			if err != nil {
				t.Fatal(err)
			}
			golden(t, strings.TrimSuffix(in, ".json")+".scim.golden", scim)

			if format == core.FormatAuth0 || format == core.FormatAuth0Import {
				item, err := encodeAuth0Import(nil, u)
				if err == nil {
					golden(t, strings.TrimSuffix(in, ".json")+".auth0-import.golden", item)
				} else if u.PrimaryEmail() != "" {
					t.Fatalf("import item: %v", err)
				}
			}
			if _, err := EncoderFor(format); err != nil {
				return // decode-only format
			}
			var want []byte
			switch format {
			case core.FormatAuth0:
				want = normalised(t, raw, "email_verified", "phone_verified")
			case core.FormatOIDC:
				return // covered by TestOIDCRoundTrip (updated_at strings become seconds)
			default:
				want = raw
			}
			assertSameJSON(t, want, viaSCIM(t, format, raw))
		})
	}
}

func golden(t *testing.T, path string, got []byte) {
	t.Helper()
	var buf bytes.Buffer
	if err := json.Indent(&buf, got, "", "  "); err != nil {
		t.Fatal(err)
	}
	buf.WriteByte('\n')
	goldenFile(t, path, buf.Bytes())
}

// goldenFile compares got with the file at path, or rewrites the file under -update.
func goldenFile(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./transform -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file (-update rewrites it):\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}

// ---- SCIM decoder -------------------------------------------------------------------

func TestSCIMFieldErrors(t *testing.T) {
	tests := []struct {
		in, field, msg string
	}{
		{`{"userName":1}`, "userName", "expected string, got number"},
		{`{"userName":"a","emails":[{"value":"x"},{"value":{}}]}`, "emails[1].value", "expected string, got object"},
		{`{"userName":"a","active":"yes"}`, "active", "expected boolean, got string"},
		{`{"userName":"a","emails":{}}`, "emails", "expected array, got object"},
		{`{"userName":"a","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"manager":[]}}`,
			schemas.EnterpriseUserURN + ":manager", "expected complex (object), got array"},
		{`{"userName":"a","bogus":1}`, "bogus", "unknown attribute: not in the core User schema, a known extension or the common attributes"},
		{"{\"userName\":\"\xff\"}", "(record)", "invalid UTF-8"},
		{`{"userName":"a",`, "(record)", ""},
	}
	for _, tt := range tests {
		_, err := decodeSCIM([]byte(tt.in))
		field, msg, ok := firstField(err)
		if !ok {
			t.Errorf("%s: got %T %v, want *FieldError or schemas.Violations", tt.in, err, err)
			continue
		}
		// The schema walk words type errors its own way ("array of complex", "complex
		// (object)"): the path must match exactly, the message only in substance.
		if field != tt.field || (tt.msg != "" && msg != tt.msg && !strings.HasPrefix(msg, strings.Split(tt.msg, ",")[0])) {
			t.Errorf("%s: got %q %q, want %q %q", tt.in, field, msg, tt.field, tt.msg)
		}
	}
}

// firstField returns the first field a decode error names: a *FieldError, or the first of
// the schemas.Violations the SCIM decoder returns to report every problem at once.
func firstField(err error) (field, msg string, ok bool) {
	switch e := err.(type) {
	case *FieldError:
		return e.Field, e.Msg, true
	case schemas.Violations:
		if len(e) > 0 {
			return e[0].Path, e[0].Msg, true
		}
	}
	return "", "", false
}

func FuzzDecodeSCIM(f *testing.F) {
	seedFromGolden(f, "*/*.scim.golden")
	f.Add([]byte(`{"userName":"a","emails":[{"value":1}]}`))
	f.Add([]byte(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User","urn:acme:1"],"userName":"a","urn:acme:1":{"b":[1.50, {"c":"\u00e9"}]}}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		u, err := decodeSCIM(raw)
		if err != nil {
			if _, _, ok := firstField(err); !ok {
				t.Fatalf("error %T names no field: %v", err, err)
			}
			return
		}
		encodeAll(t, u)
		// Custom extension data survives an encode and a decode byte for byte.
		out, err := encodeSCIM(nil, u)
		if err != nil {
			t.Fatal(err)
		}
		back, err := decodeSCIM(out)
		if err != nil {
			t.Fatalf("SCIM written for a decoded user does not read back: %v\n%s", err, out)
		}
		if len(back.Extensions) != len(u.Extensions) {
			t.Fatalf("extensions %q, back %q", u.Extensions, back.Extensions)
		}
		for i := range u.Extensions {
			if back.Extensions[i].URN != u.Extensions[i].URN || string(back.Extensions[i].Data) != string(u.Extensions[i].Data) {
				t.Fatalf("extension %d changed: %s %s -> %s %s", i, u.Extensions[i].URN, u.Extensions[i].Data, back.Extensions[i].URN, back.Extensions[i].Data)
			}
		}
	})
}

// encodeAll runs every registered encoder on a decoded user: each must succeed or return
// an error, never panic, and whatever it writes must be JSON.
func encodeAll(t *testing.T, u *schemas.User) {
	regMu.RLock()
	names := keys(encoders)
	regMu.RUnlock()
	sort.Strings(names)
	for _, name := range names {
		enc, _ := EncoderFor(name)
		out, err := enc.Encode(nil, u)
		if err == nil && !json.Valid(out) {
			t.Fatalf("%s encoder wrote invalid JSON: %s", name, out)
		}
	}
	_ = Auth0ImportLosses(u)
	_ = Auth0Losses(u)
}

func seedFromGolden(f *testing.F, pattern string) {
	files, _ := filepath.Glob(filepath.Join(fixturesDir, pattern))
	for _, p := range files {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
}

// fuzzDecoder is the body of every provider decoder's fuzz target.
func fuzzDecoder(f *testing.F, format string) {
	seedFromGolden(f, format+"/*.json")
	dec, err := DecoderFor(format)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		u, err := dec.Decode(raw)
		if err != nil {
			if _, ok := err.(*FieldError); !ok {
				t.Fatalf("error %T is not a *FieldError: %v", err, err)
			}
			return
		}
		if u.UserName == "" || !u.HasSchema(schemas.CoreUserURN) {
			t.Fatalf("decoded user lacks userName or schemas: %+v", u)
		}
		scim, err := encodeSCIM(nil, u)
		if err != nil {
			t.Fatalf("a decoded user must encode as SCIM: %v", err)
		}
		if _, err := decodeSCIM(scim); err != nil {
			t.Fatalf("SCIM written for a decoded user does not read back: %v\n%s", err, scim)
		}
		encodeAll(t, u)
	})
}
