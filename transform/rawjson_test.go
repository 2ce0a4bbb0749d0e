package transform

import (
	stdjson "encoding/json"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/ferry-dev/ferry/internal/jsonw"
)

// FuzzJSONString: appendString and unquote are inverses on valid UTF-8, and unquote agrees
// with encoding/json on every string literal it accepts.
func FuzzJSONString(f *testing.F) {
	for _, s := range []string{"", "plain", "q\"b\\s/", "\x00\x1f\n\t", "é😀", "\u2028\u2029", `\ud83d\ude00`, "<&>"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if utf8.ValidString(s) {
			enc := jsonw.AppendString(nil, s)
			back, err := unquote(enc, "x")
			if err != nil || back != s {
				t.Fatalf("%q -> %s -> %q, %v", s, enc, back, err)
			}
			var std string
			if err := stdjson.Unmarshal(enc, &std); err != nil || std != s {
				t.Fatalf("encoding/json reads %s as %q (%v)", enc, std, err)
			}
		}
		lit := []byte(`"` + s + `"`)
		if !stdjson.Valid(lit) || !utf8.Valid(lit) { // checkRecord rejects invalid UTF-8 first
			return
		}
		got, err := unquote(lit, "x")
		var std string
		_ = stdjson.Unmarshal(lit, &std)
		if err == nil && got != std {
			t.Fatalf("unquote %s = %q, encoding/json %q", lit, got, std)
		}
		if err != nil && !strings.Contains(std, "\ufffd") {
			t.Fatalf("unquote rejected %s (%v) though it has no lone surrogate", lit, err)
		}
	})
}

func TestMembersScanner(t *testing.T) {
	obj := []byte(` { "a" : [1, {"b":"}"}], "c\"d":"x\\"  ,"e":null,"f":-1.5e3,"g":{"h":[]} } `)
	var keys, vals []string
	m := newMembers(obj, "")
	for m.next() {
		keys = append(keys, string(m.Key))
		vals = append(vals, string(m.Val))
	}
	if m.err != nil {
		t.Fatal(m.err)
	}
	want := `a=[1, {"b":"}"}]|c"d="x\\"|e=null|f=-1.5e3|g={"h":[]}`
	var got []string
	for i := range keys {
		got = append(got, keys[i]+"="+vals[i])
	}
	if strings.Join(got, "|") != want {
		t.Fatalf("got  %s\nwant %s", strings.Join(got, "|"), want)
	}
	// Past 24 keys the duplicate check moves to a map; it must still catch duplicates.
	var b strings.Builder
	b.WriteString("{")
	for i := range 40 {
		b.WriteString(`"k` + strconv.Itoa(i) + `":1,`)
	}
	b.WriteString(`"k1":2}`)
	m = newMembers([]byte(b.String()), "")
	for m.next() {
	}
	if fe, ok := m.err.(*FieldError); !ok || fe.Field != "k1" || fe.Msg != "duplicate key" {
		t.Fatalf("duplicate past the small set: %v", m.err)
	}
}

// TestMembersFindsEveryDuplicate: objects of 1 to 40 members, names drawn from a small
// alphabet so that many share length and first and last bytes (the prefilter's classes),
// past the 24 names kept in the array: a repeated name is found wherever it is, and no
// distinct name is taken for one.
func TestMembersFindsEveryDuplicate(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for round := 0; round < 2000; round++ {
		n := 1 + rng.IntN(40)
		var b strings.Builder
		b.WriteByte('{')
		seen, dup := map[string]bool{}, false
		for i := 0; i < n; i++ {
			k := make([]byte, 1+rng.IntN(4))
			for j := range k {
				k[j] = "abc"[rng.IntN(3)]
			}
			dup = dup || seen[string(k)]
			seen[string(k)] = true
			if i > 0 {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, "%q:%d", k, i)
		}
		b.WriteByte('}')
		m := newMembers([]byte(b.String()), "")
		for m.next() {
		}
		if got := m.err != nil; got != dup {
			t.Fatalf("%s: duplicate found %v, want %v (%v)", b.String(), got, dup, m.err)
		}
	}
}

// FuzzSkipString holds skipString (eight bytes at a time) to a byte-at-a-time reading of
// the same rule: the index past the first quote not escaped by a backslash.
func FuzzSkipString(f *testing.F) {
	for _, s := range []string{`"abc"`, `"a\"b"`, `"a\\"b"`, `"0123456789abcdef\"0123456789"x"`,
		`"unterminated`, `"é\u00e9 ü"`, `"ends in a backslash\`, `"1234567"`, `"12345678"`} {
		f.Add([]byte(s), 0)
	}
	f.Fuzz(func(t *testing.T, b []byte, i int) {
		if len(b) == 0 {
			return
		}
		i = int(uint(i) % uint(len(b)))
		want := len(b)
		for j := i + 1; j < len(b); j++ {
			if b[j] == '\\' {
				j++
			} else if b[j] == '"' {
				want = j + 1
				break
			}
		}
		if got := skipString(b, i); got != want {
			t.Fatalf("skipString(%q, %d) = %d, want %d", b, i, got, want)
		}
	})
}
