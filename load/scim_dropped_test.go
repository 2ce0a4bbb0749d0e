package load

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/segmentio/encoding/json"

	"github.com/ferry-dev/ferry/internal/core"
	"github.com/ferry-dev/ferry/internal/pipeline"
	sbscim "github.com/ferry-dev/ferry/internal/sandbox/scim"
	"github.com/ferry-dev/ferry/transform"
)

// TestSCIMDroppedAttributesInChangeLog: a provider that accepts users and does not keep one
// of their attributes (it answers each write without it) loses nothing unrecorded: every
// written user's value is in the change log, under the rule target-dropped, and the summary
// counts those changes. A provider that keeps everything gets no such change.
func TestSCIMDroppedAttributesInChangeLog(t *testing.T) {
	for _, drops := range []bool{false, true} {
		t.Run(map[bool]string{false: "keeps everything", true: "drops locale"}[drops], func(t *testing.T) {
			e := newSCIMEnv(t, sbscim.Config{}, "")
			srv := e.srv.Handler()
			e2 := newSCIMEnvHandler(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if strings.HasSuffix(r.URL.Path, "/Bulk") {
					http.Error(w, "no bulk here", http.StatusNotImplemented) // one POST per user, each answered
					return
				}
				if drops && r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/Users") {
					var u map[string]any
					b, _ := io.ReadAll(r.Body)
					if json.Unmarshal(b, &u) == nil {
						delete(u, "locale")
						b, _ = json.Marshal(u)
					}
					r.Body, r.ContentLength = io.NopCloser(bytes.NewReader(b)), int64(len(b))
				}
				srv.ServeHTTP(w, r)
			}))
			sink := e2.sink(t, false, 2)
			recs := scimUsers(20)
			withLocale := 0
			for _, r := range recs {
				if bytes.Contains(r, []byte(`"locale":`)) {
					withLocale++
				}
			}
			if withLocale == 0 {
				t.Fatal("no generated user has a locale: the test proves nothing")
			}
			dec, _ := transform.DecoderFor(core.FormatSCIM)
			enc, _ := transform.EncoderFor(core.FormatSCIM)
			var changes bytes.Buffer
			s, err := pipeline.Run(context.Background(), pipeline.Config{
				Source: &sliceSource{format: core.FormatSCIM, recs: recs}, Sink: sink,
				Work: &transform.Work{Decoder: dec, Encoder: enc}, Concurrency: 2, Workers: 2, Changes: pipeline.NewLog(&changes),
			})
			if err != nil || s.Written != 20 {
				t.Fatalf("run: %v %+v", err, s)
			}
			var dropped int
			for _, line := range strings.Split(strings.TrimSpace(changes.String()), "\n") {
				var c core.Change
				if line == "" || json.Unmarshal([]byte(line), &c) != nil || c.Rule != transform.RuleTargetDropped {
					continue
				}
				dropped++
				if c.Path != "locale" || len(c.Before) < 3 || c.User == "" {
					t.Errorf("change %s: want the user's locale value under path locale", line)
				}
			}
			want := 0
			if drops {
				want = withLocale
			}
			if dropped != want || s.Changes != int64(want) {
				t.Fatalf("%d target-dropped changes (summary %d), want %d:\n%s", dropped, s.Changes, want, changes.String())
			}
		})
	}
}
