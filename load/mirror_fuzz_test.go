package load

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzKeepSetFold: two keys match exactly when strings.EqualFold says they are equal
// (valid UTF-8), and invalid UTF-8 only matches itself byte for byte (case aside).
func FuzzKeepSetFold(f *testing.F) {
	for _, p := range [][2]string{
		{"Alice@Example.com", "alice@example.COM"}, {"KELVIN", "\u212aelvin"}, {"ß", "ẞ"},
		{"ǅ", "ǆ"}, {"σ", "ς"}, {"a\xff", "A\xff"}, {"a\xff", "a\ufffd"}, {"", ""}, {"x", "y"},
	} {
		f.Add(p[0], p[1])
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		k := keepOf(a)
		got := k.Has(b)
		if !utf8.ValidString(a) || !utf8.ValidString(b) {
			if a == b && a != "" && !got {
				t.Fatalf("%q does not match itself", a)
			}
			return
		}
		want := a != "" && b != "" && strings.EqualFold(a, b)
		if got != want {
			t.Fatalf("Has(%q) after Add(%q) = %v, EqualFold says %v", b, a, got, want)
		}
	})
}
