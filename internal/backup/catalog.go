package backup

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"filippo.io/age"
	"github.com/ferry-dev/ferry/internal/atomicfile"
	"github.com/ferry-dev/ferry/internal/core"
	"github.com/segmentio/encoding/json"
)

// A backup's catalog is one file beside the users: the source's roles (with descriptions
// and permissions) and every scope of its resource servers or applications. Memberships
// stay on the users (SCIM roles), where a restore assigns them from. The file is JSON,
// age-encrypted to the backup's recipients when the users are, written atomically before
// the manifest that lists it with its SHA-256, so a manifest never names a missing catalog.
// It holds names and scopes only: no ids, no secrets.

// CatalogFormat names the file's format in its "format" member.
const CatalogFormat = "ferry-catalog"

// CatalogVersion is the catalog file's version; readers refuse a newer one.
const CatalogVersion = 1

// maxCatalog bounds what the parser accepts: App ID allows 50 roles and 50 scopes per
// application, Auth0 a few thousand roles; 64 MB is far past any real tenant.
const maxCatalog = 64 << 20

// CatalogEntry is the manifest's record of the catalog file.
type CatalogEntry struct {
	File      string `json:"file"` // base name, beside the data file
	Bytes     int64  `json:"bytes"`
	SHA256    string `json:"sha256"` // of the file as stored
	Roles     int    `json:"roles"`
	Scopes    int    `json:"scopes"`
	Encrypted bool   `json:"encrypted,omitempty"`
}

type catalogFile struct {
	Format  string            `json:"format"`
	Version int               `json:"version"`
	Roles   []core.Role       `json:"roles"`
	Scopes  []core.Permission `json:"scopes"`
}

// CatalogPath is where the catalog of the data file at data lives.
func CatalogPath(data string, encrypted bool) string {
	if encrypted {
		return data + ".catalog.json.age"
	}
	return data + ".catalog.json"
}

// MarshalCatalog is the catalog file's plain content, stable for golden files.
func MarshalCatalog(c *core.Catalog) ([]byte, error) {
	f := catalogFile{Format: CatalogFormat, Version: CatalogVersion, Roles: c.Roles, Scopes: c.Scopes}
	if f.Roles == nil {
		f.Roles = []core.Role{}
	}
	if f.Scopes == nil {
		f.Scopes = []core.Permission{}
	}
	b, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("backup: catalog: %w", err)
	}
	return append(b, '\n'), nil
}

// ParseCatalog reads a catalog file's plain content and checks it: a known format and
// version, named roles listed once, every permission and scope with a resource and a scope.
func ParseCatalog(b []byte) (*core.Catalog, error) {
	if len(b) > maxCatalog {
		return nil, fmt.Errorf("backup: catalog: %d bytes, more than the %d a catalog may hold", len(b), maxCatalog)
	}
	var f catalogFile
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("backup: catalog: %w", err)
	}
	if f.Format != CatalogFormat {
		return nil, fmt.Errorf("backup: catalog: format %q, want %q", f.Format, CatalogFormat)
	}
	if f.Version < 1 || f.Version > CatalogVersion {
		return nil, fmt.Errorf("backup: catalog: version %d not supported (this ferry reads up to %d)", f.Version, CatalogVersion)
	}
	seen := map[string]bool{}
	for i, r := range f.Roles {
		if strings.TrimSpace(r.Name) == "" {
			return nil, fmt.Errorf("backup: catalog: roles[%d] has no name", i)
		}
		if seen[r.Name] {
			return nil, fmt.Errorf("backup: catalog: role %q listed twice", r.Name)
		}
		seen[r.Name] = true
		for j, p := range r.Permissions {
			if p.Resource == "" || p.Scope == "" {
				return nil, fmt.Errorf("backup: catalog: role %q permissions[%d] lacks a resource or a scope", r.Name, j)
			}
		}
	}
	for i, p := range f.Scopes {
		if p.Resource == "" || p.Scope == "" {
			return nil, fmt.Errorf("backup: catalog: scopes[%d] lacks a resource or a scope", i)
		}
	}
	return &core.Catalog{Roles: f.Roles, Scopes: f.Scopes}, nil
}

// writeCatalog writes the catalog of the data file at data atomically (0600), encrypted
// to recipients when there are any, and returns its manifest entry.
func writeCatalog(data string, c *core.Catalog, recipients []age.Recipient) (*CatalogEntry, error) {
	plain, err := MarshalCatalog(c)
	if err != nil {
		return nil, err
	}
	stored := plain
	if len(recipients) > 0 {
		var buf bytes.Buffer
		enc, err := age.Encrypt(&buf, recipients...)
		if err != nil {
			return nil, fmt.Errorf("backup: catalog: encrypt: %w", err)
		}
		if _, err := enc.Write(plain); err != nil {
			return nil, fmt.Errorf("backup: catalog: encrypt: %w", err)
		}
		if err := enc.Close(); err != nil {
			return nil, fmt.Errorf("backup: catalog: encrypt: %w", err)
		}
		stored = buf.Bytes()
	}
	path := CatalogPath(data, len(recipients) > 0)
	if err := atomicfile.WriteFile(path, stored); err != nil {
		return nil, fmt.Errorf("backup: catalog: %w", err)
	}
	sum := sha256.Sum256(stored)
	return &CatalogEntry{File: filepath.Base(path), Bytes: int64(len(stored)), SHA256: hex.EncodeToString(sum[:]),
		Roles: len(c.Roles), Scopes: len(c.Scopes), Encrypted: len(recipients) > 0}, nil
}

// ErrNoCatalog says a backup has no catalog: written before backups carried one, or from a
// source that has none. Callers fall back to the roles the users reference.
var ErrNoCatalog = fmt.Errorf("no catalog in this backup: %w", core.ErrNoCatalog)

// ReadCatalog reads the catalog of the backup at data, checked against its manifest entry.
// An encrypted catalog needs identities.
func ReadCatalog(data string, identities ...age.Identity) (*core.Catalog, error) {
	m, err := ReadManifest(ManifestPath(data))
	if err != nil {
		return nil, err
	}
	return readCatalog(data, m, identities)
}

func readCatalog(data string, m *Manifest, identities []age.Identity) (*core.Catalog, error) {
	e := m.Catalog
	if e == nil {
		return nil, fmt.Errorf("%s: %w", data, ErrNoCatalog)
	}
	stored, err := readCatalogBytes(data, e)
	if err != nil {
		return nil, err
	}
	plain := stored
	if e.Encrypted {
		if len(identities) == 0 {
			return nil, fmt.Errorf("backup: catalog %s is encrypted: set %s to the age identity file: %w", e.File, IdentityEnv, core.ErrUsage)
		}
		r, err := age.Decrypt(bytes.NewReader(stored), identities...)
		if err != nil {
			return nil, fmt.Errorf("backup: catalog %s: decrypt: %w", e.File, err)
		}
		if plain, err = io.ReadAll(io.LimitReader(r, maxCatalog+1)); err != nil {
			return nil, fmt.Errorf("backup: catalog %s: decrypt: %w", e.File, err)
		}
	}
	c, err := ParseCatalog(plain)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", e.File, err)
	}
	if len(c.Roles) != e.Roles || len(c.Scopes) != e.Scopes {
		return nil, fmt.Errorf("%w: catalog %s holds %d roles and %d scopes, manifest says %d and %d", ErrCount, e.File, len(c.Roles), len(c.Scopes), e.Roles, e.Scopes)
	}
	return c, nil
}

// readCatalogBytes reads the stored catalog file and checks its size and checksum.
func readCatalogBytes(data string, e *CatalogEntry) ([]byte, error) {
	if e.File == "" || e.File != filepath.Base(e.File) || strings.ContainsAny(e.File, `/\`) || e.File == ".." {
		// The manifest names a file beside the data, never a path elsewhere.
		return nil, fmt.Errorf("backup: manifest names catalog %q, which is not a file beside the data", e.File)
	}
	path := filepath.Join(filepath.Dir(data), e.File)
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("backup: the manifest lists catalog %s, which is missing", e.File)
		}
		return nil, fmt.Errorf("backup: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxCatalog+1<<20))
	if err != nil {
		return nil, fmt.Errorf("backup: %s: %w", path, err)
	}
	sum := sha256.Sum256(b)
	if got := hex.EncodeToString(sum[:]); got != e.SHA256 || int64(len(b)) != e.Bytes {
		return nil, fmt.Errorf("%w: catalog %s has %d bytes with sha256 %s, manifest says %d bytes with %s", ErrChecksum, e.File, len(b), got, e.Bytes, e.SHA256)
	}
	return b, nil
}
