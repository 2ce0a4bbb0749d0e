package auth0

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/segmentio/encoding/json"
)

var update = flag.Bool("update", false, "rewrite the golden files under fixtures/sandbox/auth0")

const goldenDir = "../../../fixtures/sandbox/auth0"

// golden compares got with a file under fixtures/sandbox/auth0 (or rewrites it with
// -update). The files double as sample payloads for the extract and load tests.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join(goldenDir, name)
	if *update {
		if err := os.MkdirAll(goldenDir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s differs from the golden file; if the change is intended, run go test -update\n got: %.400s", name, got)
	}
}

func indent(t *testing.T, b []byte) []byte {
	t.Helper()
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	b2, err := marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	err = json.Indent(&out, b2, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return append(out.Bytes(), '\n')
}

var portRE = regexp.MustCompile(`http://127\.0\.0\.1:\d+/[^"]*`)

func TestGoldenPayloads(t *testing.T) {
	tn := newTenant(t, Config{Users: 40, Seed: 1, Nasty: 0.25})
	golden(t, "users_page.json", indent(t, tn.get("/api/v2/users"+q("per_page", "5", "include_totals", "true")).body))

	r := tn.postJSON("/api/v2/jobs/users-exports", map[string]any{"format": "json", "limit": 40})
	golden(t, "export_job_created.json", indent(t, r.body))
	var j jobView
	r.json(t, &j)
	tn.clock.Advance(tn.srv.cfg.ExportDelay)
	r = tn.get("/api/v2/jobs/" + j.ID)
	golden(t, "export_job_completed.json", portRE.ReplaceAll(indent(t, r.body), []byte("http://SANDBOX/LOCATION")))
	r.json(t, &j)
	golden(t, "export.ndjson", bytes.Join(gunzipLines(t, tn.get(j.Location).body), []byte("\n")))

	file := []byte(`[{"email":"new@example.com","user_id":"new1","given_name":"New","app_metadata":{"plan":"pro"}},` +
		`{"email":"bad@","email_verified":"true","shoe_size":42},` +
		`{"name":"no email"}]`)
	ij := tn.runImport(file, map[string]string{"external_id": "golden"})
	b, _ := json.Marshal(ij)
	golden(t, "import_job_completed.json", indent(t, b))
	golden(t, "import_job_errors.json", indent(t, tn.get("/api/v2/jobs/"+ij["id"].(string)+"/errors").body))
	golden(t, "imported_user.json", indent(t, tn.get("/api/v2/users/auth0%7Cnew1").body))

	tn.token = ""
	golden(t, "error_401.json", indent(t, tn.get("/api/v2/users").body))
	tn.token = tn.srv.Token()
	golden(t, "error_page_limit.json", indent(t, tn.get("/api/v2/users"+q("page", "10", "per_page", "100")).body))
}
