package jsonstream

import (
	"bytes"
	stdjson "encoding/json"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

type got struct {
	recs []string
	errs []string
	err  error
}

func drain(r Reader) got {
	var g got
	for {
		rec, err := r.Next()
		if err == io.EOF {
			return g
		}
		if err != nil {
			g.err = err
			return g
		}
		g.recs = append(g.recs, string(rec.Data))
		if rec.Err != nil {
			g.errs = append(g.errs, rec.Ref+": "+rec.Err.Error())
		}
	}
}

func TestArray(t *testing.T) {
	tests := []struct {
		name, in string
		keys     []string
		want     []string
		wantErr  error
	}{
		{"top-level", `[{"a":1}, {"b":[1,2,{"c":"]}"}]} ,3,"x",null]`, nil, []string{`{"a":1}`, `{"b":[1,2,{"c":"]}"}]}`, `3`, `"x"`, `null`}, nil},
		{"empty", ` [ ] `, nil, nil, nil},
		{"bom", "\xef\xbb\xbf[{}]", nil, []string{`{}`}, nil},
		{"escapes", `[{"s":"a\"]\\"},{"t":"\\\\"}]`, nil, []string{`{"s":"a\"]\\"}`, `{"t":"\\\\"}`}, nil},
		{"wrapper first array", `{"itemsPerPage":2,"totalResults":9,"users":[{"id":"1"},{"id":"2"}],"x":1}`, nil, []string{`{"id":"1"}`, `{"id":"2"}`}, nil},
		{"wrapper named", `{"schemas":["urn:x"],"Resources":[{"id":"1"}]}`, []string{"users", "Resources"}, []string{`{"id":"1"}`}, nil},
		{"wrapper skips nested", `{"requestOptions":{"a":[1,{"b":"}"}]},"users":[{}]}`, []string{"users"}, []string{`{}`}, nil},
		{"wrapper without array", `{"a":1}`, nil, nil, ErrStructure},
		{"wrapper missing key", `{"a":[1]}`, []string{"users"}, nil, ErrStructure},
		{"not json", `hello`, nil, nil, ErrStructure},
		{"missing comma", `[{} {}]`, nil, []string{`{}`}, ErrStructure},
		{"leading comma", `[,{}]`, nil, nil, ErrStructure},
		{"truncated element", `[{"a":1},{"b":`, nil, []string{`{"a":1}`}, io.ErrUnexpectedEOF},
		{"truncated after element", `[{"a":1}`, nil, []string{`{"a":1}`}, io.ErrUnexpectedEOF},
		{"truncated string", `[{"a":"abc`, nil, nil, io.ErrUnexpectedEOF},
		{"empty input", ``, nil, nil, ErrStructure},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// One byte at a time exercises every chunk boundary (escapes split across reads).
			for _, r := range []io.Reader{strings.NewReader(tt.in), iotest.OneByteReader(strings.NewReader(tt.in))} {
				g := drain(NewArray(r, 0, tt.keys...))
				if strings.Join(g.recs, "|") != strings.Join(tt.want, "|") {
					t.Errorf("records = %q, want %q", g.recs, tt.want)
				}
				if !errors.Is(g.err, tt.wantErr) {
					t.Errorf("err = %v, want %v", g.err, tt.wantErr)
				}
			}
		})
	}
}

func TestArrayRecordErrors(t *testing.T) {
	big := `{"s":"` + strings.Repeat("x", 100) + `"}`
	in := `[{"ok":1},` + big + ",{\"bad\":\"\xff\"},{\"ok\":2}]"
	g := drain(NewArray(strings.NewReader(in), 50))
	if g.err != nil {
		t.Fatal(g.err)
	}
	if len(g.recs) != 4 {
		t.Fatalf("got %d records, want 4 (an oversize or invalid element must not end the stream)", len(g.recs))
	}
	want := []string{"element 2: element 2: record too large: over 50 bytes", "element 3: element 3: invalid UTF-8 at byte 8"}
	if strings.Join(g.errs, "|") != strings.Join(want, "|") {
		t.Errorf("errs = %q, want %q", g.errs, want)
	}
	if len(g.recs[1]) != 50 {
		t.Errorf("oversize record kept %d bytes, want the 50-byte prefix", len(g.recs[1]))
	}
}

func TestNDJSON(t *testing.T) {
	in := "\xef\xbb\xbf{\"a\":1}\n\n  {\"b\":2}  \r\n{\"c\":\"\xfe\"}\nnot json\n" + `{"d":"` + strings.Repeat("y", 80) + "\"}\n{\"e\":5}"
	g := drain(NewNDJSON(iotest.HalfReader(strings.NewReader(in)), 40))
	if g.err != nil {
		t.Fatal(g.err)
	}
	wantRecs := []string{`{"a":1}`, `{"b":2}`, "{\"c\":\"\xfe\"}", `not json`, `{"d":"` + strings.Repeat("y", 34), `{"e":5}`}
	if strings.Join(g.recs, "|") != strings.Join(wantRecs, "|") {
		t.Errorf("records = %q\nwant %q", g.recs, wantRecs)
	}
	wantErrs := []string{"line 4: line 4: invalid UTF-8 at byte 6", "line 6: line 6: record too large: over 40 bytes"}
	if strings.Join(g.errs, "|") != strings.Join(wantErrs, "|") {
		t.Errorf("errs = %q, want %q", g.errs, wantErrs)
	}
}

func TestNDJSONReadError(t *testing.T) {
	boom := errors.New("disk on fire")
	g := drain(NewNDJSON(io.MultiReader(strings.NewReader("{}\n"), iotest.ErrReader(boom)), 0))
	if !errors.Is(g.err, boom) || len(g.recs) != 1 {
		t.Fatalf("got %v, %d records; want the read error after 1 record", g.err, len(g.recs))
	}
}

// FuzzArray checks the splitter against encoding/json: for every input that is a valid JSON
// array, the elements are exactly the array's elements; for any input it never panics and
// never yields more bytes than it read.
func FuzzArray(f *testing.F) {
	for _, s := range []string{`[]`, `[1,"a",{"b":[true,null]}]`, `{"users":[{"x":"\"]"}]}`, `[{"a":"\\"}]`, `[1 2]`, `[{`, `{"a":{"b":[1]},"c":[2]}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		g := drain(NewArray(bytes.NewReader(in), 0))
		var want []stdjson.RawMessage
		if in = bytes.TrimPrefix(in, bom); stdjson.Unmarshal(in, &want) != nil || !bytes.HasPrefix(bytes.TrimSpace(in), []byte("[")) {
			return
		}
		if g.err != nil {
			t.Fatalf("valid array %q: error %v", in, g.err)
		}
		if len(g.recs) != len(want) {
			t.Fatalf("valid array %q: %d records, want %d", in, len(g.recs), len(want))
		}
		for i := range want {
			if strings.TrimSpace(string(want[i])) != g.recs[i] {
				t.Fatalf("element %d = %q, want %q", i, g.recs[i], want[i])
			}
		}
	})
}

// FuzzNDJSON checks that every non-blank line becomes exactly one record, whatever it holds.
func FuzzNDJSON(f *testing.F) {
	for _, s := range []string{"{}\n{}", "\n\n", "{\"a\":\"\xff\"}\n", "x\r\ny", "\xef\xbb\xbf{}"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		g := drain(NewNDJSON(bytes.NewReader(in), 64))
		if g.err != nil {
			t.Fatalf("unexpected error %v", g.err)
		}
		lines := 0
		for i, l := range bytes.Split(in, []byte("\n")) {
			if i == 0 {
				l = bytes.TrimPrefix(l, bom)
			}
			if len(bytes.TrimSpace(l)) > 0 || len(l) > 64 {
				lines++
			}
		}
		if len(g.recs) != lines {
			t.Fatalf("%d records for %d non-blank lines in %q", len(g.recs), lines, in)
		}
	})
}
