package main

import (
	"bytes"
	"context"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ferry-dev/ferry/internal/backup"
	"github.com/ferry-dev/ferry/internal/checkpoint"
	"github.com/ferry-dev/ferry/internal/endpoint"
	"github.com/segmentio/encoding/json"
)

var update = flag.Bool("update", false, "rewrite golden files")

// ferry runs the CLI in-process and returns its exit status, stdout and stderr.
func ferry(t *testing.T, getenv func(string) string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	if getenv == nil {
		getenv = func(string) string { return "" }
	}
	code := dispatch(context.Background(), &env{stdout: &out, stderr: &errb, getenv: getenv}, args)
	return code, out.String(), errb.String()
}

func TestHelpOnEveryCommand(t *testing.T) {
	for name := range commands {
		t.Run(name, func(t *testing.T) {
			code, out, _ := ferry(t, nil, name, "--help")
			if code != exitOK {
				t.Errorf("exit %d", code)
			}
			if !strings.Contains(out, "Usage: ferry "+name) || !strings.Contains(out, "Examples:") {
				t.Errorf("help on stdout lacks usage or examples:\n%s", out)
			}
		})
	}
}

func TestUsageErrors(t *testing.T) {
	tests := [][]string{
		{},
		{"nonsense"},
		{"migrate"},
		{"migrate", "--from", "x.ndjson"},
		{"migrate", "--from", "does-not-exist.ndjson", "--to", "-"},
		{"migrate", "--from", "ftp://x", "--to", "-"},
		{"migrate", "--from", "../../fixtures/spine/mixed.ndjson", "--to", "-", "--from-format", "klingon"},
		{"migrate", "--from", "auth0://user:pw@tenant", "--to", "-"},
		{"verify"},
		{"gen", "--provider", "okta"},
	}
	for _, args := range tests {
		code, _, errs := ferry(t, nil, args...)
		if code != exitUsage {
			t.Errorf("ferry %v: exit %d, want %d (stderr %q)", args, code, exitUsage, errs)
		}
		if strings.Contains(errs, "pw@") {
			t.Errorf("ferry %v: credentials echoed: %q", args, errs)
		}
	}
}

// TestMixedInput runs a file with good users, bad JSON, wrong types, invalid UTF-8, a
// userName repeated in other case (kept: a backup is no SCIM server) and a password hash
// through migrate and checks the summary, the rejects file (golden) and the backup.
func TestMixedInput(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "out.ndjson.gz")
	rej := filepath.Join(dir, "rejects.ndjson")
	code, stdout, stderr := ferry(t, nil, "migrate", "--from", "../../fixtures/spine/mixed.ndjson", "--to", out, "--rejects", rej, "--json", "--no-progress")
	if code != exitRejected {
		t.Fatalf("exit %d, want %d; stderr %s", code, exitRejected, stderr)
	}
	var sum map[string]any
	if err := json.Unmarshal([]byte(stdout), &sum); err != nil {
		t.Fatalf("stdout is not one JSON object: %q", stdout)
	}
	for _, k := range []string{"read", "written", "rejected", "skipped", "changes", "seconds"} {
		if _, ok := sum[k]; !ok {
			t.Errorf("summary lacks %q: %s", k, stdout)
		}
	}
	if sum["read"].(float64) != sum["written"].(float64)+sum["rejected"].(float64)+sum["skipped"].(float64) {
		t.Errorf("counts do not add up: %s", stdout)
	}
	got, err := os.ReadFile(rej)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(got, []byte("$2b$10$secret")) {
		t.Error("password hash in the rejects file")
	}
	golden(t, "../../fixtures/spine/mixed.rejects.golden", got)
	rep, err := backup.Verify(out)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Users != int64(sum["written"].(float64)) {
		t.Errorf("backup holds %d users, summary says %v written", rep.Users, sum["written"])
	}
	if st, _ := os.Stat(rej); st.Mode().Perm() != 0o600 {
		t.Errorf("rejects file mode %v", st.Mode().Perm())
	}
}

// TestBackupKeepsUsersSharingAnEmail: Auth0 allows one e-mail in several connections, and
// both users map to the same SCIM userName. A backup is a copy of the tenant, so it holds
// both, in either format.
func TestBackupKeepsUsersSharingAnEmail(t *testing.T) {
	for _, format := range []string{"scim", "auth0"} {
		t.Run(format, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "backup.ndjson")
			code, stdout, stderr := ferry(t, nil, "migrate", "--from", "../../fixtures/spine/auth0-same-email.ndjson",
				"--from-format", "auth0", "--to", out, "--to-format", format, "--json", "--no-progress")
			if code != 0 {
				t.Fatalf("exit %d; stdout %s; stderr %s", code, stdout, stderr)
			}
			rep, err := backup.Verify(out)
			if err != nil {
				t.Fatal(err)
			}
			if rep.Users != 2 {
				t.Errorf("backup holds %d users, want both", rep.Users)
			}
		})
	}
}

func golden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs:\n got: %s\nwant: %s", path, got, want)
	}
}

func TestVerifyCommand(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "b.ndjson")
	if code, _, errs := ferry(t, nil, "gen", "--provider", "scim", "--users", "50", "--out", filepath.Join(dir, "in.ndjson")); code != 0 {
		t.Fatal(errs)
	}
	if code, _, errs := ferry(t, nil, "migrate", "--from", filepath.Join(dir, "in.ndjson"), "--to", out, "--no-progress"); code != 0 {
		t.Fatalf("migrate exit %d: %s", code, errs)
	}
	code, stdout, _ := ferry(t, nil, "verify", out, "--json")
	if code != exitOK || !strings.Contains(stdout, `"ok":true`) || !strings.Contains(stdout, `"users":50`) {
		t.Fatalf("verify exit %d: %s", code, stdout)
	}
	f, _ := os.OpenFile(out, os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString(`{"userName":"intruder"}` + "\n")
	f.Close()
	if code, _, errs := ferry(t, nil, "verify", out); code != exitAborted || !strings.Contains(errs, "checksum mismatch") {
		t.Errorf("verify of a tampered file: exit %d, %s", code, errs)
	}
}

func TestGenIsDeterministic(t *testing.T) {
	_, a, _ := ferry(t, nil, "gen", "--provider", "auth0", "--users", "20", "--seed", "7", "--nasty", "0.5")
	_, b, _ := ferry(t, nil, "gen", "--provider", "auth0", "--users", "20", "--seed", "7", "--nasty", "0.5")
	_, c, _ := ferry(t, nil, "gen", "--provider", "auth0", "--users", "20", "--seed", "8", "--nasty", "0.5")
	if a != b || a == c || strings.Count(a, "\n") != 20 {
		t.Errorf("gen: same seed equal=%v, other seed differs=%v, lines=%d", a == b, a != c, strings.Count(a, "\n"))
	}
}

func TestFiftyMegabyteLine(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "in.ndjson")
	good := `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"%s"}` + "\n"
	var b bytes.Buffer
	b.WriteString(strings.Replace(good, "%s", "first", 1))
	b.WriteString(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"huge","title":"` + strings.Repeat("x", 50<<20) + "\"}\n")
	b.WriteString(strings.Replace(good, "%s", "last", 1))
	os.WriteFile(in, b.Bytes(), 0o600)
	rej := filepath.Join(dir, "rej.ndjson")
	code, stdout, stderr := ferry(t, nil, "migrate", "--from", in, "--to", filepath.Join(dir, "out.ndjson"), "--rejects", rej, "--json", "--no-progress")
	if code != exitRejected || !strings.Contains(stdout, `"written":2`) || !strings.Contains(stdout, `"rejected":1`) {
		t.Fatalf("exit %d: %s %s", code, stdout, stderr)
	}
	r, _ := os.ReadFile(rej)
	if !strings.Contains(string(r), `"ref":"line 2","stage":"read","reason":"line 2: record too large: over 16777216 bytes"`) || len(r) > 64<<10 {
		t.Errorf("rejects (%d bytes): %.300s", len(r), r)
	}
}

func TestEncryptedBackupRoundTrip(t *testing.T) {
	dir := t.TempDir()
	id, idFile := ageKey(t, dir)
	withKey := func(k string) string {
		if k == backup.IdentityEnv {
			return idFile
		}
		return ""
	}
	in := filepath.Join(dir, "in.ndjson")
	ferry(t, nil, "gen", "--provider", "scim", "--users", "30", "--out", in)
	enc := filepath.Join(dir, "b.ndjson.gz.age")
	if code, _, errs := ferry(t, nil, "migrate", "--from", in, "--to", enc, "--encrypt-to", id.Recipient().String(), "--no-progress"); code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	raw, _ := os.ReadFile(enc)
	if !bytes.HasPrefix(raw, []byte("age-encryption.org/v1")) {
		t.Fatalf("backup is not an age file: %.40q", raw)
	}
	// Without the key: checksum only, and reading fails with a clear message.
	if code, out, _ := ferry(t, nil, "verify", "--json", enc); code != 0 || !strings.Contains(out, `"counted":false`) {
		t.Errorf("verify without key: exit %d %s", code, out)
	}
	if code, _, errs := ferry(t, nil, "migrate", "--from", enc, "--to", "-", "--no-progress"); code != exitAborted && code != exitUsage || !strings.Contains(errs, "FERRY_AGE_IDENTITY_FILE") {
		t.Errorf("reading without key: exit %d %s", code, errs)
	}
	if code, out, _ := ferry(t, withKey, "verify", "--json", enc); code != 0 || !strings.Contains(out, `"users":30`) || !strings.Contains(out, `"counted":true`) {
		t.Errorf("verify with key: exit %d %s", code, out)
	}
	code, out, errs := ferry(t, withKey, "migrate", "--from", enc, "--to", "-", "--no-progress")
	orig, _ := os.ReadFile(in)
	if code != 0 || out == "" || strings.Count(out, "\n") != 30 {
		t.Fatalf("restore: exit %d, %d lines: %s", code, strings.Count(out, "\n"), errs)
	}
	if strings.Count(string(orig), "userName") != strings.Count(out, "userName") {
		t.Error("restored users differ in number from the originals")
	}
}

// TestDemo runs the README's first command on a small tenant: every step must succeed and
// the backup must verify.
func TestDemo(t *testing.T) {
	dir := t.TempDir()
	code, out, errs := ferry(t, nil, "demo", "--users", "300", "--no-progress", "--dir", dir)
	if code != exitOK {
		t.Fatalf("demo exit %d\n%s\n%s", code, out, errs)
	}
	for _, want := range []string{"== plan", "== roles", "read 300: written 300", "OK: 300 users", "== done"} {
		if !strings.Contains(out, want) {
			t.Errorf("demo output lacks %q:\n%s", want, out)
		}
	}
	if _, err := backup.Verify(filepath.Join(dir, "auth0-backup.ndjson.gz")); err != nil {
		t.Error(err)
	}
}

// TestResumeAppendsToLogs resumes a run from a state file: the records before the cursor are
// not read again, the rejects written before the crash are kept, and the summary is that
// of the whole migration (both runs), as one clean run would report it.
func TestResumeAppendsToLogs(t *testing.T) {
	dir := t.TempDir()
	sb, getenv := emptySCIM(t)
	in := filepath.Join(dir, "in.ndjson")
	user := `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"%s"}` + "\n"
	os.WriteFile(in, []byte("garbage before the cursor\n"+strings.Replace(user, "%s", "first", 1)+
		"garbage after the cursor\n"+strings.Replace(user, "%s", "last", 1)), 0o600)
	state := filepath.Join(dir, "state.json")
	if err := checkpoint.Save(state, &checkpoint.State{From: in, To: endpoint.Redact(sb.Endpoint), Cursor: "n=2", Read: 2, Written: 1, Rejected: 1}); err != nil {
		t.Fatal(err)
	}
	rej := filepath.Join(dir, "rejects.ndjson")
	os.WriteFile(rej, []byte(`{"ref":"line 1","stage":"decode","reason":"from the run that crashed"}`+"\n"), 0o600)
	code, out, errs := ferry(t, getenv, "migrate", "--from", in, "--to", sb.Endpoint, "--resume", state, "--rejects", rej, "--json", "--no-progress")
	if code != exitRejected || !strings.Contains(out, `"read":4`) || !strings.Contains(out, `"written":2`) || !strings.Contains(out, `"rejected":2`) {
		t.Fatalf("exit %d: %s %s", code, out, errs)
	}
	got, _ := os.ReadFile(rej)
	if !strings.Contains(string(got), "from the run that crashed") || !strings.Contains(string(got), `"ref":"line 3"`) || strings.Contains(string(got), `"ref":"line 1","stage":"decode","reason":"(record)`) {
		t.Errorf("rejects after resume:\n%s", got)
	}
	st, err := checkpoint.Load(state, in, endpoint.Redact(sb.Endpoint))
	if err != nil || !st.Done || st.Read != 4 || st.Written != 2 || st.Rejected != 2 {
		t.Errorf("state after resume: %+v, %v (want the counts of both runs, done)", st, err)
	}
}
