package pipeline

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"testing"

	"github.com/ferry-dev/ferry/internal/core"
	"github.com/ferry-dev/ferry/internal/jsonstream"
	"github.com/ferry-dev/ferry/schemas"
	"github.com/ferry-dev/ferry/transform"
)

// rawSource yields the given records, whatever they hold.
type rawSource struct {
	format string
	recs   []string
}

func (s *rawSource) Name() string   { return "raw" }
func (s *rawSource) Format() string { return s.format }
func (s *rawSource) Users(ctx context.Context, emit func(core.Record) error) error {
	for i, r := range s.recs {
		if err := emit(core.Record{Data: []byte(r), Ref: "line " + strconv.Itoa(i+1)}); err != nil {
			return err
		}
	}
	return nil
}

// TestRejectsAsDecoderWordsThem: the pipeline checks each record once (jsonstream.Check) and
// lets a CheckedDecoder skip its own checks; a record refused is rejected exactly as the
// decoder alone would reject it (or as too deep, at the read stage, as before Check).
func TestRejectsAsDecoderWordsThem(t *testing.T) {
	deep := strings.Repeat("[", jsonstream.MaxDepth+1) + strings.Repeat("]", jsonstream.MaxDepth+1)
	recs := []string{
		`{"user_id":"auth0|1","email":"ok@example.com","userName":"ok"}`,
		`{"user_id":`,
		`{"user_id":"x"} trailing`,
		"{\"user_id\":\"\xff\"}",
		"{\"user_id\":\"\xed\xa0\x80\"}",
		`{"user_id":"x",}`,
		"\xef\xbb\xbf{}",
		`[1,2]`,
		`{"a":` + deep + `}`,
		`{"a":x,"b":` + deep + `}`,            // malformed before it is too deep: still too deep
		"{\"a\":\"\xff\",\"b\":" + deep + `}`, // invalid UTF-8, then too deep
		`{"a":` + deep[:jsonstream.MaxDepth-1] + deep[len(deep)-jsonstream.MaxDepth+1:] + `}`, // at the limit
	}
	for _, format := range []string{core.FormatAuth0, core.FormatSCIM} {
		t.Run(format, func(t *testing.T) {
			dec, err := transform.DecoderFor(format)
			if err != nil {
				t.Fatal(err)
			}
			enc, _ := transform.EncoderFor(core.FormatSCIM)
			var rej strings.Builder
			cfg := Config{Source: &rawSource{format: format, recs: recs}, Sink: &memSink{}, Work: &transform.Work{Decoder: dec, Encoder: enc}, Rejects: NewLog(&rej)}
			if _, err := Run(context.Background(), cfg); err != nil {
				t.Fatal(err)
			}
			got := map[string]rejectLine{}
			for _, l := range strings.Split(strings.TrimSpace(rej.String()), "\n") {
				var r rejectLine
				if err := json.Unmarshal([]byte(l), &r); err != nil {
					t.Fatalf("%s: %v", l, err)
				}
				got[r.Ref] = r
			}
			for i, rec := range recs {
				ref := "line " + strconv.Itoa(i+1)
				var stage, reason string
				if jsonstream.TooDeep([]byte(rec), jsonstream.MaxDepth) {
					stage, reason = "read", ref+": "+transform.ErrTooDeep.Error()
				} else if _, err := dec.Decode([]byte(rec)); err != nil {
					stage, reason = "decode", err.Error()
				}
				r, ok := got[ref]
				if stage == "" {
					if ok && (r.Stage == "read" || r.Stage == "decode") {
						t.Errorf("%s: rejected at %s (%s); the decoder accepts it", ref, r.Stage, r.Reason)
					}
					continue
				}
				if !ok || r.Stage != stage || r.Reason != reason {
					t.Errorf("%s: rejected %v at %q: %q; want %q: %q", ref, ok, r.Stage, r.Reason, stage, reason)
				}
			}
		})
	}
}

// TestCheckRefusalWinsOverALenientDecoder: a decoder that accepts what jsonstream.Check
// refuses (segmentio's Parse stops after the first value, so "{...} 0" once passed as the
// user alone) does not get the record through.
func TestCheckRefusalWinsOverALenientDecoder(t *testing.T) {
	lenient := transform.DecoderFunc(func(raw []byte) (*schemas.User, error) {
		return &schemas.User{Schemas: []string{schemas.CoreUserURN}, UserName: "someone"}, nil
	})
	enc, _ := transform.EncoderFor(core.FormatSCIM)
	var rej strings.Builder
	sink := &memSink{}
	recs := []string{`{"userName":"a"} 0`, `{"userName":`, "{\"userName\":\"\xff\"}"}
	cfg := Config{Source: &rawSource{format: core.FormatSCIM, recs: recs}, Sink: sink, Work: &transform.Work{Decoder: lenient, Encoder: enc}, Rejects: NewLog(&rej)}
	s, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if s.Rejected != int64(len(recs)) || len(sink.got) != 0 {
		t.Fatalf("%d rejected, %d written; want every record rejected:\n%s", s.Rejected, len(sink.got), rej.String())
	}
	if n := strings.Count(rej.String(), `"stage":"decode","reason":"(record): not valid JSON: `); n != len(recs) {
		t.Errorf("%d of %d rejects name the check's finding:\n%s", n, len(recs), rej.String())
	}
}
