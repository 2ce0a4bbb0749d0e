package jsonstream

import (
	"bufio"
	stdjson "encoding/json"
	"errors"
	"os"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/segmentio/encoding/json"
)

func nestObj(n int) string { return strings.Repeat(`{"a":`, n) + "1" + strings.Repeat("}", n) }
func nestArr(n int) string { return strings.Repeat("[", n) + strings.Repeat("]", n) }

// checkSeeds also seed FuzzCheck.
var checkSeeds = []string{
	`{"user_id":"auth0|1","email":"a@example.com","email_verified":true,"logins_count":3,"app_metadata":{"roles":["x","y"],"n":null,"f":-1.5e+3}}`,
	`"caf\u00e9 \ud83d\ude00 \ud800 \/\b\f\n\r\t\"\\"`,
	"\"日本語のユーザー名 émile 😀\"",
	"[1,\"\xed\xa0\x80\"]",
	"\xef\xbb\xbf{}",
	`{"a":1}x`,
	`[1,2,]`,
	`{"a" 1}`,
	`-01`,
	`1.`,
	`1e+`,
	`tru`,
	nestArr(16),
	nestArr(17),
}

func TestCheck(t *testing.T) {
	const depth = 3
	tests := []struct {
		name string
		in   string
		kind error // nil: valid
		off  int
	}{
		// Valid values of every kind, with all four whitespace bytes around tokens.
		{"object", `{"a":1,"b":[true,false,null],"c":{"d":"e"}}`, nil, 0},
		{"whitespace", " \t\r\n{ \"a\" : [ 1 , 2 ] } \n", nil, 0},
		{"empty containers", `[{},[],""]`, nil, 0},
		{"scalar string", `"x"`, nil, 0},
		{"scalar number", ` -0.5E-7 `, nil, 0},
		{"numbers", `[0,-0,1,12,1.0,1e5,1E+5,1e-05,-12.34e+56]`, nil, 0},
		{"literals", `[true,false,null]`, nil, 0},
		{"escapes", `"\" \\ \/ \b \f \n \r \t \u0041 \uFFFF"`, nil, 0},
		{"escaped lone surrogate", `"\ud800 and \udc00"`, nil, 0}, // valid JSON text, as in encoding/json
		{"UTF-8 all lengths", "\"\u00e9 \u20ac \U0001F600 \U0010FFFF\"", nil, 0},
		{"long ASCII string", `"` + strings.Repeat("abcdefghij", 20) + `"`, nil, 0},
		{"DEL in string", "\"\x7f\"", nil, 0},
		{"depth at the limit", nestObj(depth), nil, 0},
		{"arrays at the limit", nestArr(depth), nil, 0},
		{"brackets in strings do not nest", `[["[[[[{{{{"]]`, nil, 0},

		// Empty and truncated input: the offset is the end.
		{"empty", ``, ErrSyntax, 0},
		{"only whitespace", "  \n", ErrSyntax, 3},
		{"open object", `{`, ErrSyntax, 1},
		{"open array", `[1,`, ErrSyntax, 3},
		{"key without colon", `{"a"`, ErrSyntax, 4},
		{"key without value", `{"a":`, ErrSyntax, 5},
		{"member without close", `{"a":1`, ErrSyntax, 6},
		{"open string", `"abc`, ErrSyntax, 4},
		{"open string, long", `"` + strings.Repeat("a", 20), ErrSyntax, 21},
		{"escape at end", `"a\`, ErrSyntax, 3},
		{"short \\u", `"\u12`, ErrSyntax, 5},
		{"minus alone", `-`, ErrSyntax, 1},
		{"dot at end", `1.`, ErrSyntax, 2},
		{"exponent at end", `1e+`, ErrSyntax, 3},
		{"truncated true", `tru`, ErrSyntax, 3},
		{"truncated UTF-8 at end", "\"\xe2\x82", ErrUTF8, 1},

		// Syntax errors at the first offending byte.
		{"trailing garbage", `{"a":1}x`, ErrSyntax, 7},
		{"two values", `1 2`, ErrSyntax, 2},
		{"trailing comma in array", `[1,2,]`, ErrSyntax, 5},
		{"trailing comma in object", `{"a":1,}`, ErrSyntax, 7},
		{"leading comma", `[,1]`, ErrSyntax, 1},
		{"missing comma", `[1 2]`, ErrSyntax, 3},
		{"missing colon", `{"a" 1}`, ErrSyntax, 5},
		{"non-string key", `{1:2}`, ErrSyntax, 1},
		{"single quotes", `{'a':1}`, ErrSyntax, 1},
		{"mismatched close", `[1}`, ErrSyntax, 2},
		{"mismatched close object", `{"a":1]`, ErrSyntax, 6},
		{"stray close", `]`, ErrSyntax, 0},
		{"extra close", `[]]`, ErrSyntax, 2},
		{"leading zero", `01`, ErrSyntax, 1},
		{"negative leading zero", `-01`, ErrSyntax, 2},
		{"plus sign", `+1`, ErrSyntax, 0},
		{"leading dot", `.5`, ErrSyntax, 0},
		{"dot without digits", `1.e5`, ErrSyntax, 2},
		{"two dots", `1.2.3`, ErrSyntax, 3},
		{"exponent without digits", `1e`, ErrSyntax, 2},
		{"hex number", `0x10`, ErrSyntax, 1},
		{"NaN", `NaN`, ErrSyntax, 0},
		{"Infinity", `-Infinity`, ErrSyntax, 1},
		{"bad literal", `trUe`, ErrSyntax, 2},
		{"literal with suffix", `nullx`, ErrSyntax, 4},
		{"capital literal", `True`, ErrSyntax, 0},
		{"bad escape", `"\x"`, ErrSyntax, 2},
		{"bad \\u", `"\u12G4"`, ErrSyntax, 5},
		{"control in string", "\"a\tb\"", ErrSyntax, 2},
		{"NUL in string", "\"abcdefghij\x00\"", ErrSyntax, 11},
		{"newline in long string", "\"abcdefghijklmnop\nq\"", ErrSyntax, 17},
		{"form feed is not whitespace", "\f1", ErrSyntax, 0},
		{"vertical tab is not whitespace", "1\v", ErrSyntax, 1},
		{"NBSP is not whitespace", "\u00a01", ErrSyntax, 0},
		{"comment", `[1]//`, ErrSyntax, 3},

		// UTF-8, inside strings and out.
		{"BOM", "\xef\xbb\xbf{}", ErrSyntax, 0}, // valid UTF-8, but not JSON (RFC 8259 §8.1)
		{"bare 0xFF in string", "\"ab\xffcd\"", ErrUTF8, 3},
		{"bare 0xFF outside", "[1,\xff]", ErrUTF8, 3},
		{"continuation byte alone", "\"\x80\"", ErrUTF8, 1},
		{"overlong slash C0 AF", "\"\xc0\xaf\"", ErrUTF8, 1},
		{"overlong C1", "\"\xc1\xbf\"", ErrUTF8, 1},
		{"overlong 3-byte", "\"\xe0\x80\xaf\"", ErrUTF8, 1},
		{"overlong 4-byte", "\"\xf0\x80\x80\xaf\"", ErrUTF8, 1},
		{"surrogate in UTF-8 ED A0 80", "\"\xed\xa0\x80\"", ErrUTF8, 1},
		{"surrogate ED BF BF", "\"abcdefgh\xed\xbf\xbf\"", ErrUTF8, 9},
		{"past U+10FFFF F4 90", "\"\xf4\x90\x80\x80\"", ErrUTF8, 1},
		{"F5 lead", "\"\xf5\x80\x80\x80\"", ErrUTF8, 1},
		{"short sequence", "\"\xe2\x82x\"", ErrUTF8, 1},
		{"UTF-8 key", "{\"\xff\":1}", ErrUTF8, 2},
		{"valid UTF-8 outside strings", "[\u00e9]", ErrSyntax, 1},

		// Depth: the opening bracket one past the limit.
		{"object one too deep", nestObj(depth + 1), ErrDepth, 15},
		{"array one too deep", nestArr(depth + 1), ErrDepth, 3},
		{"deep after siblings", `[[],[[[1]]]]`, ErrDepth, 6},
		{"depth before syntax error", nestArr(depth+1) + "x", ErrDepth, 3},
		{"syntax error before depth", "[x" + nestArr(depth+1), ErrSyntax, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := []byte(tt.in)
			err := Check(b, depth)
			if tt.kind == nil {
				if err != nil {
					t.Fatalf("Check(%q) = %v, want nil", tt.in, err)
				}
			} else {
				var ce *CheckError
				if !errors.As(err, &ce) || !errors.Is(err, tt.kind) || ce.Offset != tt.off {
					t.Fatalf("Check(%q) = %v, want %v at byte %d", tt.in, err, tt.kind, tt.off)
				}
			}
			// The table's expectations agree with the checks Check replaces.
			want := utf8.Valid(b) && stdjson.Valid(b) && json.Valid(b) && !TooDeep(b, depth)
			if (err == nil) != want {
				t.Fatalf("Check(%q) = %v, but the three checks say valid=%v", tt.in, err, want)
			}
		})
	}
}

func TestCheckErrorQuotesNothing(t *testing.T) {
	secret := "hunter2-secret"
	for _, in := range []string{`{"p":"` + secret + "\x01\"}", `{"p":` + secret + `}`, "{\"p\":\"" + secret + "\xff\"}"} {
		err := Check([]byte(in), 8)
		if err == nil || strings.Contains(err.Error(), "hunter2") {
			t.Errorf("Check(%q) = %v: want an error that does not quote the input", in, err)
		}
	}
}

func TestCheckDepth(t *testing.T) {
	// The bitset of open containers spills to the heap past 512 levels; an object and an
	// array alternate so that a wrong bit shows as a syntax error.
	alt := func(n int) string {
		var s strings.Builder
		for k := range n {
			if k%2 == 0 {
				s.WriteString(`{"k":`)
			} else {
				s.WriteString("[")
			}
		}
		s.WriteString("0")
		for k := n - 1; k >= 0; k-- {
			if k%2 == 0 {
				s.WriteString("}")
			} else {
				s.WriteString("]")
			}
		}
		return s.String()
	}
	for _, limit := range []int{0, 1, 63, 64, 65, 512, 513, 1000} {
		for _, d := range []int{limit, limit + 1} {
			err := Check([]byte(alt(d)), limit)
			if d == limit && err != nil {
				t.Errorf("depth %d, limit %d: %v", d, limit, err)
			}
			if d > limit && !errors.Is(err, ErrDepth) {
				t.Errorf("depth %d, limit %d: %v, want ErrDepth", d, limit, err)
			}
		}
	}
	if err := Check([]byte(nestArr(100000)), MaxDepth); !errors.Is(err, ErrDepth) {
		t.Errorf("100,000 levels: %v", err)
	}
	if err := Check([]byte(nestArr(3)), -1); !errors.Is(err, ErrDepth) {
		t.Errorf("negative limit: %v", err)
	}
	if err := Check([]byte(`1`), -1); err != nil {
		t.Errorf("negative limit, scalar: %v", err)
	}
}

func TestCheckAllocs(t *testing.T) {
	rec := []byte(checkSeeds[0])
	if n := testing.AllocsPerRun(100, func() { _ = Check(rec, MaxDepth) }); n != 0 {
		t.Errorf("Check allocates %v times per valid record", n)
	}
}

// benchRecords reads realistic records: $CHECK_INPUT (an NDJSON file, e.g. from ferry gen)
// or the committed sample.
func benchRecords(b *testing.B) [][]byte {
	path := os.Getenv("CHECK_INPUT")
	if path == "" {
		path = "testdata/check_auth0.ndjson"
	}
	f, err := os.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	var recs [][]byte
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, DefaultMaxRecord)
	for sc.Scan() {
		recs = append(recs, append([]byte(nil), sc.Bytes()...))
	}
	if err := sc.Err(); err != nil {
		b.Fatal(err)
	}
	return recs
}

func benchCheck(b *testing.B, check func([]byte) bool) {
	recs := benchRecords(b)
	var size int64
	for _, r := range recs {
		size += int64(len(r))
	}
	b.SetBytes(size)
	b.ResetTimer()
	for range b.N {
		for _, r := range recs {
			check(r)
		}
	}
}

// BenchmarkCheck runs over the whole sample per iteration; compare with BenchmarkThreeChecks.
func BenchmarkCheck(b *testing.B) {
	benchCheck(b, func(r []byte) bool { return Check(r, MaxDepth) == nil })
}

func BenchmarkThreeChecks(b *testing.B) {
	benchCheck(b, func(r []byte) bool { return !TooDeep(r, MaxDepth) && utf8.Valid(r) && json.Valid(r) })
}
