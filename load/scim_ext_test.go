package load

import (
	"context"
	"errors"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/segmentio/encoding/json"

	"github.com/ferry-dev/ferry/internal/core"
	sbscim "github.com/ferry-dev/ferry/internal/sandbox/scim"
	"github.com/ferry-dev/ferry/schemas"
	"github.com/ferry-dev/ferry/transform"
)

const acmeURN = "urn:ietf:params:scim:schemas:extension:acme:2.0:User"

func acmeItems(t *testing.T) []core.Item {
	t.Helper()
	recs := []string{
		`{"schemas":["` + schemas.CoreUserURN + `","` + acmeURN + `"],"userName":"a","` + acmeURN + `":{"badge":1}}`,
		`{"schemas":["` + schemas.CoreUserURN + `","urn:listed:only"],"userName":"b"}`,
	}
	dec, _ := transform.DecoderFor(core.FormatSCIM)
	var items []core.Item
	for i, r := range recs {
		u, err := dec.Decode([]byte(r))
		if err != nil {
			t.Fatal(err)
		}
		items = append(items, core.Item{Seq: int64(i), Ref: "line " + string(rune('1'+i)), User: u, Data: []byte(r)})
	}
	return items
}

func TestSCIMSinkUndeclaredExtensions(t *testing.T) {
	def, err := os.ReadFile("../fixtures/extensions/acme.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name       string
		exts       []json.RawMessage
		drop       bool
		undeclared []string
		abort      bool
		stored     string // the acme data the provider holds for "a"; "" none
	}{
		{"declared: sent", []json.RawMessage{def}, false, nil, false, `{"badge":1}`},
		{"undeclared: the run aborts, nothing sent", nil, false, []string{acmeURN}, true, ""},
		{"undeclared with drop: sent without it", nil, true, []string{acmeURN}, false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newSCIMEnv(t, sbscim.Config{Strict: true, Extensions: tt.exts}, "")
			dst := "scim+http://" + strings.TrimPrefix(e.url, "http://")
			s, err := Open(context.Background(), dst, core.Options{Getenv: env("SCIM_TOKEN", "tok"), DropUnknownExtensions: tt.drop})
			if err != nil {
				t.Fatal(err)
			}
			sink := s.(*SCIM)
			if got := sink.Undeclared([]string{acmeURN, schemas.EnterpriseUserURN, "URN:IETF:PARAMS:SCIM:SCHEMAS:EXTENSION:ACME:2.0:USER"}); !slices.Equal(got, tt.undeclared) {
				t.Errorf("Undeclared = %q, want %q", got, tt.undeclared)
			}
			items := acmeItems(t)
			losses := sink.Losses(items[0].User)
			if (len(tt.undeclared) > 0) != slices.Contains(losses, acmeURN) {
				t.Errorf("Losses = %q", losses)
			}
			res, err := sink.Write(context.Background(), items)
			if tt.abort {
				if !errors.Is(err, ErrExtensionUndeclared) || !errors.Is(err, core.ErrAborted) || !strings.Contains(err.Error(), "line 1") {
					t.Fatalf("Write: %v %v, want ErrExtensionUndeclared naming line 1", res, err)
				}
				if e.srv.Len() != 0 {
					t.Errorf("%d users written before the abort", e.srv.Len())
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for i, r := range res {
				if r.Outcome != core.Created {
					t.Fatalf("user %d: %+v (a strict provider refused what was sent)", i, r)
				}
			}
			if e.srv.Len() != 2 {
				t.Fatalf("provider holds %d users", e.srv.Len())
			}
			var got map[string]any
			id, _ := e.srv.UserByName("a")
			raw, _ := e.srv.User(id)
			json.Unmarshal(raw, &got)
			b, _ := json.Marshal(got[acmeURN])
			if tt.stored == "" && got[acmeURN] != nil || tt.stored != "" && string(b) != tt.stored {
				t.Errorf("stored acme data %s, want %q", b, tt.stored)
			}
		})
	}
}

// An --upsert re-run over users whose extension holds a write-only attribute (the
// provider never returns it) finds them unchanged: the sink learns from /Schemas that the
// attribute is not read back, instead of updating every user on every run.
func TestSCIMSinkUpsertIgnoresWriteOnlyExtensionAttributes(t *testing.T) {
	def, err := os.ReadFile("../fixtures/extensions/acme.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	e := newSCIMEnv(t, sbscim.Config{Strict: true, Extensions: []json.RawMessage{def}}, "")
	rec := `{"schemas":["` + schemas.CoreUserURN + `","` + acmeURN + `"],"userName":"a","` + acmeURN + `":{"badge":1,"pin":"0000"}}`
	dec, _ := transform.DecoderFor(core.FormatSCIM)
	want := []core.Outcome{core.Created, core.Unchanged}
	for run, w := range want {
		u, err := dec.Decode([]byte(rec))
		if err != nil {
			t.Fatal(err)
		}
		sink := e.sink(t, true, 1) // a new sink each run, as a new process would have
		res, err := sink.Write(context.Background(), []core.Item{{Ref: "line 1", User: u, Data: []byte(rec)}})
		if err != nil {
			t.Fatal(err)
		}
		if res[0].Outcome != w {
			t.Errorf("run %d: %v (%s), want %v", run+1, res[0].Outcome, res[0].Reason, w)
		}
	}
}
