package auth0

import (
	"bytes"
	"fmt"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/encoding/json"
)

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestImportFileOver500KBRefused(t *testing.T) {
	tn := newTenant(t, Config{Seed: 1})
	var users []map[string]any
	for i := 0; i < 6000; i++ {
		users = append(users, map[string]any{"email": fmt.Sprintf("user%05d@example.com", i), "name": strings.Repeat("n", 60)})
	}
	file := mustJSON(t, users)
	if len(file) <= 500*1024 {
		t.Fatalf("test file only %d bytes", len(file))
	}
	r := tn.startImport(file, nil)
	if r.status != http.StatusRequestEntityTooLarge {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	if e := r.apiErr(t); !strings.Contains(e.Message, "512000") {
		t.Fatalf("message %q", e.Message)
	}
	// Exactly at the limit is accepted.
	small := mustJSON(t, users[:10])
	padded := append(small[:len(small)-1], bytes.Repeat([]byte(" "), 500*1024-len(small))...)
	padded = append(padded, ']')
	if len(padded) != 500*1024 {
		t.Fatalf("padded to %d", len(padded))
	}
	if r := tn.startImport(padded, nil); r.status != http.StatusAccepted {
		t.Fatalf("500 KB file refused: %d %s", r.status, r.body)
	}
}

func TestThirdConcurrentImportGets429(t *testing.T) {
	tn := newTenant(t, Config{Seed: 1, ImportDelay: 10 * time.Second})
	file := func(i int) []byte { return mustJSON(t, []map[string]any{{"email": fmt.Sprintf("u%d@example.com", i)}}) }
	for i := 0; i < 2; i++ {
		if r := tn.startImport(file(i), nil); r.status != http.StatusAccepted {
			t.Fatalf("job %d: %d %s", i, r.status, r.body)
		}
		tn.clock.Advance(time.Second)
	}
	r := tn.startImport(file(2), nil)
	if r.status != http.StatusTooManyRequests {
		t.Fatalf("third job: %d %s", r.status, r.body)
	}
	if e := r.apiErr(t); e.ErrorCode != "too_many_requests" {
		t.Fatalf("error %+v", e)
	}
	// Once the first completes, a slot is free.
	tn.clock.Advance(9 * time.Second)
	if r := tn.startImport(file(3), nil); r.status != http.StatusAccepted {
		t.Fatalf("after completion: %d %s", r.status, r.body)
	}
}

func TestImportInsertDuplicateAndUpsertReplacesMetadata(t *testing.T) {
	tn := newTenant(t, Config{Seed: 1})
	first := []map[string]any{
		{"email": "Ann@Example.com", "user_id": "ann1", "given_name": "Ann", "password_hash": "$2b$10$abcdefghijklmnopqrstuuJ6gHc1pO9z1Yl2nm3P1rY4pS6h8GqW",
			"app_metadata": map[string]any{"plan": "pro", "roles": []string{"admin"}}, "user_metadata": map[string]any{"theme": "dark", "lang": "fr"}},
		{"email": "bob@example.com"},
	}
	j := tn.runImport(mustJSON(t, first), nil)
	if sum := j["summary"].(map[string]any); sum["inserted"] != 2.0 || sum["failed"] != 0.0 || sum["total"] != 2.0 {
		t.Fatalf("summary %v", sum)
	}
	var ann map[string]any
	r := tn.get("/api/v2/users/auth0%7Cann1")
	if r.status != 200 {
		t.Fatalf("imported user: %d %s", r.status, r.body)
	}
	r.json(t, &ann)
	if ann["email"] != "Ann@Example.com" || ann["email_verified"] != false || ann["created_at"] == nil {
		t.Fatalf("imported profile %v", ann)
	}
	if bytes.Contains(r.body, []byte("$2b$")) || !tn.srv.HasSecret("auth0|ann1") {
		t.Fatal("password hash served, or not kept")
	}
	if e := tn.get("/api/v2/jobs/" + j["id"].(string) + "/errors"); e.status != http.StatusNoContent {
		t.Fatalf("errors of a clean job: %d %s", e.status, e.body)
	}

	// Same emails again without upsert: duplicates.
	j = tn.runImport(mustJSON(t, []map[string]any{{"email": "ann@example.com"}, {"email": "carl@example.com"}}), nil)
	if sum := j["summary"].(map[string]any); sum["inserted"] != 1.0 || sum["failed"] != 1.0 {
		t.Fatalf("summary %v", sum)
	}
	var errs []jobUserErrors
	tn.get("/api/v2/jobs/"+j["id"].(string)+"/errors").json(t, &errs)
	if len(errs) != 1 || errs[0].Errors[0].Code != "DUPLICATED_USER" || !bytes.Contains(errs[0].User, []byte("ann@example.com")) {
		t.Fatalf("errors %+v", errs)
	}

	// Upsert matches by email and replaces metadata whole.
	j = tn.runImport(mustJSON(t, []map[string]any{{"email": "ann@example.com", "app_metadata": map[string]any{"plan": "free"}, "user_metadata": map[string]any{"tz": "UTC"}}}),
		map[string]string{"upsert": "true"})
	if sum := j["summary"].(map[string]any); sum["updated"] != 1.0 || sum["inserted"] != 0.0 {
		t.Fatalf("summary %v", sum)
	}
	tn.get("/api/v2/users/auth0%7Cann1").json(t, &ann)
	if !reflect.DeepEqual(ann["app_metadata"], map[string]any{"plan": "free"}) || !reflect.DeepEqual(ann["user_metadata"], map[string]any{"tz": "UTC"}) {
		t.Fatalf("metadata not replaced: %v %v", ann["app_metadata"], ann["user_metadata"])
	}
	if ann["given_name"] != "Ann" || ann["user_id"] != "auth0|ann1" || !tn.srv.HasSecret("auth0|ann1") {
		t.Fatalf("upsert lost untouched fields: %v", ann)
	}
	if tn.srv.Count() != 3 {
		t.Fatalf("count %d", tn.srv.Count())
	}
	// The import never reaches an export either.
	r = tn.postJSON("/api/v2/jobs/users-exports", map[string]any{"fields": []map[string]string{{"name": "user_id"}, {"name": "password_hash"}, {"name": "custom_password_hash"}}})
	var ej jobView
	r.json(t, &ej)
	tn.clock.Advance(tn.srv.cfg.ExportDelay)
	ej, _ = tn.job(ej.ID)
	for _, l := range gunzipLines(t, tn.get(ej.Location).body) {
		if bytes.Contains(l, []byte("password")) || bytes.Contains(l, []byte("$2b$")) {
			t.Fatalf("export leaks a secret: %s", l)
		}
	}
}

func TestImportErrorCodes(t *testing.T) {
	tn := newTenant(t, Config{Seed: 1})
	items := []struct {
		user     string
		code     string
		path     string
		contains string
	}{
		{`{"name":"no email"}`, "OBJECT_MISSING_REQUIRED_PROPERTY", "", "Missing required property: email"},
		{`{"email":"a@example.com","shoe_size":42}`, "OBJECT_ADDITIONAL_PROPERTIES", "", "shoe_size"},
		{`{"email":"b@example.com","email_verified":"true"}`, "INVALID_TYPE", "email_verified", "Expected type boolean but found type string"},
		{`{"email":"c@"}`, "INVALID_FORMAT", "email", "format email"},
		{`{"email":"d@example.com","mfa_factors":[{"totp":{"secret":"lowercase"}}]}`, "PATTERN", "mfa_factors[0].totp.secret", "pattern"},
		{`{"email":"e@example.com","mfa_factors":[]}`, "ARRAY_LENGTH_SHORT", "mfa_factors", "too short"},
		{`{"email":"f@example.com","custom_password_hash":{"algorithm":"rot13","hash":{"value":"x"}}}`, "ENUM_MISMATCH", "custom_password_hash.algorithm", "rot13"},
		{`{"email":"g@example.com","mfa_factors":[{"totp":{"secret":"ABC"},"phone":{"value":"+1"}}]}`, "OBJECT_PROPERTIES_MAXIMUM", "mfa_factors[0]", "maximum 1"},
		{`{"email":"h@example.com","app_metadata":[]}`, "INVALID_TYPE", "app_metadata", "Expected type object but found type array"},
		{`"just a string"`, "INVALID_TYPE", "", "Expected type object"},
		{`{"email":"i@example.com","user_id":"dup"}`, "", "", ""},
		{`{"email":"j@example.com","user_id":"dup"}`, "DUPLICATED_USER", "user_id", "already provided"},
		{`{"email":"I@example.com"}`, "DUPLICATED_USER", "email", "already provided"},
		{`{"email":"k@example.com","username":"kay"}`, "", "", ""},
		{`{"email":"l@example.com","password_hash":"x","custom_password_hash":{"algorithm":"md5","hash":{"value":"x"}}}`, "CONFLICT", "custom_password_hash", "mutually exclusive"},
	}
	var file []string
	for _, it := range items {
		file = append(file, it.user)
	}
	j := tn.runImport([]byte("["+strings.Join(file, ",")+"]"), nil)
	sum := j["summary"].(map[string]any)
	if sum["total"] != float64(len(items)) || sum["inserted"] != 2.0 || sum["failed"] != float64(len(items)-2) {
		t.Fatalf("summary %v", sum)
	}
	var errs []jobUserErrors
	r := tn.get("/api/v2/jobs/" + j["id"].(string) + "/errors")
	if r.status != 200 {
		t.Fatalf("errors: %d %s", r.status, r.body)
	}
	r.json(t, &errs)
	k := 0
	for _, it := range items {
		if it.code == "" {
			continue
		}
		if k >= len(errs) {
			t.Fatalf("missing error for %s", it.user)
		}
		e := errs[k]
		k++
		if string(e.User) != it.user {
			t.Fatalf("error %d is for %s, want %s", k, e.User, it.user)
		}
		if !slices.ContainsFunc(e.Errors, func(x jobErrorItem) bool {
			return x.Code == it.code && x.Path == it.path && strings.Contains(x.Message, it.contains)
		}) {
			t.Errorf("%s: errors %+v, want %s at %q containing %q", it.user, e.Errors, it.code, it.path, it.contains)
		}
	}
	// Kept 24 h.
	tn.clock.Advance(24*time.Hour + time.Second)
	tn.token = tn.srv.Token()
	if r := tn.get("/api/v2/jobs/" + j["id"].(string) + "/errors"); r.status != 404 {
		t.Fatalf("errors after 24h: %d", r.status)
	}
}

func TestImportRequestValidation(t *testing.T) {
	tn := newTenant(t, Config{Seed: 1})
	ok := []byte(`[{"email":"a@example.com"}]`)
	cases := []struct {
		name   string
		file   []byte
		fields map[string]string
		status int
	}{
		{"social connection", ok, map[string]string{"connection_id": tn.srv.ConnectionID("google-oauth2")}, 400},
		{"unknown connection", ok, map[string]string{"connection_id": "con_0000000000000000"}, 404},
		{"no connection", ok, map[string]string{"connection_id": ""}, 400},
		{"not an array", []byte(`{"email":"a@example.com"}`), nil, 400},
		{"not JSON", []byte(`[{"email":`), nil, 400},
		{"bad upsert", ok, map[string]string{"upsert": "maybe"}, 400},
		{"fine", ok, map[string]string{"upsert": "false", "send_completion_email": "false", "external_id": "run-1"}, 202},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := tn.startImport(c.file, c.fields)
			if r.status != c.status {
				t.Fatalf("status %d, want %d: %s", r.status, c.status, r.body)
			}
			if c.status != 202 {
				r.apiErr(t)
				return
			}
			var j map[string]any
			r.json(t, &j)
			if j["type"] != "users_import" || j["status"] != "pending" || j["external_id"] != "run-1" || j["connection"] != "Username-Password-Authentication" {
				t.Fatalf("job %v", j)
			}
		})
	}
	if r := tn.do(http.MethodPost, "/api/v2/jobs/users-imports", strings.NewReader("{}"), "application/json"); r.status != 400 {
		t.Fatalf("JSON body: %d", r.status)
	}
}

func TestImportUsernameConflict(t *testing.T) {
	tn := newTenant(t, Config{Seed: 1})
	tn.runImport([]byte(`[{"email":"a@example.com","username":"alice"}]`), nil)
	// Upserting the owner with its own username is fine.
	j := tn.runImport([]byte(`[{"email":"a@example.com","username":"alice","name":"A"}]`), map[string]string{"upsert": "true"})
	if sum := j["summary"].(map[string]any); sum["updated"] != 1.0 {
		t.Fatalf("summary %v", sum)
	}
	j = tn.runImport([]byte(`[{"email":"b@example.com","username":"alice"}]`), map[string]string{"upsert": "true"})
	if sum := j["summary"].(map[string]any); sum["failed"] != 1.0 {
		t.Fatalf("summary %v", sum)
	}
	var errs []jobUserErrors
	tn.get("/api/v2/jobs/"+j["id"].(string)+"/errors").json(t, &errs)
	if len(errs) != 1 || errs[0].Errors[0].Code != "CONFLICT_USERNAME" {
		t.Fatalf("errors %+v", errs)
	}
}
