package transform

import (
	"bytes"
	stdjson "encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/ferry-dev/ferry/schemas"
	"github.com/segmentio/encoding/json"
)

var fuzzSeeds = []string{
	`{"preference.color":"pink","$plan":"gold","email":"x","groups":["a"]}`,
	`{"a":1,"a.b":2}`,
	`{"a.b":{"c.d":[{"e.f":1}]},"a":{"b":{"x":true}}}`,
	`{"card":"4111 1111 1111 1111","ssn":"078-05-1120","password":"hunter2"}`,
	`{"age":"23","vip":"true","n":1712345678901}`,
	`{"x":1,"x":{"y.z":2}}`,
	`{"k\u002e1":"\ud83d\ude00","lone":"\ud800"}`,
	`{"participants":{"alice@example.com":{"role":"sender"}}}`,
	`{"picture":{"data":{"url":"https://x.example/p.jpg"}}}`,
	`[1,"2",{"a.b":3}]`,
	`"just a string"`,
	`null`,
	`{"a":"\x"}`,
	`{"a":}`,
	`{"` + strings.Repeat("long", 80) + `":"` + strings.Repeat("é", 300) + `"}`,
}

// FuzzPolicyChain feeds arbitrary bytes as app_metadata and user_metadata through the
// Auth0 chain. It must never panic; a failure must be a *Rejection; and a user that
// passes satisfies the rules: valid JSON, no '.' or '$' in any name, no reserved name at
// the top of app_metadata (rename mode), and with --pii redact no card-shaped value left.
func FuzzPolicyChain(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add([]byte(s), false)
		f.Add([]byte(s), true)
	}
	f.Fuzz(func(t *testing.T, data []byte, strict bool) {
		cfg := DefaultPolicyConfig()
		cfg.Target = TargetAuth0
		cfg.DefaultPicture = "https://cdn.example/d.png"
		if strict {
			cfg.PII = PIIRedact
			cfg.TypeMode = TypesCoerceOrStringify
			cfg.ShadowMode = ShadowRename
			cfg.TruncateSearch = true
		}
		ps, err := NewPolicies(cfg, nil)
		if err != nil {
			t.Fatal(err)
		}
		u := &schemas.User{UserName: "fuzz", Ferry: &schemas.FerryUser{
			AppMetadata:  append(json.RawMessage(nil), data...),
			UserMetadata: append(json.RawMessage(nil), data...),
			Identities:   []json.RawMessage{append(json.RawMessage(nil), data...)},
		}}
		// Twice through the same chain: the second user meets the first one's types.
		for round := 0; round < 2; round++ {
			c := &Changes{}
			err = ApplyAll(ps, u, c)
			if err != nil {
				var rej *Rejection
				if !errors.As(err, &rej) {
					t.Fatalf("non-rejection error: %v", err)
				}
				return
			}
			if _, perr := mdParse(data); perr != nil && !isEmptyJSON(data) {
				t.Fatalf("invalid metadata %q passed: %v", data, perr)
			}
			for i, raw := range [][]byte{u.Ferry.AppMetadata, u.Ferry.UserMetadata} {
				if isEmptyJSON(raw) {
					continue
				}
				if !stdjson.Valid(raw) {
					t.Fatalf("%s is not valid JSON: %q", blobNames[i], raw)
				}
				v, err := mdParse(raw)
				if err != nil {
					t.Fatalf("%s does not parse: %v", blobNames[i], err)
				}
				checkNames(t, v, blobNames[i])
				if i == blobApp {
					for _, m := range v.obj {
						if auth0ReservedAppMetadata[m.key] {
							t.Fatalf("reserved name %q left in app_metadata", m.key)
						}
						if strict && auth0RootFields[m.key] {
							t.Fatalf("root shadow %q left in app_metadata (rename mode)", m.key)
						}
					}
				}
				if strict {
					mdWalkTree(v, "", hintNone, func(n *mdValue, path string, _ keyHint) bool {
						if n.kind == mdString && len(piiFind(n.s)) > 0 {
							t.Fatalf("PII left at %s after redact", path)
						}
						return true
					})
				}
			}
			if len(u.Photos) == 0 {
				t.Fatal("default picture not set")
			}
		}
	})
}

func checkNames(t *testing.T, v *mdValue, path string) {
	t.Helper()
	switch v.kind {
	case mdObject:
		for _, m := range v.obj {
			if strings.ContainsAny(m.key, ".$") {
				t.Fatalf("name %q at %s still has '.' or '$'", m.key, path)
			}
			checkNames(t, m.val, pathKey(path, m.key))
		}
	case mdArray:
		for i, e := range v.arr {
			checkNames(t, e, pathIndex(path, i))
		}
	}
}

// FuzzPolicyJSON checks the ordered metadata parser against encoding/json: whatever it
// accepts is valid JSON with the same meaning, re-encodes to something equal, and the raw
// scanner agrees with it on validity.
func FuzzPolicyJSON(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		v, err := mdParse(data)
		flags, _ := mdScanFlags(data)
		if err != nil {
			var se *mdSyntaxError
			if !errors.As(err, &se) && !errors.Is(err, errMDDepth) {
				t.Fatalf("unexpected error type %T", err)
			}
			// The scanner may miss what only decoding sees (lone surrogates), but then it
			// must have asked for a decode.
			if flags&(scInvalid|scUEscape) == 0 && len(trimWS(data)) > 0 {
				t.Fatalf("scanner accepts %q, parser says %v", data, err)
			}
			return
		}
		if flags&scInvalid != 0 {
			t.Fatalf("scanner rejects %q, parser accepts it", data)
		}
		if !stdjson.Valid(data) {
			t.Fatalf("parser accepts invalid JSON %q", data)
		}
		// The PII rule looks inside only when the scanner says so: a string value with a
		// PII-shaped run must raise the flag (or a \u escape must have asked for a decode).
		if flags&(scDigits|scUEscape) == 0 {
			mdWalkTree(v, "", hintNone, func(n *mdValue, path string, _ keyHint) bool {
				if n.kind == mdString && len(piiFind(n.s)) > 0 {
					t.Fatalf("scanner missed the PII-shaped %s of %q", path, data)
				}
				return true
			})
		}
		out := v.raw()
		a, err := decodeStd(data)
		if err != nil {
			t.Fatal(err)
		}
		b, err := decodeStd(out)
		if err != nil {
			t.Fatalf("re-encoded %q is invalid: %v", out, err)
		}
		if !reflect.DeepEqual(a, b) {
			t.Fatalf("meaning changed: %q -> %q", data, out)
		}
		v2, err := mdParse(out)
		if err != nil || !mdEqual(v, v2) {
			t.Fatalf("round trip: %q -> %q (%v)", data, out, err)
		}
	})
}

// decodeStd decodes with encoding/json, numbers as their text (1E1000 is valid JSON).
func decodeStd(b []byte) (any, error) {
	d := stdjson.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var v any
	err := d.Decode(&v)
	return v, err
}

// FuzzPolicyPIIMask: masking leaves nothing PII-shaped and never panics.
func FuzzPolicyPIIMask(f *testing.F) {
	for _, s := range []string{"4111 1111 1111 1111", "123-45-6789", "185057800608436", "a4111111111111111b5500000000000004", "--4-1-1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		m := piiMaskString(s, piiFind(s))
		if again := piiFind(m); len(again) > 0 {
			t.Fatalf("mask(%q) = %q still has PII %v", s, m, again)
		}
	})
}
