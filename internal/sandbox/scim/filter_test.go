package scim

import (
	"errors"
	"testing"

	"github.com/segmentio/encoding/json"
)

func TestParseFilterCanonical(t *testing.T) {
	cases := map[string]string{
		`userName Eq "a"`:                             `userName eq "a"`,
		`a eq 1 or b eq 2 and c eq 3`:                 `(a eq 1 or (b eq 2 and c eq 3))`,
		`not(a pr)`:                                   `not (a pr)`,
		`emails[type eq "work" and value co "@"]`:     `emails[(type eq "work" and value co "@")]`,
		`meta.lastModified gt "2011-05-13T04:42:34Z"`: `meta.lastModified gt "2011-05-13T04:42:34Z"`,
		`x eq "q\"uote"`:                              `x eq "q\"uote"`,
		`urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value eq null`: `urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value eq null`,
		`a eq true`:   `a eq true`,
		`a ge -1.5e3`: `a ge -1500`,
	}
	for in, want := range cases {
		f, err := ParseFilter(in)
		if err != nil {
			t.Errorf("%s: %v", in, err)
			continue
		}
		if f.String() != want {
			t.Errorf("%s: got %s, want %s", in, f.String(), want)
		}
	}
	deep := ""
	for i := 0; i < 100; i++ {
		deep += "("
	}
	for _, bad := range []string{"", deep + `a pr`, `a eq NaN`, `a eq +1`, `1a eq 1`, `a.b.c eq 1`, `a[b eq 1].c eq 1`, `"a" pr`, `urn eq 1:`, `a eq "x`} {
		if _, err := ParseFilter(bad); !errors.Is(err, ErrFilter) {
			t.Errorf("%q: err = %v", bad, err)
		}
	}
}

func FuzzFilter(f *testing.F) {
	for _, s := range []string{
		`userName eq "bjensen"`, `name.familyName co "O'Malley"`, `userName sw "J"`,
		`urn:ietf:params:scim:schemas:core:2.0:User:userName sw "J"`, `title pr`,
		`meta.lastModified gt "2011-05-13T04:42:34Z"`, `title pr and userType eq "Employee"`,
		`title pr or userType eq "Intern"`, `schemas eq "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"`,
		`userType eq "Employee" and (emails co "example.com" or emails.value co "example.org")`,
		`userType ne "Employee" and not (emails co "example.com" or emails.value co "example.org")`,
		`emails[type eq "work" and value co "@example.com"] or ims[type eq "xmpp" and value co "@foo.com"]`,
		`a eq 1.5e10`, `a eq false`, `a eq null`, `((a pr))`, `not(a pr)`, "a eq \"\\u00e9\"",
	} {
		f.Add(s)
	}
	ss, err := loadSchemas(nil, nil)
	if err != nil {
		f.Fatal(err)
	}
	ev := &evaluator{ss: ss}
	var res map[string]any
	_ = json.Unmarshal([]byte(`{"schemas":["`+UserURN+`"],"userName":"bjensen","title":"T","active":true,"n":3,
		"emails":[{"value":"b@example.com","type":"work","primary":true},"odd",null],
		"meta":{"lastModified":"2012-01-01T00:00:00Z"},"name":{"familyName":"O'Malley"},
		"`+EnterpriseURN+`":{"manager":{"value":"m"}}}`), &res)
	f.Fuzz(func(t *testing.T, s string) {
		flt, err := ParseFilter(s)
		if err != nil {
			if !errors.Is(err, ErrFilter) {
				t.Fatalf("error does not wrap ErrFilter: %v", err)
			}
			return
		}
		canon := flt.String()
		again, err := ParseFilter(canon)
		if err != nil {
			t.Fatalf("canonical form %q of %q does not parse: %v", canon, s, err)
		}
		if again.String() != canon {
			t.Fatalf("canonical form not stable: %q -> %q", canon, again.String())
		}
		if ev.Match(flt, res) != ev.Match(again, res) {
			t.Fatalf("%q and its canonical form match differently", s)
		}
	})
}

func FuzzPatchPath(f *testing.F) {
	for _, s := range []string{`emails[type eq "work"].value`, `name.givenName`, EnterpriseURN,
		EnterpriseURN + ":manager.value", `members[value eq "2819c223"]`, `emails[`, `a]`, `x[y pr].`} {
		f.Add(s)
	}
	s, err := New(Config{})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, p string) {
		pp, e := s.parsePatchPath(p)
		if e != nil {
			if e.ScimType != errInvalidPath || e.Status != 400 {
				t.Fatalf("%q: %v", p, e)
			}
			return
		}
		// Applying any parsed path to a user must not panic.
		res := map[string]any{"schemas": []any{UserURN}, "userName": "u",
			"emails": []any{map[string]any{"value": "a@b", "type": "work"}}, "name": map[string]any{"givenName": "G"}}
		for _, op := range []string{"add", "replace", "remove"} {
			_ = s.applyOp(deepCopy(res).(map[string]any), map[string]any{"op": op, "path": pp.rawString, "value": "v"})
		}
	})
}
