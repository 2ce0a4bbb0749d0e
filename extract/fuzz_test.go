package extract

import (
	"bytes"
	"net/url"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/segmentio/encoding/json"
)

func FuzzAuth0Cursor(f *testing.F) {
	for _, s := range []string{"offset=0", "offset=999", "export=job_abc;line=12", "export=;line=1",
		"export=job;line=-1", "offset=-3", "offset=1e3", "export=j/x;line=2", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := parseAuth0Cursor(s)
		if err != nil {
			return
		}
		if c.offset < 0 || c.line < 0 {
			t.Fatalf("%q: negative position %+v", s, c)
		}
		back, err := parseAuth0Cursor(c.String())
		if err != nil || back != c {
			t.Fatalf("%q -> %q -> %+v, %v", s, c.String(), back, err)
		}
	})
}

func FuzzSCIMCursor(f *testing.F) {
	for _, s := range []string{"index=0", "index=17", "cursor=&offset=0&skip=0", "cursor=abc.def&offset=200&skip=3",
		"cursor=x&offset=1&skip=2", "index=-1", "%zz", "cursor=a%3Bb&offset=5&skip=5"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		sc := &SCIM{pager: &indexPager{}}
		if sc.ResumeAfter(s) != nil {
			return
		}
		if sc.skip < 0 || sc.cursorSkip < 0 || sc.cursorSkip > sc.skip || sc.pager.first != sc.skip {
			t.Fatalf("%q: inconsistent state skip=%d cursorSkip=%d first=%d", s, sc.skip, sc.cursorSkip, sc.pager.first)
		}
		// What the source writes, it reads back.
		c := url.Values{"cursor": {sc.cursorTok}, "skip": {itoa(sc.cursorSkip)}, "offset": {itoa(sc.skip)}}.Encode()
		again := &SCIM{pager: &indexPager{}}
		if err := again.ResumeAfter(c); err != nil || again.cursorTok != sc.cursorTok || again.skip != sc.skip {
			t.Fatalf("%q: round trip %q: %v", s, c, err)
		}
	})
}

// FuzzAuth0Line feeds arbitrary export lines to what the source does with each: read the
// id and dates, attach roles. A line is never lost or changed except by the roles member.
func FuzzAuth0Line(f *testing.F) {
	for _, s := range []string{
		`{"user_id":"auth0|1","updated_at":"2020-01-01T00:00:00.000Z"}`,
		`{"user_id":42}`, `{}`, `{ }`, `[1,2]`, `{"user_id":"auth0|1"`, `null`, `{"user_id":"auth0|1","roles":["x"]}`,
		"{\"user_id\":\"auth0|1\"} \n", `{"user_id":"auth0|1","identities":[{"connection":"c"}]}`,
	} {
		f.Add([]byte(s))
	}
	members := map[string][]string{"auth0|1": {"admin", "a\"b"}, "42": {"viewer"}}
	f.Fuzz(func(t *testing.T, line []byte) {
		orig := bytes.Clone(line)
		data, id, spliced := withRoles(line, members)
		_ = before(line, time.Now())
		_, _ = primaryConnection(line)
		if !bytes.Equal(line, orig) {
			t.Fatal("the input was modified in place")
		}
		if !spliced {
			if !bytes.Equal(data, orig) {
				t.Fatalf("unspliced record changed: %q -> %q", orig, data)
			}
			return
		}
		if len(members[id]) == 0 {
			t.Fatalf("spliced roles for %q, who has none", id)
		}
		var m map[string]json.RawMessage
		if json.Valid(orig) {
			if err := json.Unmarshal(data, &m); err != nil {
				t.Fatalf("valid %q became invalid %q: %v", orig, data, err)
			}
			var names []string
			if err := json.Unmarshal(m["roles"], &names); err != nil || len(names) != len(members[id]) {
				t.Fatalf("%q: roles %s", data, m["roles"])
			}
		}
	})
}

func FuzzSpliceMember(f *testing.F) {
	for _, s := range []string{`{}`, `{"a":1}`, ` {"a":1} `, `{"a":1,}`, `[]`, ``, `}`, `{`, "{\n}\n"} {
		f.Add([]byte(s), "roles")
	}
	f.Fuzz(func(t *testing.T, obj []byte, key string) {
		if !utf8.ValidString(key) {
			return // the source's keys are constants ("roles"); JSON would replace bad bytes
		}
		out, ok := spliceMember(obj, key, []byte(`["x"]`))
		if !ok {
			if !bytes.Equal(out, obj) {
				t.Fatal("refused splice changed the record")
			}
			return
		}
		var m map[string]json.RawMessage
		if json.Valid(obj) && json.Unmarshal(obj, &m) == nil {
			var got map[string]json.RawMessage
			if err := json.Unmarshal(out, &got); err != nil {
				t.Fatalf("%q + %q: %q is not JSON: %v", obj, key, out, err)
			}
			if string(got[key]) != `["x"]` {
				t.Fatalf("%q: key %q holds %s", out, key, got[key])
			}
		}
	})
}
