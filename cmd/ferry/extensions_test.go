package main

import (
	"bytes"
	stdjson "encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/ferry-dev/ferry/internal/sandbox"
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

const acmeURN = "urn:ietf:params:scim:schemas:extension:acme:2.0:User"

// oktaSchema declares the Okta-style extension of the fixture's second user.
const oktaSchema = `{"id":"urn:okta:custom:user:1.0","name":"OktaCustom","attributes":[{"name":"costCode","type":"string","multiValued":false,"required":false},{"name":"big","type":"decimal","multiValued":false,"required":false},{"name":"e","type":"decimal","multiValued":false,"required":false}]}`

func scimExtTarget(t *testing.T, exts ...[]byte) (*sandbox.Running, func(string) string) {
	t.Helper()
	spec := sandbox.Spec{Provider: "scim", Empty: true}
	for _, e := range exts {
		spec.SCIMExtensions = append(spec.SCIMExtensions, e)
	}
	r, err := sandbox.Start(spec)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r, func(k string) string { return r.Env[k] }
}

// targetUsers reads the provider's users directly (not through ferry), by userName.
func targetUsers(t *testing.T, r *sandbox.Running) map[string]map[string]any {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, r.URL+"/scim/v2/Users?count=200", nil)
	req.Header.Set("Authorization", "Bearer "+r.Env["SCIM_TOKEN"])
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var l struct{ Resources []map[string]any }
	if err := json.NewDecoder(resp.Body).Decode(&l); err != nil {
		t.Fatal(err)
	}
	out := map[string]map[string]any{}
	for _, u := range l.Resources {
		out[u["userName"].(string)] = u
	}
	return out
}

func acmeDef(t *testing.T) []byte {
	b, err := os.ReadFile("../../fixtures/extensions/acme.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// A SCIM target that does not declare the users' extensions: by default the run is refused
// before anything is written (exit 3, naming the URNs and the way out); with
// --drop-unknown-extensions the users go without that data and the change log keeps each
// extension's values as read; a target that declares them gets them.
func TestSCIMTargetExtensions(t *testing.T) {
	const fixture = "../../fixtures/extensions/acme.ndjson"
	t.Run("refused before writing", func(t *testing.T) {
		r, getenv := scimExtTarget(t)
		code, out, errs := ferry(t, getenv, "migrate", "--from", fixture, "--to", r.Endpoint, "--no-progress")
		if code != exitAborted {
			t.Fatalf("exit %d, want %d: %s %s", code, exitAborted, out, errs)
		}
		for _, want := range []string{acmeURN, "urn:okta:custom:user:1.0", "--drop-unknown-extensions", "nothing was written"} {
			if !strings.Contains(errs, want) {
				t.Errorf("stderr does not say %q: %s", want, errs)
			}
		}
		if n := len(targetUsers(t, r)); n != 0 {
			t.Errorf("%d users written before the refusal", n)
		}
	})
	t.Run("dropped with the flag, values in the change log", func(t *testing.T) {
		r, getenv := scimExtTarget(t)
		changes := filepath.Join(t.TempDir(), "changes.ndjson")
		code, out, errs := ferry(t, getenv, "migrate", "--from", fixture, "--to", r.Endpoint, "--drop-unknown-extensions",
			"--changes", changes, "--json", "--no-progress")
		if code != exitOK {
			t.Fatalf("exit %d: %s %s", code, out, errs)
		}
		users := targetUsers(t, r)
		if len(users) != 3 {
			t.Fatalf("%d users written, want 3", len(users))
		}
		for name, u := range users {
			b, _ := json.Marshal(u)
			if strings.Contains(string(b), "acme") || strings.Contains(string(b), "okta") || strings.Contains(string(b), "listed:but:empty") {
				t.Errorf("%s: undeclared extension sent: %s", name, b)
			}
		}
		log, err := os.ReadFile(changes)
		if err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{
			`"path":"` + acmeURN + `"`,
			`"badge":1042,"clearance":"\u003csecret \u0026 co\u003e","ratio":1.50`,
			`"path":"urn:okta:custom:user:1.0"`,
			`"big":123456789012345678901234567890,"e":1e-7`,
		} {
			if !strings.Contains(string(log), want) {
				t.Errorf("change log lacks %s:\n%s", want, log)
			}
		}
		if n := strings.Count(string(log), "\n"); n != 3 {
			t.Errorf("%d changes, want 3 (acme twice, okta once):\n%s", n, log)
		}
	})
	t.Run("declared: written, and read back the same", func(t *testing.T) {
		r, getenv := scimExtTarget(t, acmeDef(t), []byte(oktaSchema))
		code, out, errs := ferry(t, getenv, "migrate", "--from", fixture, "--to", r.Endpoint, "--json", "--no-progress")
		if code != exitOK || !strings.Contains(out, `"written":3`) || !strings.Contains(out, `"changes":0`) {
			t.Fatalf("exit %d: %s %s", code, out, errs)
		}
		back := filepath.Join(t.TempDir(), "back.ndjson")
		if code, out, errs := ferry(t, getenv, "migrate", "--from", r.Endpoint, "--to", back, "--json", "--no-progress"); code != exitOK {
			t.Fatalf("read back: exit %d: %s %s", code, out, errs)
		}
		want := extensionsByUser(t, fixture)
		got := extensionsByUser(t, back)
		for name, w := range want {
			if !reflect.DeepEqual(got[name], w) {
				t.Errorf("%s: extensions read back %v, want %v", name, got[name], w)
			}
		}
	})
}

// extensionsByUser decodes each user's custom extension data, as values (a server keeps
// the values, not the bytes: 1.50 comes back as 1.5).
func extensionsByUser(t *testing.T, path string) map[string]map[string]any {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]map[string]any{}
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		var u map[string]any
		if err := json.Unmarshal([]byte(line), &u); err != nil {
			t.Fatal(err)
		}
		exts := map[string]any{}
		for k, v := range u {
			if strings.HasPrefix(k, "urn:") && !strings.Contains(k, "ferry") && !strings.Contains(k, "enterprise") {
				exts[k] = assigned(v)
			}
		}
		out[u["userName"].(string)] = exts
	}
	return out
}

// assigned drops what RFC 7643 §2.5 makes equivalent to unassigned (null, an empty array),
// which a server need not return.
func assigned(v any) any {
	m, ok := v.(map[string]any)
	if !ok {
		return v
	}
	out := map[string]any{}
	for k, x := range m {
		if arr, isArr := x.([]any); x == nil || (isArr && len(arr) == 0) {
			continue
		}
		out[k] = assigned(x)
	}
	return out
}

// ferry plan lists each extension with its users and attributes, and says which ones the
// target does not declare.
func TestPlanListsExtensions(t *testing.T) {
	r, getenv := scimExtTarget(t, acmeDef(t))
	code, out, errs := ferry(t, getenv, "plan", "--from", "../../fixtures/extensions/acme.ndjson", "--to", r.Endpoint, "--json")
	if code != exitOK {
		t.Fatalf("exit %d: %s %s", code, out, errs)
	}
	var p struct {
		Plan struct {
			Extensions []struct {
				URN        string
				Users      int
				Attributes []string
				Undeclared int
			}
		}
	}
	if err := json.Unmarshal([]byte(out), &p); err != nil {
		t.Fatal(err)
	}
	got := fmt.Sprint(p.Plan.Extensions)
	want := "[{" + acmeURN + " 2 [badge clearance flags hired nick office ratio skills] 0} {urn:okta:custom:user:1.0 1 [big costCode e] 1}]"
	if got != want {
		t.Errorf("plan extensions\n got %s\nwant %s", got, want)
	}
	code, out, _ = ferry(t, getenv, "plan", "--from", "../../fixtures/extensions/acme.ndjson", "--to", r.Endpoint)
	if code != exitOK || !strings.Contains(out, "urn:okta:custom:user:1.0: 1 users; big, costCode, e") || !strings.Contains(out, "the target does not declare it") {
		t.Errorf("plan text:\n%s", out)
	}
}

// ferry plan from a SCIM server says what the server's discovery documents told.
func TestPlanShowsSourceServer(t *testing.T) {
	r, getenv := scimExtTarget(t, acmeDef(t))
	if code, out, errs := ferry(t, getenv, "migrate", "--from", "../../fixtures/extensions/acme.ndjson", "--to", r.Endpoint,
		"--drop-unknown-extensions", "--no-progress"); code != exitOK {
		t.Fatalf("load: exit %d: %s %s", code, out, errs)
	}
	code, out, errs := ferry(t, getenv, "plan", "--from", r.Endpoint)
	if code != exitOK {
		t.Fatalf("exit %d: %s %s", code, out, errs)
	}
	for _, want := range []string{"source server: paging cursor and index", "filter true, sort true, etag true", "bulk 1000 ops", acmeURN, acmeURN + ": 2 users; badge"} {
		if !strings.Contains(out, want) {
			t.Errorf("plan does not say %q:\n%s", want, out)
		}
	}
}

// The preflight learns the extensions from a SCIM source's declarations and from a plan
// file as well as from scanning a file: each way, a target without the extension is
// refused before anything is written.
func TestExtensionPreflightSources(t *testing.T) {
	src, srcEnv := scimExtTarget(t, acmeDef(t), []byte(oktaSchema))
	dst, dstEnv := scimExtTarget(t)
	t.Run("SCIM source declares them", func(t *testing.T) {
		// Two sandboxes, two tokens under one variable name: the source's comes as
		// FERRY_FROM_SCIM_TOKEN, as a user migrating between two SCIM servers gives it.
		getenv := func(k string) string {
			if k == "FERRY_FROM_SCIM_TOKEN" {
				return srcEnv("SCIM_TOKEN")
			}
			return dstEnv(k)
		}
		code, out, errs := ferry(t, getenv, "migrate", "--from", src.Endpoint, "--to", dst.Endpoint, "--no-progress")
		if code != exitAborted || !strings.Contains(errs, acmeURN) || !strings.Contains(errs, "urn:okta:custom:user:1.0") {
			t.Fatalf("exit %d, want %d naming both extensions: %s %s", code, exitAborted, out, errs)
		}
		if n := len(targetUsers(t, dst)); n != 0 {
			t.Errorf("%d users written before the refusal", n)
		}
		code, out, errs = ferry(t, getenv, "migrate", "--from", src.Endpoint, "--to", dst.Endpoint, "--no-progress", "--drop-unknown-extensions")
		if code != exitOK {
			t.Errorf("with --drop-unknown-extensions: exit %d: %s %s", code, out, errs)
		}
	})
	t.Run("plan file lists them", func(t *testing.T) {
		planFile := filepath.Join(t.TempDir(), "plan.json")
		if code, out, errs := ferry(t, dstEnv, "plan", "--from", "../../fixtures/extensions/acme.ndjson", "--to", dst.Endpoint, "--out", planFile); code != exitOK {
			t.Fatalf("plan: exit %d: %s %s", code, out, errs)
		}
		// A source with no extension at all: the refusal can only come from the plan,
		// which is read instead of scanning the source (stdin cannot be scanned).
		plain := filepath.Join(t.TempDir(), "plain.ndjson")
		os.WriteFile(plain, []byte(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"plain"}`+"\n"), 0o600)
		code, out, errs := ferry(t, dstEnv, "migrate", "--from", plain, "--plan", planFile, "--to", dst.Endpoint, "--no-progress")
		if code != exitAborted || !strings.Contains(errs, acmeURN) {
			t.Fatalf("exit %d, want %d naming %s: %s %s", code, exitAborted, acmeURN, out, errs)
		}
		if n := len(targetUsers(t, dst)); n != 0 {
			t.Errorf("%d users written", n)
		}
	})
}
