package schemas

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"unicode/utf8"

	"github.com/segmentio/encoding/json"
)

// FuzzValidateJSON checks that ValidateJSON never panics, reports well-formed and bounded
// violations, is deterministic, and is at least as strict as decode + Validate: a record
// it finds clean decodes the way transform's SCIM decoder reads it, and Validate finds the
// decoded user clean too. Seeds: testdata/fuzz/FuzzValidateJSON plus every fixture line.
func FuzzValidateJSON(f *testing.F) {
	f.Add([]byte(rec("")))
	if b, err := json.Marshal(typicalUser()); err == nil {
		f.Add(b)
	}
	if in, err := os.ReadFile(filepath.Join(fixtures, "bad_users.ndjson")); err == nil {
		sc := bufio.NewScanner(bytes.NewReader(in))
		for sc.Scan() {
			f.Add(slices.Clone(sc.Bytes()))
		}
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		vs := ValidateJSON(raw)
		if len(vs) > maxViolations+1 {
			t.Fatalf("%d violations, more than the cap", len(vs))
		}
		for _, v := range vs {
			if v.Path == "" || v.Msg == "" {
				t.Fatalf("violation without path or message: %+v", v)
			}
			if !utf8.ValidString(v.Path) || !utf8.ValidString(v.Msg) {
				t.Fatalf("violation is not valid UTF-8: %q", v)
			}
		}
		if again := ValidateJSON(raw); !slices.Equal(again, vs) {
			t.Fatalf("not deterministic:\n%v\n%v", Violations(vs), Violations(again))
		}
		if len(vs) > 0 {
			return
		}
		u := new(User)
		rest, exts := withoutExtensions(t, raw)
		if _, err := json.Parse(rest, u, json.DisallowUnknownFields); err != nil {
			t.Fatalf("ValidateJSON found %q clean but it does not decode: %v", raw, err)
		}
		u.Extensions = exts
		if vs := Validate(u); vs != nil {
			t.Fatalf("ValidateJSON found %q clean but Validate reports %v", raw, Violations(vs))
		}
	})
}

// withoutExtensions does what transform's SCIM decoder does with custom extension data
// (it cannot be imported here): takes it out of the record, into User.Extensions.
func withoutExtensions(t *testing.T, raw []byte) ([]byte, []Extension) {
	var m map[string]json.RawMessage
	if json.Unmarshal(raw, &m) != nil {
		return raw, nil
	}
	var exts []Extension
	for k, v := range m {
		if IsExtensionURN(k) {
			if string(v) != "null" {
				exts = append(exts, Extension{URN: k, Data: v})
			}
			delete(m, k)
		}
	}
	if exts == nil {
		return raw, nil
	}
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b, exts
}
