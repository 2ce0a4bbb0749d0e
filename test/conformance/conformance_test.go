package conformance

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ferry-dev/ferry/extract"
	"github.com/ferry-dev/ferry/internal/core"
	"github.com/ferry-dev/ferry/internal/gen"
	"github.com/ferry-dev/ferry/internal/sandbox"
	"github.com/ferry-dev/ferry/internal/sandbox/sandboxtest"
	"github.com/ferry-dev/ferry/load"
	"github.com/ferry-dev/ferry/schemas"
	"github.com/ferry-dev/ferry/transform"
)

// Each provider's page cap, crossed by the users its sandbox holds: Auth0's users search
// stops at 1,000 results (the source must switch to an export job), App ID pages 50 at a
// time, the SCIM sandbox caps count at 200.
var sourceUsers = map[string]int{"auth0": 1050, "appid": 120, "scim": 450}

var start = sandboxtest.Start

// getenv answers r's credentials, with secret (when set) in place of each of them.
func getenv(r *sandbox.Running, secret string) func(string) string {
	return func(k string) string {
		if k == "APPID_ENCRYPTION_SECRET" {
			return "conformance-export-secret"
		}
		v := r.Env[k]
		if v != "" && secret != "" {
			return secret
		}
		return v
	}
}

func secretsOf(r *sandbox.Running) []string {
	var out []string
	for _, v := range r.Env {
		out = append(out, v)
	}
	return out
}

const wrongSecret = "conformance-wrong-secret-7d41c0e9"

func TestSources(t *testing.T) {
	for _, provider := range []string{"auth0", "appid", "scim"} {
		t.Run(provider, func(t *testing.T) {
			t.Parallel()
			r := start(t, sandbox.Spec{Provider: provider, Users: sourceUsers[provider], Seed: 7, Plan: "none"})
			open := func(t *testing.T, secret string) (core.Source, error) {
				return extract.Open(context.Background(), r.Endpoint, core.Options{Getenv: getenv(r, secret)})
			}
			TestSource(t, SourceCase{
				Want: sourceUsers[provider],
				Open: func(t *testing.T) core.Source {
					src, err := open(t, "")
					if err != nil {
						t.Fatal(err)
					}
					return src
				},
				OpenBadCredentials: func(t *testing.T) (core.Source, error) { return open(t, wrongSecret) },
				Secrets:            append(secretsOf(r), wrongSecret),
			})
		})
	}
	t.Run("file", func(t *testing.T) {
		t.Parallel()
		path := filepath.Join(t.TempDir(), "users.ndjson")
		var b []byte
		const n = 300
		for i := 0; i < n; i++ {
			b = append(append(b, gen.SCIM(7, i, gen.Options{})...), '\n')
		}
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
		open := func(t *testing.T, path string) core.Source {
			src, err := extract.Open(context.Background(), path, core.Options{})
			if err != nil {
				t.Fatal(err)
			}
			return src
		}
		TestSource(t, SourceCase{Want: n, Open: func(t *testing.T) core.Source { return open(t, path) },
			OpenMalformed: func(t *testing.T) (core.Source, int, int) {
				bad := filepath.Join(t.TempDir(), "bad.ndjson")
				lines := append([]byte{}, gen.SCIM(7, 0, gen.Options{})...)
				lines = append(lines, "\n{\"userName\": \"cut\n"...)                  // not JSON
				lines = append(lines, "{\"userName\": \"\xff\xfe\"}\n"...)            // invalid UTF-8
				lines = append(append(lines, gen.SCIM(7, 1, gen.Options{})...), '\n') // read on after them
				if err := os.WriteFile(bad, lines, 0o600); err != nil {
					t.Fatal(err)
				}
				return open(t, bad), 2, 2
			}})
	})
}

// users are the users the sink cases write: generated, not nasty, so that every one is one
// each target accepts. An App ID profile import takes only users that sign in through an
// identity provider, so its users come from an App ID export; the others from SCIM.
func users(t *testing.T, provider string, n int) []*schemas.User {
	t.Helper()
	format, gen1 := core.FormatSCIM, gen.SCIM
	if provider == "appid" {
		format, gen1 = core.FormatAppID, gen.AppID
	}
	dec, err := transform.DecoderFor(format)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]*schemas.User, n)
	for i := range out {
		u, err := dec.Decode(gen1(11, i, gen.Options{}))
		if err != nil {
			t.Fatal(err)
		}
		u.ID, u.Meta, u.Password, u.Groups, u.Roles = "", nil, "", nil, nil
		out[i] = u
	}
	return out
}

// tenant is a sandbox target reached through its endpoint, listed through its Source.
type tenant struct {
	r   *sandbox.Running
	env func(string) string
}

func (tn *tenant) Reopen(t *testing.T, upsert bool) core.Sink {
	t.Helper()
	s, err := load.Open(context.Background(), tn.r.Endpoint, core.Options{Upsert: upsert, Concurrency: 2, Getenv: tn.env})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func (tn *tenant) Users(t *testing.T) []*schemas.User {
	t.Helper()
	src, err := extract.Open(context.Background(), tn.r.Endpoint, core.Options{Getenv: tn.env})
	if err != nil {
		t.Fatal(err)
	}
	return readUsers(t, src)
}

func readUsers(t *testing.T, src core.Source) []*schemas.User {
	t.Helper()
	dec, err := transform.DecoderFor(src.Format())
	if err != nil {
		t.Fatal(err)
	}
	recs, err := read(context.Background(), src, nil)
	if err != nil {
		t.Fatalf("list the target: %v", err)
	}
	out := make([]*schemas.User, 0, len(recs))
	for _, r := range recs {
		u, err := dec.Decode(r.Data)
		if err != nil {
			t.Fatalf("%s: %v", r.Ref, err)
		}
		out = append(out, u)
	}
	return out
}

// file is a backup file target; a reopened sink writes it anew.
type file struct{ path string }

func (f *file) Reopen(t *testing.T, upsert bool) core.Sink {
	t.Helper()
	s, err := load.Open(context.Background(), f.path, core.Options{Upsert: upsert, Source: "conformance"})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func (f *file) Users(t *testing.T) []*schemas.User {
	t.Helper()
	if fi, err := os.Stat(f.path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("backup file %s: %v, mode %v: want 0600", f.path, err, fi.Mode().Perm())
	}
	src, err := extract.Open(context.Background(), f.path, core.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return readUsers(t, src)
}

func TestSinks(t *testing.T) {
	// appid-cd is App ID's Cloud Directory: its own import, keyed by e-mail.
	for _, provider := range []string{"auth0", "appid", "appid-cd", "scim"} {
		t.Run(provider, func(t *testing.T) {
			t.Parallel()
			spec := sandbox.Spec{Provider: strings.TrimSuffix(provider, "-cd"), Empty: true, Seed: 7, Plan: "none"}
			TestSink(t, SinkCase{
				Users:  users(t, provider, 120),
				Tenant: true,
				Open: func(t *testing.T, upsert bool) (core.Sink, Target) {
					r := start(t, spec)
					if provider == "appid-cd" {
						r.Endpoint += "&cloud_directory=true"
					}
					tn := &tenant{r: r, env: getenv(r, "")}
					return tn.Reopen(t, upsert), tn
				},
				OpenBadCredentials: func(t *testing.T) (core.Sink, []string, error) {
					r := start(t, spec)
					s, err := load.Open(context.Background(), r.Endpoint, core.Options{Getenv: getenv(r, wrongSecret)})
					return s, append(secretsOf(r), wrongSecret), err
				},
			})
		})
	}
	for _, name := range []string{"users.ndjson", "users.ndjson.gz", "users.json"} {
		t.Run(strings.ReplaceAll(name, ".", "_"), func(t *testing.T) {
			t.Parallel()
			TestSink(t, SinkCase{
				Users: users(t, "file", 120),
				Open: func(t *testing.T, upsert bool) (core.Sink, Target) {
					f := &file{path: filepath.Join(t.TempDir(), name)}
					return f.Reopen(t, upsert), f
				},
			})
		})
	}
}
