package backup

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"filippo.io/age"
	"github.com/ferry-dev/ferry/internal/core"
)

var update = flag.Bool("update", false, "rewrite golden files")

// testCatalog has what a tenant's catalog has: roles with and without permissions and
// descriptions, and a scope no role grants.
func testCatalog() *core.Catalog {
	return &core.Catalog{
		Roles: []core.Role{
			{Name: "admin", Description: "Full access", Permissions: []core.Permission{
				{Resource: "https://api.example.com/", Scope: "read:users"},
				{Resource: "https://api.example.com/", Scope: "write:users"}}},
			{Name: "viewer", Permissions: []core.Permission{{Resource: "https://api.example.com/", Scope: "read:users"}}},
			{Name: "guest"},
		},
		Scopes: []core.Permission{
			{Resource: "https://api.example.com/", Scope: "read:users"},
			{Resource: "https://api.example.com/", Scope: "write:users"},
			{Resource: "https://billing.example.com/", Scope: "read:invoices"},
		},
	}
}

func writeWithCatalog(t *testing.T, path string, c *core.Catalog, rs ...age.Recipient) {
	t.Helper()
	w, err := Create(path, Manifest{Source: "auth0:test", Format: "scim"}, rs...)
	if err != nil {
		t.Fatal(err)
	}
	w.SetCatalog(c)
	if err := w.WriteRecord([]byte(`{"userName":"a","roles":[{"value":"admin"}]}`)); err != nil {
		t.Fatal(err)
	}
	if err := w.Commit(); err != nil {
		t.Fatal(err)
	}
}

// TestCatalogGolden pins the catalog file's format: what a backup holds must stay
// readable by later versions.
func TestCatalogGolden(t *testing.T) {
	got, err := MarshalCatalog(testCatalog())
	if err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("..", "..", "fixtures", "backup", "catalog.json")
	if *update {
		os.WriteFile(golden, got, 0o644)
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("catalog file differs from %s:\n%s", golden, got)
	}
	back, err := ParseCatalog(want)
	if err != nil || !reflect.DeepEqual(back, testCatalog()) {
		t.Errorf("golden catalog reads back as %+v, %v", back, err)
	}
}

func TestCatalogBesideBackup(t *testing.T) {
	path := filepath.Join(t.TempDir(), "b.ndjson.gz")
	writeWithCatalog(t, path, testCatalog())
	m, err := ReadManifest(ManifestPath(path))
	if err != nil || m.Catalog == nil {
		t.Fatalf("manifest %+v %v", m, err)
	}
	if m.Catalog.File != "b.ndjson.gz.catalog.json" || m.Catalog.Roles != 3 || m.Catalog.Scopes != 3 || m.Catalog.Encrypted {
		t.Errorf("catalog entry %+v", m.Catalog)
	}
	st, err := os.Stat(CatalogPath(path, false))
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("catalog file: %v %v", st, err)
	}
	c, err := ReadCatalog(path)
	if err != nil || !reflect.DeepEqual(c, testCatalog()) {
		t.Fatalf("read back %+v, %v", c, err)
	}
	rep, err := Verify(path)
	if err != nil || rep.Catalog != "checked" || rep.Roles != 3 || rep.Scopes != 3 {
		t.Fatalf("verify %+v %v", rep, err)
	}
	// No secret or id travels: only names, descriptions and scopes.
	raw, _ := os.ReadFile(CatalogPath(path, false))
	for _, bad := range []string{"secret", "token", `"id"`, "rol_"} {
		if strings.Contains(string(raw), bad) {
			t.Errorf("catalog holds %q", bad)
		}
	}
}

func TestCatalogTampered(t *testing.T) {
	for _, tc := range []struct {
		name   string
		damage func(path string, m *Manifest)
		want   error
	}{
		{"edited", func(p string, _ *Manifest) {
			b, _ := os.ReadFile(CatalogPath(p, false))
			os.WriteFile(CatalogPath(p, false), bytes.Replace(b, []byte("write:users"), []byte("admin:users"), 1), 0o600)
		}, ErrChecksum},
		{"missing", func(p string, _ *Manifest) { os.Remove(CatalogPath(p, false)) }, nil},
		{"elsewhere", func(p string, m *Manifest) {
			m.Catalog.File = "../etc/passwd"
			WriteManifest(ManifestPath(p), m)
		}, nil},
		{"counts", func(p string, m *Manifest) {
			m.Catalog.Roles = 4
			WriteManifest(ManifestPath(p), m)
		}, ErrCount},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "b.ndjson")
			writeWithCatalog(t, path, testCatalog())
			m, _ := ReadManifest(ManifestPath(path))
			tc.damage(path, m)
			rep, err := Verify(path)
			if err == nil || rep == nil || len(rep.Problems) == 0 {
				t.Fatalf("verify passed a damaged catalog: %+v", rep)
			}
			if tc.want != nil && !errors.Is(err, tc.want) {
				t.Errorf("got %v, want %v", err, tc.want)
			}
			if _, err := ReadCatalog(path); err == nil {
				t.Error("ReadCatalog read a damaged catalog")
			}
		})
	}
}

func TestCatalogEncrypted(t *testing.T) {
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "b.ndjson.gz.age")
	writeWithCatalog(t, path, testCatalog(), id.Recipient())
	raw, err := os.ReadFile(CatalogPath(path, true))
	if err != nil || !bytes.HasPrefix(raw, []byte("age-encryption.org/v1")) || bytes.Contains(raw, []byte("admin")) {
		t.Fatalf("catalog is not encrypted: %.60q %v", raw, err)
	}
	if _, err := os.Stat(CatalogPath(path, false)); !os.IsNotExist(err) {
		t.Errorf("a plain catalog lies beside an encrypted backup: %v", err)
	}
	rep, err := Verify(path)
	if err != nil || rep.Catalog != "checksum" {
		t.Errorf("verify without identity: %+v %v", rep, err)
	}
	if _, err := ReadCatalog(path); !errors.Is(err, core.ErrUsage) {
		t.Errorf("reading without identity: %v", err)
	}
	c, err := ReadCatalog(path, id)
	if err != nil || !reflect.DeepEqual(c, testCatalog()) {
		t.Errorf("read with identity: %+v %v", c, err)
	}
	if rep, err := Verify(path, id); err != nil || rep.Catalog != "checked" {
		t.Errorf("verify with identity: %+v %v", rep, err)
	}
}

// TestNoCatalog: a backup of the older format (no catalog) verifies and says so; a
// catalog an earlier backup left under the same name is removed, not passed off as this
// backup's.
func TestNoCatalog(t *testing.T) {
	path := filepath.Join(t.TempDir(), "b.ndjson")
	writeWithCatalog(t, path, testCatalog())
	writeFile(t, path, `{"userName":"a"}`)
	if _, err := os.Stat(CatalogPath(path, false)); !os.IsNotExist(err) {
		t.Errorf("an earlier backup's catalog is still beside this one: %v", err)
	}
	rep, err := Verify(path)
	if err != nil || rep.Catalog != "none" {
		t.Fatalf("verify %+v %v", rep, err)
	}
	if _, err := ReadCatalog(path); !errors.Is(err, core.ErrNoCatalog) || !strings.Contains(err.Error(), "no catalog in this backup") {
		t.Errorf("ReadCatalog: %v", err)
	}
}

func TestParseCatalogRefuses(t *testing.T) {
	for name, in := range map[string]string{
		"not json":      `{`,
		"other format":  `{"format":"x","version":1}`,
		"newer":         `{"format":"ferry-catalog","version":2}`,
		"no version":    `{"format":"ferry-catalog"}`,
		"unnamed role":  `{"format":"ferry-catalog","version":1,"roles":[{"name":" "}]}`,
		"role twice":    `{"format":"ferry-catalog","version":1,"roles":[{"name":"a"},{"name":"a"}]}`,
		"bad perm":      `{"format":"ferry-catalog","version":1,"roles":[{"name":"a","permissions":[{"resource":"r"}]}]}`,
		"bad scope":     `{"format":"ferry-catalog","version":1,"scopes":[{"scope":"s"}]}`,
		"roles not arr": `{"format":"ferry-catalog","version":1,"roles":{}}`,
	} {
		if c, err := ParseCatalog([]byte(in)); err == nil {
			t.Errorf("%s: accepted as %+v", name, c)
		}
	}
}

// FuzzParseCatalog: whatever the bytes, the parser returns a catalog or an error, and a
// catalog it accepts survives a write and a read unchanged.
func FuzzParseCatalog(f *testing.F) {
	if b, err := os.ReadFile(filepath.Join("..", "..", "fixtures", "backup", "catalog.json")); err == nil {
		f.Add(b)
	}
	f.Add([]byte(`{"format":"ferry-catalog","version":1,"roles":[],"scopes":[]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := ParseCatalog(b)
		if err != nil {
			return
		}
		out, err := MarshalCatalog(c)
		if err != nil {
			t.Fatalf("accepted catalog does not marshal: %v", err)
		}
		back, err := ParseCatalog(out)
		if err != nil {
			t.Fatalf("written catalog does not read back: %v\n%s", err, out)
		}
		if len(back.Roles) != len(c.Roles) || len(back.Scopes) != len(c.Scopes) {
			t.Fatalf("round trip changed the counts: %d/%d -> %d/%d", len(c.Roles), len(c.Scopes), len(back.Roles), len(back.Scopes))
		}
	})
}
