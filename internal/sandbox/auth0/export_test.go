package auth0

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/csv"
	"io"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/encoding/json"
)

type jobView struct {
	ID        string `json:"id"`
	Type      string `json:"type"`
	Status    string `json:"status"`
	Pct       *int   `json:"percentage_done"`
	Location  string `json:"location"`
	Format    string `json:"format"`
	ConnID    string `json:"connection_id"`
	CreatedAt string `json:"created_at"`
}

func (tn *tenant) job(id string) (jobView, resp) {
	r := tn.get("/api/v2/jobs/" + id)
	var j jobView
	if r.status == 200 {
		r.json(tn.t, &j)
	}
	return j, r
}

func gunzipLines(t *testing.T, b []byte) [][]byte {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("not gzip: %v", err)
	}
	plain, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	var lines [][]byte
	sc := bufio.NewScanner(bytes.NewReader(plain))
	sc.Buffer(nil, 1<<24)
	for sc.Scan() {
		lines = append(lines, append([]byte(nil), sc.Bytes()...))
	}
	return lines
}

func TestExportJobLifecycle(t *testing.T) {
	const n = 400
	tn := newTenant(t, Config{Users: n, Seed: 5, Nasty: 0.3, ExportDelay: 4 * time.Second})
	r := tn.postJSON("/api/v2/jobs/users-exports", map[string]any{"format": "json"})
	if r.status != http.StatusCreated {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	var created jobView
	r.json(t, &created)
	if created.Type != "users_export" || created.Status != "pending" || !strings.HasPrefix(created.ID, "job_") || created.Format != "json" {
		t.Fatalf("created job %s", r.body)
	}
	// Progress follows the clock.
	steps := []struct {
		advance time.Duration
		status  string
		pct     int
	}{
		{500 * time.Millisecond, "pending", -1},
		{1500 * time.Millisecond, "processing", 50},
		{time.Second, "processing", 75},
		{time.Second, "completed", -1},
	}
	var j jobView
	for _, s := range steps {
		tn.clock.Advance(s.advance)
		j, _ = tn.job(created.ID)
		if j.Status != s.status || (s.pct >= 0 && (j.Pct == nil || *j.Pct != s.pct)) {
			t.Fatalf("after %v: status %s pct %v, want %s %d", s.advance, j.Status, j.Pct, s.status, s.pct)
		}
		if s.status != "completed" && j.Location != "" {
			t.Fatal("location before completion")
		}
	}
	if !strings.HasPrefix(j.Location, tn.ts.URL+"/") {
		t.Fatalf("location %q not on the sandbox", j.Location)
	}
	// The content is the store, as gzipped NDJSON, minus fields outside the default set.
	dl := tn.get(j.Location)
	if dl.status != 200 {
		t.Fatalf("download: %d %s", dl.status, dl.body)
	}
	lines := gunzipLines(t, dl.body)
	if len(lines) != n {
		t.Fatalf("%d lines, want %d", len(lines), n)
	}
	byID := map[string]map[string]any{}
	for _, l := range lines {
		var m map[string]any
		if err := json.Unmarshal(l, &m); err != nil {
			t.Fatalf("line %s: %v", l, err)
		}
		byID[m["user_id"].(string)] = m
	}
	for _, raw := range tn.srv.Users() {
		var want map[string]any
		json.Unmarshal(raw, &want)
		delete(want, "multifactor") // not in the default field set
		if got := byID[want["user_id"].(string)]; !reflect.DeepEqual(got, want) {
			t.Fatalf("export of %s differs:\n got %v\nwant %v", want["user_id"], got, want)
		}
	}
	// The URL expires after 60 s; the job hands out a fresh one.
	tn.clock.Advance(61 * time.Second)
	if r := tn.get(j.Location); r.status != 403 || !bytes.Contains(r.body, []byte("Request has expired")) {
		t.Fatalf("expired URL: %d %s", r.status, r.body)
	}
	j2, _ := tn.job(created.ID)
	if j2.Location == j.Location || tn.get(j2.Location).status != 200 {
		t.Fatal("re-requested location is not fresh")
	}
	// A forged signature is refused.
	if r := tn.get(strings.Replace(j2.Location, "Signature=", "Signature=x", 1)); r.status != 403 {
		t.Fatalf("forged signature: %d", r.status)
	}
	// After 24 h the job is gone.
	tn.clock.Advance(24 * time.Hour)
	tn.token = tn.srv.Token() // the first one expired meanwhile
	if _, r := tn.job(created.ID); r.status != 404 || r.apiErr(t).ErrorCode != "inexistent_job" {
		t.Fatalf("job after 24h: %d %s", r.status, r.body)
	}
}

func TestExportFieldsConnectionLimitCSV(t *testing.T) {
	tn := newTenant(t, Config{Users: 300, Seed: 6, ExportDelay: time.Second})
	db := tn.srv.ConnectionID("Username-Password-Authentication")
	run := func(body map[string]any) []byte {
		t.Helper()
		r := tn.postJSON("/api/v2/jobs/users-exports", body)
		if r.status != 201 {
			t.Fatalf("create: %d %s", r.status, r.body)
		}
		var j jobView
		r.json(t, &j)
		tn.clock.Advance(time.Second)
		j, _ = tn.job(j.ID)
		return tn.get(j.Location).body
	}
	lines := gunzipLines(t, run(map[string]any{
		"connection_id": db, "format": "json", "limit": 20,
		"fields": []map[string]string{{"name": "user_id"}, {"name": "identities[0].connection", "export_as": "conn"}, {"name": "user_metadata.preferences.theme", "export_as": "theme"}, {"name": "password_hash"}},
	}))
	if len(lines) != 20 {
		t.Fatalf("limit: %d lines", len(lines))
	}
	for _, l := range lines {
		var m map[string]any
		json.Unmarshal(l, &m)
		if m["conn"] != "Username-Password-Authentication" || m["user_id"] == nil || m["password_hash"] != nil {
			t.Fatalf("line %s", l)
		}
		for k := range m {
			if k != "user_id" && k != "conn" && k != "theme" {
				t.Fatalf("unexpected field %s in %s", k, l)
			}
		}
	}
	zr, _ := gzip.NewReader(bytes.NewReader(run(map[string]any{"format": "csv", "fields": []map[string]string{{"name": "user_id"}, {"name": "email", "export_as": "mail"}}})))
	rows, err := csv.NewReader(zr).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 301 || rows[0][0] != "user_id" || rows[0][1] != "mail" || !strings.Contains(rows[1][1], "@") {
		t.Fatalf("csv: %d rows, header %v, first %v", len(rows), rows[0], rows[1])
	}
	for _, bad := range []map[string]any{
		{"format": "xml"},
		{"limit": 0},
		{"format": "csv", "fields": []map[string]string{{"name": "app_metadata"}}},
		{"fields": []map[string]string{{"export_as": "x"}}},
		{"connection_id": "con_nope"}, // not ^con_[A-Za-z0-9]{16}$
	} {
		if r := tn.postJSON("/api/v2/jobs/users-exports", bad); r.status != 400 {
			t.Errorf("%v: %d %s", bad, r.status, r.body)
		}
	}
	if r := tn.postJSON("/api/v2/jobs/users-exports", map[string]any{"connection_id": "con_0000000000000000"}); r.status != 404 {
		t.Errorf("unknown connection: %d", r.status)
	}
}
