package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"filippo.io/age"
	"github.com/ferry-dev/ferry/extract"
	"github.com/ferry-dev/ferry/internal/backup"
	"github.com/ferry-dev/ferry/internal/core"
	"github.com/ferry-dev/ferry/internal/sandbox"
	"github.com/ferry-dev/ferry/internal/sandbox/sandboxtest"
	"github.com/ferry-dev/ferry/load"
	"github.com/ferry-dev/ferry/run"
	"github.com/segmentio/encoding/json"
)

func startSandbox(t *testing.T, spec sandbox.Spec) *sandbox.Running {
	t.Helper()
	spec.Plan = "none"
	return sandboxtest.Start(t, spec)
}

// getenvOf reads credentials from the sandboxes, and extra for anything else.
func getenvOf(extra map[string]string, rs ...*sandbox.Running) func(string) string {
	return sandboxEnv(&env{getenv: func(k string) string { return extra[k] }}, rs...).getenv
}

func catalogOf(t *testing.T, endpoint string, getenv func(string) string) *core.Catalog {
	t.Helper()
	src, err := extract.Open(context.Background(), endpoint, core.Options{Getenv: getenv})
	if err != nil {
		t.Fatal(err)
	}
	c, err := src.(core.RoleReader).Roles(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func membersOf(t *testing.T, endpoint string, getenv func(string) string) map[string][]string {
	t.Helper()
	src, err := extract.Open(context.Background(), endpoint, core.Options{Getenv: getenv})
	if err != nil {
		t.Fatal(err)
	}
	m, err := usersOf(context.Background(), src)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestBackupRestoresWholeTenant is the disaster-recovery case: an Auth0 tenant with roles,
// APIs and memberships is backed up, then restored into a fresh Auth0 tenant and a fresh
// App ID instance. The targets' catalogs and memberships equal the source's (mapped where
// App ID spells scopes otherwise, every such rename in the change log).
func TestBackupRestoresWholeTenant(t *testing.T) {
	dir := t.TempDir()
	src := startSandbox(t, sandbox.Spec{Provider: "auth0", Users: 120, Seed: 1})
	getenv := getenvOf(nil, src)
	bk := filepath.Join(dir, "b.ndjson.gz")
	if code, _, errs := ferry(t, getenv, "migrate", "--from", src.Endpoint, "--to", bk, "--no-progress"); code != exitOK {
		t.Fatalf("backup: exit %d: %s", code, errs)
	}
	srcCat := catalogOf(t, src.Endpoint, getenv)
	srcMembers := membersOf(t, src.Endpoint, getenv)
	if len(srcCat.Roles) == 0 || len(srcCat.Scopes) == 0 {
		t.Fatalf("the source sandbox has no catalog to test with: %+v", srcCat)
	}
	assigned := 0
	for _, rs := range srcMembers {
		assigned += len(rs)
	}
	if assigned == 0 {
		t.Fatal("no user of the source has a role")
	}

	// The backup's catalog: a 0600 file, listed in the manifest, equal to the source's.
	m, err := backup.ReadManifest(backup.ManifestPath(bk))
	if err != nil || m.Catalog == nil {
		t.Fatalf("manifest lists no catalog: %v %+v", err, m)
	}
	if st, err := os.Stat(filepath.Join(dir, m.Catalog.File)); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("catalog file: %v %v", err, st)
	}
	got, err := backup.ReadCatalog(bk)
	if err != nil {
		t.Fatal(err)
	}
	if d := compareCatalogs(srcCat, got); len(d) > 0 {
		t.Fatalf("backup catalog differs from the source's: %v", d)
	}
	if code, out, errs := ferry(t, nil, "verify", bk); code != exitOK || !strings.Contains(out, "catalog OK") {
		t.Fatalf("verify: exit %d %s %s", code, out, errs)
	}

	t.Run("roles", func(t *testing.T) {
		dst := startSandbox(t, sandbox.Spec{Provider: "auth0", Seed: 4, Empty: true})
		getenv := getenvOf(nil, dst)
		code, out, errs := ferry(t, getenv, "roles", "diff", "--from", bk, "--to", dst.Endpoint)
		if code != exitAborted || !strings.Contains(out, "missing role") {
			t.Fatalf("roles diff from a backup: exit %d %s %s", code, out, errs)
		}
		if code, out, errs := ferry(t, getenv, "roles", "copy", "--from", bk, "--to", dst.Endpoint); code != exitOK || !strings.Contains(out, "created:") {
			t.Fatalf("roles copy: exit %d %s %s", code, out, errs)
		}
		if code, out, _ := ferry(t, getenv, "roles", "diff", "--from", bk, "--to", dst.Endpoint); code != exitOK || out != "nothing missing\n" {
			t.Errorf("after copy: exit %d %q", code, out)
		}
		if d := compareCatalogs(srcCat, catalogOf(t, dst.Endpoint, getenv)); len(d) > 0 {
			t.Errorf("copied catalog differs: %v", d)
		}
	})

	rejectedAuth0 := -1
	t.Run("auth0", func(t *testing.T) {
		dst := startSandbox(t, sandbox.Spec{Provider: "auth0", Seed: 3, Empty: true})
		getenv := getenvOf(nil, dst)
		// Without --create-missing-roles the preflight stops the restore, naming what lacks.
		code, _, errs := ferry(t, getenv, "migrate", "--from", bk, "--to", dst.Endpoint, "--no-progress")
		if code != exitAborted || !strings.Contains(errs, "missing role") {
			t.Fatalf("restore without roles: exit %d: %s", code, errs)
		}
		if strings.Contains(errs, "roles not checked") {
			t.Errorf("preflight skipped: %s", errs)
		}
		rejects := filepath.Join(dir, "auth0-rejects.ndjson")
		if code, _, errs := ferry(t, getenv, "migrate", "--from", bk, "--to", dst.Endpoint, "--create-missing-roles", "--no-progress", "--rejects", rejects); code != exitOK && code != exitRejected {
			t.Fatalf("restore: exit %d: %s", code, errs)
		}
		if d := compareCatalogs(srcCat, catalogOf(t, dst.Endpoint, getenv)); len(d) > 0 {
			t.Errorf("target catalog differs: %v", d)
		}
		// A bulk import cannot recreate a link to a social identity: those users are
		// rejected with that reason, and only those are missing.
		r, _ := os.ReadFile(rejects)
		lines := strings.Split(strings.TrimSpace(string(r)), "\n")
		if len(r) == 0 {
			lines = nil
		}
		for _, l := range lines {
			if !strings.Contains(l, "cannot be recreated by a bulk import") {
				t.Errorf("unexpected reject: %.300s", l)
			}
		}
		d := compareUsers(srcMembers, membersOf(t, dst.Endpoint, getenv))
		if len(d) != len(lines) {
			t.Errorf("%d differences for %d rejected users: %v", len(d), len(lines), d[:min(len(d), 5)])
		}
		for _, x := range d {
			if !strings.HasSuffix(x, ": not restored") {
				t.Errorf("memberships differ: %s", x)
			}
		}
		rejectedAuth0 = len(lines)
	})

	t.Run("appid", func(t *testing.T) {
		dst := startSandbox(t, sandbox.Spec{Provider: "appid", Seed: 1, Empty: true})
		getenv := getenvOf(nil, dst)
		changes := filepath.Join(dir, "changes.ndjson")
		if code, _, errs := ferry(t, getenv, "migrate", "--from", bk, "--to", dst.Endpoint, "--create-missing-roles", "--no-progress", "--changes", changes); code != exitOK && code != exitRejected {
			t.Fatalf("restore: exit %d: %s", code, errs)
		}
		sink, err := load.Open(context.Background(), dst.Endpoint, core.Options{Getenv: getenv})
		if err != nil {
			t.Fatal(err)
		}
		want := sink.(core.CatalogMapper).MapCatalog(srcCat)
		if d := compareCatalogs(want, catalogOf(t, dst.Endpoint, getenv)); len(d) > 0 {
			t.Errorf("target catalog differs: %v", d)
		}
		if d := compareUsers(srcMembers, membersOf(t, dst.Endpoint, getenv)); len(d) > 0 {
			t.Errorf("memberships differ: %v", d[:min(len(d), 5)])
		}
		// Every scope App ID spells otherwise is in the change log with both spellings.
		log, _ := os.ReadFile(changes)
		renamed := map[string]string{}
		for _, line := range strings.Split(strings.TrimSpace(string(log)), "\n") {
			var c struct{ User, Path, Rule, Before, After string }
			if json.Unmarshal([]byte(line), &c) == nil && c.Rule == run.RuleScopeSpelling {
				renamed[c.Path+" "+c.Before] = c.After
			}
		}
		n := 0
		for _, p := range srcCat.Scopes {
			mapped := sink.(core.CatalogMapper).MapCatalog(&core.Catalog{Scopes: []core.Permission{p}}).Scopes[0]
			if mapped == p {
				continue
			}
			n++
			if renamed["scopes["+p.Resource+"] "+p.Scope] != mapped.Scope {
				t.Errorf("change log lacks the rename of %s %s to %s", p.Resource, p.Scope, mapped.Scope)
			}
		}
		if n == 0 {
			t.Error("no scope was renamed: the test proves nothing about the change log")
		}
	})

	t.Run("rehearsal", func(t *testing.T) {
		code, out, errs := ferry(t, nil, "verify", "--restore-to", "appid", bk)
		if code != exitOK || !strings.Contains(out, "equal to the backup") {
			t.Errorf("verify --restore-to appid: exit %d %s %s", code, out, errs)
		}
		// Into Auth0 the users with social links do not restore: the rehearsal says so,
		// one line per user, and fails.
		code, _, errs = ferry(t, nil, "verify", "--restore-to", "auth0", bk)
		if n := strings.Count(errs, ": not restored"); code != exitAborted || rejectedAuth0 <= 0 || n != rejectedAuth0 {
			t.Errorf("verify --restore-to auth0: exit %d, %d users not restored, %d rejected by the restore: %s", code, n, rejectedAuth0, errs)
		}
	})

	t.Run("plain-file", func(t *testing.T) {
		// No manifest at all: the roles its users reference, found in a first pass.
		plain := filepath.Join(dir, "plain.ndjson.gz")
		data, _ := os.ReadFile(bk)
		os.WriteFile(plain, data, 0o600)
		dst := startSandbox(t, sandbox.Spec{Provider: "auth0", Seed: 5, Empty: true})
		code, _, errs := ferry(t, getenvOf(nil, dst), "migrate", "--from", plain, "--to", dst.Endpoint, "--no-progress")
		if code != exitAborted || !strings.Contains(errs, "not a ferry backup") || !strings.Contains(errs, "missing role") || strings.Contains(errs, "roles not checked") {
			t.Errorf("plain file: exit %d %s", code, errs)
		}
	})

	t.Run("old-format", func(t *testing.T) {
		// A backup written before backups carried a catalog: the same users, a manifest
		// without the entry, no catalog file.
		old := filepath.Join(dir, "old.ndjson.gz")
		data, _ := os.ReadFile(bk)
		os.WriteFile(old, data, 0o600)
		om := *m
		om.Catalog = nil
		om.Data = filepath.Base(old)
		if err := backup.WriteManifest(backup.ManifestPath(old), &om); err != nil {
			t.Fatal(err)
		}
		code, out, _ := ferry(t, nil, "verify", old)
		if code != exitOK || !strings.Contains(out, "no catalog in this backup") {
			t.Fatalf("verify: exit %d %s", code, out)
		}
		dst := startSandbox(t, sandbox.Spec{Provider: "appid", Seed: 1, Empty: true})
		getenv := getenvOf(nil, dst)
		code, _, errs := ferry(t, getenv, "migrate", "--from", old, "--to", dst.Endpoint, "--no-progress")
		if code != exitAborted || !strings.Contains(errs, "no catalog in this backup") || !strings.Contains(errs, "missing role") {
			t.Fatalf("restore without --create-missing-roles: exit %d %s", code, errs)
		}
		code, _, errs = ferry(t, getenv, "migrate", "--from", old, "--to", dst.Endpoint, "--create-missing-roles", "--no-progress")
		if code != exitOK {
			t.Fatalf("restore: exit %d %s", code, errs)
		}
		if d := compareUsers(srcMembers, membersOf(t, dst.Endpoint, getenv)); len(d) > 0 {
			t.Errorf("memberships differ: %v", d[:min(len(d), 5)])
		}
		var have []string
		for _, r := range catalogOf(t, dst.Endpoint, getenv).Roles {
			have = append(have, r.Name)
		}
		for _, rs := range srcMembers {
			for _, r := range rs {
				if !slices.Contains(have, r) {
					t.Errorf("role %q of the users was not created; target has %v", r, have)
				}
			}
		}
	})
}

// TestStdinNeedsPlan: stdin cannot be read twice, so a run into a tenant needs --plan,
// and with it the advice is never given again.
func TestStdinNeedsPlan(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "in.ndjson")
	ferry(t, nil, "gen", "--provider", "scim", "--users", "20", "--out", in)
	dst := startSandbox(t, sandbox.Spec{Provider: "auth0", Seed: 3, Empty: true})
	getenv := getenvOf(nil, dst)
	stdinRun := func(args ...string) (int, string) {
		f, err := os.Open(in)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		old := os.Stdin
		os.Stdin = f
		defer func() { os.Stdin = old }()
		code, _, errs := ferry(t, getenv, append([]string{"migrate", "--from", "-", "--to", dst.Endpoint, "--no-progress", "--create-missing-roles"}, args...)...)
		return code, errs
	}
	code, errs := stdinRun()
	if code != exitUsage || !strings.Contains(errs, "--plan") || !strings.Contains(errs, "read only once") {
		t.Fatalf("stdin without --plan: exit %d %s", code, errs)
	}
	if code, errs := stdinRun("--dry-run"); code != exitOK || !strings.Contains(errs, "dry run: roles not checked") {
		t.Errorf("stdin dry run: exit %d %s", code, errs)
	}
	plan := filepath.Join(dir, "plan.json")
	if code, _, errs := ferry(t, nil, "plan", "--from", in, "--out", plan, "--no-progress"); code != exitOK {
		t.Fatalf("plan: exit %d %s", code, errs)
	}
	code, errs = stdinRun("--plan", plan)
	if code != exitOK && code != exitRejected {
		t.Fatalf("stdin with --plan: exit %d %s", code, errs)
	}
	if strings.Contains(errs, "pass --plan") || strings.Contains(errs, "roles not checked") {
		t.Errorf("--plan given, yet advised again: %s", errs)
	}
}

// TestCompareRestore: the rehearsal's comparison finds each kind of difference.
func TestCompareRestore(t *testing.T) {
	p := func(r, s string) core.Permission { return core.Permission{Resource: r, Scope: s} }
	want := &core.Catalog{Roles: []core.Role{{Name: "admin", Description: "d", Permissions: []core.Permission{p("api", "read"), p("api", "write")}}, {Name: "viewer"}},
		Scopes: []core.Permission{p("api", "read"), p("api", "write"), p("api", "unused")}}
	same := &core.Catalog{Roles: []core.Role{{Name: "viewer"}, {Name: "admin", Description: "d", Permissions: []core.Permission{p("api", "write"), p("api", "read")}}},
		Scopes: []core.Permission{p("api", "unused"), p("api", "read"), p("api", "write")}}
	if d := compareCatalogs(want, same); len(d) != 0 {
		t.Errorf("equal catalogs in another order differ: %v", d)
	}
	for name, tc := range map[string]struct {
		got  *core.Catalog
		want string
	}{
		"role missing": {&core.Catalog{Roles: same.Roles[1:], Scopes: same.Scopes}, `role "viewer": not restored`},
		"extra role":   {&core.Catalog{Roles: append(slices.Clone(same.Roles), core.Role{Name: "x"}), Scopes: same.Scopes}, `role "x": in the restored tenant`},
		"permission":   {&core.Catalog{Roles: []core.Role{{Name: "viewer"}, {Name: "admin", Description: "d", Permissions: []core.Permission{p("api", "read")}}}, Scopes: same.Scopes}, `role "admin": permissions`},
		"description":  {&core.Catalog{Roles: []core.Role{{Name: "viewer"}, {Name: "admin", Permissions: same.Roles[1].Permissions}}, Scopes: same.Scopes}, `description "d"`},
		"scope":        {&core.Catalog{Roles: same.Roles, Scopes: same.Scopes[1:]}, "scope api unused: not restored"},
	} {
		d := compareCatalogs(want, tc.got)
		if len(d) != 1 || !strings.Contains(d[0], tc.want) {
			t.Errorf("%s: %v, want one difference with %q", name, d, tc.want)
		}
	}
	users := map[string][]string{"a@x": {"admin"}, "b@x": nil}
	if d := compareUsers(users, map[string][]string{"a@x": {"admin"}, "b@x": nil}); len(d) != 0 {
		t.Errorf("equal users differ: %v", d)
	}
	d := compareUsers(users, map[string][]string{"a@x": {"viewer"}, "c@x": nil})
	if len(d) != 3 || !strings.Contains(d[0], "a@x: roles [admin]") || !strings.Contains(d[1], "b@x: not restored") || !strings.Contains(d[2], "c@x: in the restored tenant") {
		t.Errorf("differences: %v", d)
	}
}

// TestExportFileFirstPass: an App ID export (an envelope, no manifest) answers the
// preflight from the roles its users reference.
func TestExportFileFirstPass(t *testing.T) {
	dir := t.TempDir()
	var users []string
	for _, f := range []string{"facebook.json", "google-no-roles.json"} {
		b, err := os.ReadFile(filepath.Join("..", "..", "fixtures", "mappings", "appid", f))
		if err != nil {
			t.Fatal(err)
		}
		users = append(users, strings.TrimSpace(string(b)))
	}
	export := filepath.Join(dir, "export.json")
	os.WriteFile(export, []byte(`{"itemsPerPage":2,"totalResults":2,"users":[`+strings.Join(users, ",")+`]}`), 0o600)
	dst := startSandbox(t, sandbox.Spec{Provider: "appid", Seed: 1, Empty: true})
	getenv := getenvOf(nil, dst)
	code, out, errs := ferry(t, getenv, "roles", "diff", "--from", export, "--from-format", "appid", "--to", dst.Endpoint)
	if code != exitAborted || !strings.Contains(out, `missing role "adult"`) || !strings.Contains(out, `missing role "child"`) {
		t.Errorf("roles diff from an export: exit %d %s %s", code, out, errs)
	}
	code, _, errs = ferry(t, getenv, "roles", "diff", "--from", "-", "--from-format", "appid", "--to", dst.Endpoint)
	if code != exitUsage || !strings.Contains(errs, "read only once") {
		t.Errorf("roles diff from stdin: exit %d %s", code, errs)
	}
}

// TestEncryptedBackupCatalog: an encrypted backup's catalog is encrypted to the same
// recipients, checked by verify, and read back with FERRY_AGE_IDENTITY_FILE.
func TestEncryptedBackupCatalog(t *testing.T) {
	dir := t.TempDir()
	id, idFile := ageKey(t, dir)
	src := startSandbox(t, sandbox.Spec{Provider: "auth0", Users: 30, Seed: 1})
	dst := startSandbox(t, sandbox.Spec{Provider: "auth0", Seed: 3, Empty: true})
	bk := filepath.Join(dir, "b.ndjson.gz.age")
	if code, _, errs := ferry(t, getenvOf(nil, src), "migrate", "--from", src.Endpoint, "--to", bk, "--encrypt-to", id.Recipient().String(), "--no-progress"); code != exitOK {
		t.Fatalf("backup: exit %d %s", code, errs)
	}
	raw, err := os.ReadFile(backup.CatalogPath(bk, true))
	if err != nil || !bytes.HasPrefix(raw, []byte("age-encryption.org/v1")) {
		t.Fatalf("catalog not encrypted: %.40q %v", raw, err)
	}
	if code, out, _ := ferry(t, nil, "verify", bk); code != exitOK || !strings.Contains(out, "catalog checksum OK") {
		t.Errorf("verify without key: exit %d %s", code, out)
	}
	withKey := getenvOf(map[string]string{backup.IdentityEnv: idFile}, dst)
	if code, out, _ := ferry(t, withKey, "verify", bk); code != exitOK || !strings.Contains(out, "catalog OK") {
		t.Errorf("verify with key: exit %d %s", code, out)
	}
	if code, _, errs := ferry(t, getenvOf(nil, dst), "roles", "diff", "--from", bk, "--to", dst.Endpoint); code == exitOK || !strings.Contains(errs, backup.IdentityEnv) {
		t.Errorf("roles from an encrypted backup without key: exit %d %s", code, errs)
	}
	if code, out, errs := ferry(t, withKey, "roles", "copy", "--from", bk, "--to", dst.Endpoint); code != exitOK || !strings.Contains(out, "created:") {
		t.Errorf("roles copy with key: exit %d %s %s", code, out, errs)
	}
	if d := compareCatalogs(catalogOf(t, src.Endpoint, getenvOf(nil, src)), catalogOf(t, dst.Endpoint, withKey)); len(d) > 0 {
		t.Errorf("copied catalog differs: %v", d)
	}
}

// ageKey makes an age identity and the identity file FERRY_AGE_IDENTITY_FILE names.
func ageKey(t *testing.T, dir string) (*age.X25519Identity, string) {
	t.Helper()
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	idFile := filepath.Join(dir, "key.txt")
	if err := os.WriteFile(idFile, []byte(id.String()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return id, idFile
}
