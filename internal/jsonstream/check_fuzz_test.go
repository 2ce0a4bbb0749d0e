package jsonstream

import (
	stdjson "encoding/json"
	"errors"
	"testing"
	"unicode/utf8"

	"github.com/segmentio/encoding/json"
)

// fuzzDepth is small so that the fuzzer reaches the depth limit.
const fuzzDepth = 16

// FuzzCheck compares Check with the three checks it replaces: UTF-8, RFC 8259 syntax
// (encoding/json's Valid) and depth. segmentio's Valid, which the decoders call, must agree
// too: a record Check lets through skips it on the pipeline's path.
func FuzzCheck(f *testing.F) {
	for _, s := range checkSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		err := Check(b, fuzzDepth)
		utf, std, seg, deep := utf8.Valid(b), stdjson.Valid(b), json.Valid(b), TooDeep(b, fuzzDepth)
		want := utf && std && !deep
		if (err == nil) != want {
			t.Fatalf("Check(%q) = %v; utf8.Valid %v, encoding/json.Valid %v, TooDeep %v", b, err, utf, std, deep)
		}
		if utf && seg != std {
			t.Fatalf("segmentio Valid(%q) = %v, encoding/json %v", b, seg, std)
		}
		if err == nil {
			return
		}
		var ce *CheckError
		if !errors.As(err, &ce) || ce.Offset < 0 || ce.Offset > len(b) {
			t.Fatalf("Check(%q) = %#v, want a *CheckError with an offset in [0, %d]", b, err, len(b))
		}
		switch {
		case errors.Is(err, ErrDepth):
			if !deep {
				t.Fatalf("Check(%q): %v, but TooDeep is false", b, err)
			}
		case errors.Is(err, ErrUTF8):
			if utf {
				t.Fatalf("Check(%q): %v, but the input is valid UTF-8", b, err)
			}
		case errors.Is(err, ErrSyntax):
			if std && utf {
				t.Fatalf("Check(%q): %v, but encoding/json accepts it", b, err)
			}
		default:
			t.Fatalf("Check(%q) = %v: unknown kind", b, err)
		}
		// The prefix before the offset held no problem of this kind: Check stops at the
		// first one. A cut there must fail only for running out, at the cut.
		if e2 := Check(b[:ce.Offset], fuzzDepth); e2 != nil {
			var c2 *CheckError
			errors.As(e2, &c2)
			if c2.Offset != ce.Offset || !errors.Is(e2, ErrSyntax) {
				t.Fatalf("Check(%q) = %v, but its prefix fails earlier: %v", b, err, e2)
			}
		}
	})
}
