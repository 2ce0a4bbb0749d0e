package main

import (
	"bytes"
	stdjson "encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/segmentio/encoding/json"
)

// Users carrying custom schema extensions (an acme URN, an Okta one, a URN listed with no
// data) survive a SCIM file -> SCIM backup -> SCIM backup round trip byte for byte: key
// order, escapes, number forms (1.50, 1e-7, a 30-digit integer) and HTML characters in the
// extension data are kept as read. A pretty-printed JSON array of the same users gives the
// same backup: only insignificant white space goes.
func TestCustomExtensionsRoundTripUnchanged(t *testing.T) {
	want, err := os.ReadFile("../../fixtures/extensions/acme.ndjson")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	pretty := filepath.Join(dir, "acme.json")
	var arr bytes.Buffer
	arr.WriteString("[\n")
	for i, line := range bytes.Split(bytes.TrimSpace(want), []byte("\n")) {
		if i > 0 {
			arr.WriteString(",\n")
		}
		if err := stdjson.Indent(&arr, line, "  ", "    "); err != nil {
			t.Fatal(err)
		}
	}
	arr.WriteString("\n]\n")
	if err := os.WriteFile(pretty, arr.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct{ name, from string }{
		{"ndjson", "../../fixtures/extensions/acme.ndjson"},
		{"pretty JSON array", pretty},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := tt.from
			for hop := 1; hop <= 2; hop++ {
				out := filepath.Join(t.TempDir(), "backup.ndjson")
				code, stdout, stderr := ferry(t, nil, "migrate", "--from", src, "--to", out, "--json", "--no-progress")
				if code != 0 {
					t.Fatalf("hop %d: exit %d; stdout %s; stderr %s", hop, code, stdout, stderr)
				}
				var sum struct{ Read, Written, Changes int }
				if err := json.Unmarshal([]byte(stdout), &sum); err != nil {
					t.Fatalf("hop %d: summary %q: %v", hop, stdout, err)
				}
				if sum.Read != 3 || sum.Written != 3 || sum.Changes != 0 {
					t.Errorf("hop %d: read %d written %d changes %d, want 3 3 0", hop, sum.Read, sum.Written, sum.Changes)
				}
				got, err := os.ReadFile(out)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(got, want) {
					t.Fatalf("hop %d: backup differs from the source\n got: %s\nwant: %s", hop, got, want)
				}
				src = out
			}
		})
	}
}

// What is refused, user by user, and why: data under a URN schemas does not list, data that
// is not an object, a core attribute of the wrong type next to valid extension data, and a
// Group URN in a User.
func TestCustomExtensionsRejected(t *testing.T) {
	dir := t.TempDir()
	rejects := filepath.Join(dir, "rejects.ndjson")
	code, stdout, stderr := ferry(t, nil, "migrate", "--from", "../../fixtures/extensions/bad.ndjson",
		"--to", filepath.Join(dir, "out.ndjson"), "--rejects", rejects, "--json", "--no-progress")
	if code != 1 {
		t.Fatalf("exit %d, want 1 (users rejected); stdout %s; stderr %s", code, stdout, stderr)
	}
	b, err := os.ReadFile(rejects)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	want := []struct{ ref, user, reason string }{
		{"line 1", "unlisted", "urn:ietf:params:scim:schemas:extension:acme:2.0:User: extension data under this URN, but schemas does not list it"},
		{"line 2", "", "urn:ietf:params:scim:schemas:extension:acme:2.0:User: expected object (extension data), got string"},
		{"line 3", "", "active: expected boolean, got string"},
		{"line 4", "group-urn", `schemas[1]: "urn:ietf:params:scim:schemas:core:2.0:Group" is not a User schema`},
	}
	if len(lines) != len(want) {
		t.Fatalf("%d rejects, want %d:\n%s", len(lines), len(want), b)
	}
	for i, w := range want {
		var r struct{ Ref, User, Reason string }
		if err := json.Unmarshal([]byte(lines[i]), &r); err != nil {
			t.Fatal(err)
		}
		if r.Ref != w.ref || r.User != w.user || !strings.HasPrefix(r.Reason, w.reason) {
			t.Errorf("reject %d: ref %q user %q reason %q\nwant ref %q user %q reason %q...", i, r.Ref, r.User, r.Reason, w.ref, w.user, w.reason)
		}
	}
}
