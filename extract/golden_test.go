package extract

import (
	"bytes"
	"context"
	"flag"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/ferry-dev/ferry/internal/core"
	sb "github.com/ferry-dev/ferry/internal/sandbox/auth0"
	"github.com/ferry-dev/ferry/internal/sandbox/faults"
	"github.com/ferry-dev/ferry/transform"
	"github.com/segmentio/encoding/json"
)

var update = flag.Bool("update", false, "rewrite the golden files under fixtures/extract")

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("..", "fixtures", "extract", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file:\n got %s\nwant %s", name, got, want)
	}
}

func indent(t *testing.T, b []byte) []byte {
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	out, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return append(out, '\n')
}

// TestGoldenExportJob pins the export job ferry asks Auth0 for (format and fields), and the
// shape of the records the Auth0 source yields (the profile plus the "roles" member).
func TestGoldenExportJob(t *testing.T) {
	clk := newFakeClock()
	s, err := sb.New(sb.Config{Users: 1001, Seed: 1, Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	var body []byte
	srv := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && r.URL.Path == "/api/v2/jobs/users-exports" {
			body, _ = io.ReadAll(r.Body)
			r.Body = io.NopCloser(bytes.NewReader(body))
		}
		s.Handler().ServeHTTP(w, r)
	}), faults.Config{})
	e := &auth0Env{sb: s, srv: srv.URL, clock: clk, rec: &recorder{next: http.DefaultTransport, now: clk.Now}}
	recs, err := collect(context.Background(), e.source(t, "", nil))
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "auth0-export-job.json", indent(t, body))
	for _, r := range recs {
		if bytes.Contains(r.Data, []byte(`"roles":[`)) && bytes.Contains(r.Data, []byte(`"username"`)) {
			golden(t, "auth0-record.json", append(append([]byte(nil), r.Data...), '\n'))
			return
		}
	}
	t.Fatal("no user with roles and a username")
}

// TestRecordsDecode passes every record of each source through its format's decoder: the
// records are what the transform stage expects, roles included.
func TestRecordsDecode(t *testing.T) {
	ctx := context.Background()
	a := startAuth0(t, sb.Config{Users: 300, Seed: 12}, faults.Config{})
	p := startAppID(t, 300, faults.Config{}, nil)
	s := startSCIM(t, 300, faults.Config{}, false, nil)
	for _, src := range []core.Source{a.source(t, "", nil), p.source(t, "", nil), s.source(t)} {
		dec, err := transform.DecoderFor(src.Format())
		if err != nil {
			t.Fatal(err)
		}
		recs, err := collect(ctx, src)
		if err != nil {
			t.Fatal(err)
		}
		withRoles, failed := 0, 0
		for _, r := range recs {
			u, err := dec.Decode(r.Data)
			if err != nil {
				failed++ // nasty users may be refused by the mapping; never by the source
				continue
			}
			if len(u.Roles) > 0 {
				withRoles++
			}
		}
		t.Logf("%s: %d records, %d with roles, %d refused by the mapping", src.Name(), len(recs), withRoles, failed)
		if failed > len(recs)/10 {
			t.Errorf("%s: %d of %d records do not decode", src.Name(), failed, len(recs))
		}
		if src.Format() != core.FormatSCIM && withRoles == 0 {
			t.Errorf("%s: no user carries roles", src.Name())
		}
	}
}
