// Package secrets runs every ferry command with known secret values in its environment
// and its input, then looks for each secret (and its usual encodings) in everything the
// command left behind: stdout, stderr, the rejects and change logs, the state file, backup
// manifests, and every other file it wrote except the backup data files themselves, which
// hold the password hashes the user asked to back up. Error paths (wrong credentials,
// unreachable hosts) are run too: an error message is where a secret most often slips out.
// Every file ferry leaves must be mode 0600.
//
// `ferry sandbox --json` is not run: printing the sandbox's credentials is its job.
package secrets

import (
	"encoding/base64"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"filippo.io/age"
	"github.com/ferry-dev/ferry/internal/sandbox"
	"github.com/ferry-dev/ferry/internal/sandbox/auth0"
	"github.com/ferry-dev/ferry/internal/sandbox/scim"
	"github.com/ferry-dev/ferry/test/internal/ferrytest"
)

var bin string

func TestMain(m *testing.M) { ferrytest.Main(m, &bin) }

const (
	auth0ID     = "secrets-test-client"
	auth0Secret = "AUTH0-SECRET-4f9c2e7d1b8a6053e2d9c4b7a1f0e8d3c6b5a4"
	scimToken   = "SCIM-TOKEN-9b1e4d7c2a5f8e3b6d0c9a7f4e1b2d8c5a3f6e"
	wrongSecret = "WRONG-SECRET-e5a2c9f7b1d4e8a3c6f0b9d2e7a1c4f8b5d3e6"
)

// hashes are bcrypt hashes in the input records (each a secret of its own user).
var hashes = func() []string {
	out := make([]string, 6)
	for i := range out {
		out[i] = fmt.Sprintf("$2b$10$%02dSecretSaltSecretSaltHashHashHashHashHashHashHashHash%02d", i, i)[:60]
	}
	return out
}()

// world is everything the commands run against.
type world struct {
	dir      string
	secrets  []string // credentials
	hashes   []string // user secrets: allowed in backup data files only
	env      map[string]string
	auth0    string // endpoints
	auth0Srv *auth0.Server
	scim     string
	appid    string
	recip    string // age recipient
	hashFile string // auth0-import input holding hashes
}

func setup(t *testing.T) *world {
	t.Helper()
	w := &world{dir: t.TempDir()}
	a, err := auth0.New(auth0.Config{Users: 300, Seed: 3, Nasty: 0.3, ClientID: auth0ID, ClientSecret: auth0Secret,
		ExportDelay: 100 * time.Millisecond, ImportDelay: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	w.auth0Srv = a
	w.auth0 = a.Endpoint(ferrytest.Serve(t, a.Handler()))
	s, err := scim.New(scim.Config{Token: scimToken, BasePath: "/scim/v2"})
	if err != nil {
		t.Fatal(err)
	}
	w.scim = "scim+" + ferrytest.Serve(t, s.Handler()) + "/scim/v2"
	// App ID through sandbox.Start, which seeds the roles its users reference; its API key
	// is random, and becomes one of the secrets.
	ap, err := sandbox.Start(sandbox.Spec{Provider: "appid", Users: 40, Seed: 5, Nasty: 0.3})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ap.Close() })
	w.appid = ap.Endpoint
	ibmKey := ap.Env["IBMCLOUD_API_KEY"]

	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	w.recip = id.Recipient().String()
	idFile := filepath.Join(w.dir, "age-identity.txt")
	if err := os.WriteFile(idFile, []byte(id.String()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	w.env = map[string]string{
		"AUTH0_CLIENT_ID": auth0ID, "AUTH0_CLIENT_SECRET": auth0Secret,
		"SCIM_TOKEN": scimToken, "IBMCLOUD_API_KEY": ibmKey,
		"FERRY_AGE_IDENTITY_FILE": idFile,
	}
	w.secrets = []string{auth0Secret, scimToken, ibmKey, wrongSecret, id.String(), a.Token()}
	w.hashes = hashes

	// Users with password hashes: plain ones, one that is rejected (no email, no
	// username, no id: no userName), one whose metadata a policy must rewrite (a dotted
	// key), one with a hash inside metadata where no mapper expects it.
	var b strings.Builder
	b.WriteString("[\n")
	for i, h := range hashes {
		if i > 0 {
			b.WriteString(",\n")
		}
		switch i {
		case 1:
			fmt.Fprintf(&b, `{"given_name":"Nobody","password_hash":%q}`, h)
		case 2:
			fmt.Fprintf(&b, `{"email":"dot%d@example.com","password_hash":%q,"user_metadata":{"pref.color":"blue","notes":"x"}}`, i, h)
		case 3:
			fmt.Fprintf(&b, `{"email":"meta%d@example.com","app_metadata":{"legacy_hash":%q}}`, i, h)
		case 4:
			fmt.Fprintf(&b, `{"email":"bad%d@example.com","email_verified":"maybe","password_hash":%q}`, i, h)
		default:
			fmt.Fprintf(&b, `{"email":"user%d@example.com","user_id":"u%d","password_hash":%q}`, i, i, h)
		}
	}
	b.WriteString("\n]\n")
	w.hashFile = filepath.Join(w.dir, "input-hashes.json")
	if err := os.WriteFile(w.hashFile, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return w
}

// variants are the forms a secret takes on its way out: as is, URL-encoded, in a basic
// auth header, JSON-escaped.
func variants(s string) []string {
	v := []string{s, url.QueryEscape(s), base64.StdEncoding.EncodeToString([]byte(s)),
		base64.StdEncoding.EncodeToString([]byte(auth0ID + ":" + s)), strings.ReplaceAll(s, "$", `\u0024`)}
	if len(s) > 24 {
		// A prefix long enough to be the secret, short enough to survive truncation.
		v = append(v, s[:24])
	}
	return v
}

func (w *world) scan(t *testing.T, where, text string) {
	t.Helper()
	w.scanFor(t, where, text, w.secrets)
	w.scanFor(t, where, text, w.hashes)
}

func (w *world) scanFor(t *testing.T, where, text string, secrets []string) {
	t.Helper()
	for _, s := range secrets {
		for _, v := range variants(s) {
			if strings.Contains(text, v) {
				t.Errorf("%s holds a secret (%.12s...)", where, s)
				break
			}
		}
	}
}

type step struct {
	name string
	args []string
	env  map[string]string // overrides
	// codes are the acceptable exit statuses.
	codes []int
}

func (w *world) run(t *testing.T, st step) ferrytest.Result {
	t.Helper()
	env := map[string]string{}
	for k, v := range w.env {
		env[k] = v
	}
	for k, v := range st.env {
		if v == "" {
			delete(env, k)
		} else {
			env[k] = v
		}
	}
	res := ferrytest.MustRun(t, ferrytest.Cmd{Bin: bin, Args: st.args, Env: env, Dir: w.dir, Timeout: time.Minute})
	ok := false
	for _, c := range st.codes {
		ok = ok || res.Code == c
	}
	if !ok {
		t.Errorf("%s: exit %d, want one of %v\nstdout: %s\nstderr: %s", st.name, res.Code, st.codes, ferrytest.Tail(res.Stdout, 1500), ferrytest.Tail(res.Stderr, 1500))
	}
	t.Logf("%s: exit %d in %v", st.name, res.Code, res.Elapsed.Round(time.Millisecond))
	w.scan(t, st.name+": stdout", res.Stdout)
	w.scan(t, st.name+": stderr", res.Stderr)
	return res
}

func TestNoSecretsAnywhere(t *testing.T) {
	w := setup(t)
	p := func(name string) string { return filepath.Join(w.dir, name) }
	common := func(tag string) []string {
		return []string{"--rejects", p("rejects-" + tag + ".ndjson"), "--changes", p("changes-" + tag + ".ndjson"), "--no-progress"}
	}
	steps := []step{
		{"gen", []string{"gen", "--provider", "auth0", "--users", "50", "--out", p("gen.ndjson")}, nil, []int{0}},
		{"migrate file->file", append([]string{"migrate", "--from", w.hashFile, "--from-format", "auth0-import", "--to", p("data-hash-1.ndjson"), "--resume", p("state-1.json"), "--json"}, common("1")...), nil, []int{0, 1}},
		{"migrate file->encrypted backup", append([]string{"migrate", "--from", w.hashFile, "--from-format", "auth0-import", "--to", p("data-hash-2.ndjson.gz"), "--encrypt-to", w.recip, "--json"}, common("2")...), nil, []int{0, 1}},
		{"verify", []string{"verify", "--json", p("data-hash-2.ndjson.gz")}, nil, []int{0}},
		{"migrate backup->scim", append([]string{"migrate", "--from", p("data-hash-2.ndjson.gz"), "--to", w.scim, "--upsert", "--resume", p("state-3.json"), "--json"}, common("3")...), nil, []int{0, 1}},
		{"migrate file->auth0", append([]string{"migrate", "--from", w.hashFile, "--from-format", "auth0-import", "--to", w.auth0 + "&connection=Username-Password-Authentication", "--upsert", "--resume", p("state-4.json"), "--json"}, common("4")...), nil, []int{0, 1}},
		{"migrate auth0->file", append([]string{"migrate", "--from", w.auth0, "--to", p("data-auth0.ndjson"), "--json"}, common("5")...), nil, []int{0, 1}},
		{"migrate auth0->scim", append([]string{"migrate", "--from", w.auth0, "--to", w.scim, "--upsert", "--create-missing-roles", "--resume", p("state-6.json")}, common("6")...), nil, []int{0, 1}},
		{"migrate auth0 (FERRY_FROM_ credentials)->file", append([]string{"migrate", "--from", w.auth0, "--to", p("data-auth0-from.ndjson")}, common("10")...), map[string]string{"FERRY_FROM_AUTH0_CLIENT_ID": auth0ID, "FERRY_FROM_AUTH0_CLIENT_SECRET": auth0Secret, "AUTH0_CLIENT_ID": "", "AUTH0_CLIENT_SECRET": ""}, []int{0, 1}},
		{"migrate auth0 (AUTH0_TOKEN)->file", append([]string{"migrate", "--from", w.auth0, "--to", p("data-auth0-token.ndjson")}, common("7")...), map[string]string{"AUTH0_TOKEN": w.auth0Srv.Token(), "AUTH0_CLIENT_ID": "", "AUTH0_CLIENT_SECRET": ""}, []int{0, 1}},
		{"migrate appid->file", append([]string{"migrate", "--from", w.appid, "--to", p("data-appid.ndjson"), "--json"}, common("8")...), nil, []int{0, 1}},
		{"plan auth0->appid", []string{"plan", "--from", w.auth0, "--to", w.appid, "--json", "--out", p("plan.json")}, nil, []int{0, 1}},
		{"plan file", []string{"plan", "--from", w.hashFile, "--from-format", "auth0-import"}, nil, []int{0, 1}},
		{"roles diff", []string{"roles", "diff", "--from", w.auth0, "--to", w.appid, "--json"}, nil, []int{0, 1, 3}},
		{"migrate --dry-run", append([]string{"migrate", "--from", w.auth0, "--to", w.appid, "--dry-run", "--json"}, common("9")...), nil, []int{0, 1, 3}},
		// Error paths.
		{"auth0 wrong secret", []string{"migrate", "--from", w.auth0, "--to", p("data-x1.ndjson"), "--json"}, map[string]string{"AUTH0_CLIENT_SECRET": wrongSecret}, []int{2, 3}},
		{"auth0 wrong secret (FERRY_FROM_)", []string{"migrate", "--from", w.auth0, "--to", p("data-x3.ndjson"), "--json"}, map[string]string{"FERRY_FROM_AUTH0_CLIENT_SECRET": wrongSecret}, []int{2, 3}},
		{"auth0 wrong token", []string{"migrate", "--from", w.auth0, "--to", p("data-x2.ndjson")}, map[string]string{"AUTH0_TOKEN": wrongSecret}, []int{2, 3}},
		{"scim wrong token", []string{"migrate", "--from", w.hashFile, "--from-format", "auth0-import", "--to", w.scim, "--json"}, map[string]string{"SCIM_TOKEN": wrongSecret}, []int{2, 3}},
		{"appid wrong key", []string{"migrate", "--from", w.appid, "--to", p("data-x3.ndjson")}, map[string]string{"IBMCLOUD_API_KEY": wrongSecret}, []int{2, 3}},
		{"auth0 unreachable", []string{"migrate", "--from", "auth0://sandbox?base=http://127.0.0.1:1", "--to", p("data-x4.ndjson")}, nil, []int{2, 3}},
		{"verify wrong identity", []string{"verify", p("data-hash-2.ndjson.gz")}, map[string]string{"FERRY_AGE_IDENTITY_FILE": p("gen.ndjson")}, []int{1, 2, 3}},
	}
	if os.Getenv("FERRY_LONG") != "" {
		// ferry retries a refused connection to a SCIM target for about 45 s before it
		// gives up (the Auth0 source: 3 s), too long for every CI run.
		steps = append(steps, step{"scim unreachable", []string{"migrate", "--from", w.hashFile, "--from-format", "auth0-import", "--to", "scim+http://127.0.0.1:1/scim/v2"}, nil, []int{2, 3}})
	}
	for _, st := range steps {
		w.run(t, st)
	}

	// The data files of the hash backups hold the hashes by design; everything else is
	// scanned, manifests included.
	files := 0
	err := filepath.WalkDir(w.dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		name := d.Name()
		fi, err := d.Info()
		if err != nil {
			return err
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %v, want 0600", name, fi.Mode().Perm())
		}
		if name == "age-identity.txt" || strings.HasPrefix(name, "input-") {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		files++
		if strings.HasPrefix(name, "data-") && !strings.HasSuffix(name, ".manifest.json") {
			// A backup carries the users' hashes (and metadata) by design; never credentials.
			w.scanFor(t, name, string(b), w.secrets)
			return nil
		}
		w.scan(t, name, string(b))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// The test must have seen the files it is about, or it proves nothing.
	for _, must := range []string{"rejects-1.ndjson", "changes-1.ndjson", "state-1.json", "data-hash-2.ndjson.gz.manifest.json", "rejects-5.ndjson", "state-3.json", "plan.json"} {
		if _, err := os.Stat(p(must)); err != nil {
			t.Errorf("expected file %s: %v", must, err)
		}
	}
	if b, _ := os.ReadFile(p("rejects-1.ndjson")); !strings.Contains(string(b), "Nobody") {
		t.Errorf("rejects-1.ndjson does not hold the rejected user with a hash; the scan proves nothing:\n%s", b)
	}
	if b, _ := os.ReadFile(p("data-hash-1.ndjson")); !strings.Contains(string(b), hashes[0]) {
		t.Errorf("the backup does not keep the password hash it was asked to carry")
	}
	t.Logf("%d commands, %d files scanned for %d secrets", len(steps), files, len(w.secrets))
}
