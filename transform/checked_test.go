package transform

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/ferry-dev/ferry/internal/core"
	"github.com/ferry-dev/ferry/internal/jsonstream"
)

// checkedFormats are the registered formats whose decoder can skip its syntax checks; SCIM's
// decoder validates while it parses and has nothing to skip.
var checkedFormats = []string{core.FormatAuth0, core.FormatAuth0Import, core.FormatAppID, core.FormatAppIDCD, core.FormatOIDC, core.FormatSCIM}

func checkedDecoder(t testing.TB, format string) CheckedDecoder {
	d, err := DecoderFor(format)
	if err != nil {
		t.Fatal(err)
	}
	cd, ok := d.(CheckedDecoder)
	if !ok {
		t.Fatalf("the %s decoder is not a CheckedDecoder", format)
	}
	return cd
}

// checkedInputs are records of every shape; the fixtures add real ones.
var checkedInputs = []string{
	`{"user_id":"auth0|1","email":"a@example.com","email_verified":"true","identities":[{"provider":"auth0","user_id":"1","connection":"db"}],"app_metadata":{"a":[1,{"b":null}]}}`,
	`{"id":"x","name":"N","email":"e@example.com","identities":[{"provider":"google","id":"g"}],"attributes":{"k":"v"},"roles":["r"]}`,
	`{"sub":"s","name":"n","address":{"formatted":"f"},"updated_at":1700000000}`,
	`{"scimUser":{"userName":"u","emails":[{"value":"e@example.com"}]},"passwordHash":"h","passwordHashAlg":"bcrypt"}`,
	` {"user_id":"dup","user_id":"dup2"} `,
	`{"email":"\ud800"}`,
	`{"email":"caf\u00e9 日本"}`,
	`{}`, `[]`, `[{"user_id":"x"}]`, `"s"`, `1`, `null`, ` `,
	``,
	`{"user_id":`,
	`{"user_id":"x"} trailing`,
	"{\"email\":\"\xff\"}",
	"{\"email\":\"\xed\xa0\x80\"}",
	"\xef\xbb\xbf{}",
	`{"user_id":"x",}`,
	`{"a":01}`,
}

func fixtureRecords(t testing.TB) []string {
	paths, err := filepath.Glob("../fixtures/mappings/*/*.json")
	if err != nil || len(paths) == 0 {
		t.Fatalf("no fixtures: %v", err)
	}
	var out []string
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, string(b))
	}
	return out
}

// TestDecodeChecked: after jsonstream.Check accepts a record, DecodeChecked gives what
// Decode gives; Decode alone still refuses what Check refuses.
func TestDecodeChecked(t *testing.T) {
	inputs := append(fixtureRecords(t), checkedInputs...)
	for _, format := range checkedFormats {
		d := checkedDecoder(t, format)
		for _, in := range inputs {
			sameDecode(t, d, format, []byte(in))
		}
	}
}

func sameDecode(t *testing.T, d CheckedDecoder, format string, raw []byte) {
	t.Helper()
	u, err := d.Decode(raw)
	if jsonstream.Check(raw, jsonstream.MaxDepth) != nil {
		if err == nil {
			t.Errorf("%s: Decode(%q) accepted what jsonstream.Check refuses", format, raw)
		}
		return
	}
	cu, cerr := d.DecodeChecked(raw)
	if (err == nil) != (cerr == nil) || err != nil && err.Error() != cerr.Error() {
		t.Fatalf("%s: %q: Decode error %v, DecodeChecked error %v", format, raw, err, cerr)
	}
	if !reflect.DeepEqual(u, cu) {
		t.Fatalf("%s: %q: Decode and DecodeChecked give different users:\n%+v\n%+v", format, raw, u, cu)
	}
}

func TestDecodeMessagesUnchanged(t *testing.T) {
	// The pipeline relies on Decode to word syntax and UTF-8 errors, as before Check. The
	// provider mappers share their wording; SCIM's strict decoder has its own.
	mapper := map[string]string{
		"{\"a\":\"\xff\"}":  "(record): invalid UTF-8",
		`{"user_id":`:       "(record): malformed JSON",
		`{"user_id":"x"} x`: "(record): malformed JSON",
		`[1]`:               "(record): expected a JSON object, got array",
	}
	scim := map[string]string{
		"{\"a\":\"\xff\"}":  "(record): invalid UTF-8",
		`{"user_id":`:       "(record): not valid JSON",
		`{"user_id":"x"} x`: "(record): not valid JSON",
		`{}0`:               "(record): not valid JSON",
		`[1]`:               "(record): expected a JSON object (a SCIM User), got array",
	}
	for _, format := range checkedFormats {
		d := checkedDecoder(t, format)
		want := mapper
		if format == core.FormatSCIM {
			want = scim
		}
		for in, w := range want {
			_, err := d.Decode([]byte(in))
			if err == nil || !strings.HasPrefix(err.Error(), w) {
				t.Errorf("%s: Decode(%q) = %v, want %q", format, in, err, w)
			}
		}
	}
}

// FuzzDecodeChecked: DecodeChecked on a record Check accepts is Decode without the checks.
func FuzzDecodeChecked(f *testing.F) {
	for _, s := range append(fixtureRecords(f), checkedInputs...) {
		f.Add([]byte(s))
	}
	decs := make([]CheckedDecoder, len(checkedFormats))
	for i, format := range checkedFormats {
		decs[i] = checkedDecoder(f, format)
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		for i, d := range decs {
			sameDecode(t, d, checkedFormats[i], raw)
		}
	})
}
