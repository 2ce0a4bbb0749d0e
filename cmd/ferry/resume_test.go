package main

import (
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ferry-dev/ferry/internal/checkpoint"
	"github.com/ferry-dev/ferry/internal/endpoint"
	"github.com/ferry-dev/ferry/internal/sandbox"
	"github.com/segmentio/encoding/json"
)

const scimUserLine = `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"%s","name":{"givenName":"%s"}}` + "\n"

func scimFile(t *testing.T, path string, given ...string) {
	t.Helper()
	var b strings.Builder
	for i, g := range given {
		fmt.Fprintf(&b, scimUserLine, fmt.Sprintf("user%d@example.com", i+1), g)
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
}

type jsonSummary struct {
	Read, Written, Created, Updated, Rejected, Skipped int64
	Status                                             int `json:"exit_status"`
}

func summaryOf(t *testing.T, out string) jsonSummary {
	t.Helper()
	var s jsonSummary
	if err := json.Unmarshal([]byte(strings.TrimSpace(out)), &s); err != nil {
		t.Fatalf("summary %q: %v", out, err)
	}
	return s
}

// TestResumeFromJournal: the journal's last commit is further than the state file's (the
// 2 s timer had not fired again), and the run that crashed had sent lines 4 and 5, and
// line 4 reached the target. The resumed run starts after the journal's cursor, counts
// line 4 as created (the target holds it as ferry writes it, and this migration sent it),
// and reports the whole migration: read 5, written 5, exit 0; then the journal is gone.
func TestResumeFromJournal(t *testing.T) {
	dir := t.TempDir()
	sb, getenv := emptySCIM(t)
	in := filepath.Join(dir, "in.ndjson")
	scimFile(t, in, "A", "B", "C", "D", "E")
	// Line 4 in the target, written as the crashed run would have.
	only4 := filepath.Join(dir, "only4.ndjson")
	os.WriteFile(only4, []byte(fmt.Sprintf(scimUserLine, "user4@example.com", "D")), 0o600)
	if code, out, errs := ferry(t, getenv, "migrate", "--from", only4, "--to", sb.Endpoint, "--no-progress"); code != 0 {
		t.Fatalf("seed: %d %s %s", code, out, errs)
	}
	state := filepath.Join(dir, "state.json")
	to := endpoint.Redact(sb.Endpoint)
	if err := checkpoint.Save(state, &checkpoint.State{From: in, To: to, Cursor: "n=1", Read: 1, Written: 1, Created: 1, Commits: 1}); err != nil {
		t.Fatal(err)
	}
	commit, _ := json.Marshal(&checkpoint.State{From: in, To: to, Cursor: "n=3", Read: 3, Written: 3, Created: 3, Commits: 4})
	journal := fmt.Sprintf("{\"run\":1}\n{\"commit\":%s,\"next\":3}\n{\"sent\":[[3,%d],[4,%d]]}\n",
		commit, checkpoint.Mark("line 4"), checkpoint.Mark("line 5"))
	if err := os.WriteFile(checkpoint.JournalPath(state), []byte(journal), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, errs := ferry(t, getenv, "migrate", "--from", in, "--to", sb.Endpoint, "--resume", state, "--json", "--no-progress")
	s := summaryOf(t, out)
	if code != 0 || s.Read != 5 || s.Written != 5 || s.Created != 5 || s.Rejected != 0 || s.Skipped != 0 {
		t.Fatalf("exit %d, summary %+v (%s); want read 5, written and created 5, exit 0", code, s, errs)
	}
	// From the journal's cursor, not the state file's: lines 2 and 3 were not read again.
	for name, want := range map[string]int{"user2@example.com": 0, "user3@example.com": 0, "user4@example.com": 1, "user5@example.com": 1} {
		if got := countUsers(t, sb, name); got != want {
			t.Errorf("target holds %s %d times, want %d", name, got, want)
		}
	}
	if _, err := os.Stat(checkpoint.JournalPath(state)); !os.IsNotExist(err) {
		t.Errorf("journal left after a finished migration: %v", err)
	}
	st, err := checkpoint.Load(state, in, to)
	if err != nil || !st.Done || st.Read != 5 || st.Written != 5 {
		t.Errorf("state %+v, %v", st, err)
	}
}

// TestRerunFinishedMigration: the same migration again, without --upsert, into the target
// it filled: every user is there as ferry writes it, so nothing is a conflict (skipped as
// unchanged, exit 0). A user changed in the source since is: rejected, naming the
// target's user and the attribute, and not overwritten.
func TestRerunFinishedMigration(t *testing.T) {
	dir := t.TempDir()
	sb, getenv := emptySCIM(t)
	in := filepath.Join(dir, "in.ndjson")
	scimFile(t, in, "A", "B", "C")
	state := filepath.Join(dir, "state.json")
	args := []string{"migrate", "--from", in, "--to", sb.Endpoint, "--resume", state, "--json", "--no-progress"}
	if code, out, _ := ferry(t, getenv, args...); code != 0 || summaryOf(t, out).Created != 3 {
		t.Fatalf("first run: %d %s", code, out)
	}
	code, out, errs := ferry(t, getenv, args...)
	if s := summaryOf(t, out); code != 0 || s.Read != 3 || s.Skipped != 3 || s.Rejected != 0 {
		t.Fatalf("re-run: exit %d, %+v %s; want 3 unchanged, exit 0", code, s, errs)
	}
	scimFile(t, in, "A", "Changed", "C")
	rej := filepath.Join(dir, "rejects.ndjson")
	code, out, _ = ferry(t, getenv, append(args, "--rejects", rej)...)
	if s := summaryOf(t, out); code != exitRejected || s.Skipped != 2 || s.Rejected != 1 {
		t.Fatalf("re-run with a changed user: exit %d, %+v; want 2 unchanged, 1 rejected, exit 1", code, s)
	}
	b, _ := os.ReadFile(rej)
	if !strings.Contains(string(b), `"ref":"line 2"`) || !strings.Contains(string(b), "holds other data (name)") || !strings.Contains(string(b), "not overwritten without --upsert") {
		t.Errorf("rejects: %s", b)
	}
}

// countUsers asks the SCIM sandbox how many users have userName name.
func countUsers(t *testing.T, sb *sandbox.Running, name string) int {
	t.Helper()
	base := strings.TrimPrefix(sb.Endpoint, "scim+")
	req, _ := http.NewRequest("GET", base+"/Users?filter="+url.QueryEscape(`userName eq "`+name+`"`), nil)
	req.Header.Set("Authorization", "Bearer "+sb.Env["SCIM_TOKEN"])
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var list struct {
		TotalResults int `json:"totalResults"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&list); err != nil {
		t.Fatal(err)
	}
	return list.TotalResults
}

// emptySCIM starts an empty SCIM sandbox for the test and returns it with the
// environment that reaches it.
func emptySCIM(t *testing.T) (*sandbox.Running, func(string) string) {
	t.Helper()
	sb, err := sandbox.Start(sandbox.Spec{Provider: "scim", Empty: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sb.Close() })
	return sb, func(k string) string { return sb.Env[k] }
}
