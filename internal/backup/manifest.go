package backup

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"filippo.io/age"
	"github.com/ferry-dev/ferry/internal/atomicfile"
	"github.com/ferry-dev/ferry/internal/fileio"
	"github.com/segmentio/encoding/json"
)

// FormatVersion is the manifest format; readers refuse a newer one.
const FormatVersion = 1

// Manifest describes a complete backup file. It holds no user data and no secrets.
type Manifest struct {
	FormatVersion int       `json:"format_version"`
	Tool          string    `json:"tool"`
	Data          string    `json:"data"`   // the data file's base name
	Source        string    `json:"source"` // where the users came from, without credentials
	Format        string    `json:"format"` // record format (scim, auth0, ...)
	Created       time.Time `json:"created"`
	Users         int64     `json:"users"`
	Bytes         int64     `json:"bytes"`
	SHA256        string    `json:"sha256"` // of the file as stored (compressed, encrypted)
	Compressed    bool      `json:"compressed"`
	Encrypted     bool      `json:"encrypted,omitempty"`
	// Since is set for an incremental backup: users changed after this time only.
	Since *time.Time `json:"since,omitempty"`
	// Catalog lists the source's roles catalog file; nil in a backup written before
	// backups carried one, or of a source without a catalog.
	Catalog *CatalogEntry `json:"catalog,omitempty"`
}

// ManifestPath is where the manifest of a data file lives.
func ManifestPath(data string) string { return data + ".manifest.json" }

// WriteManifest writes m atomically with mode 0600.
func WriteManifest(path string, m *Manifest) error {
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	if err := atomicfile.WriteFile(path, append(b, '\n')); err != nil {
		return fmt.Errorf("backup: manifest: %w", err)
	}
	return nil
}

// ReadManifest reads and checks the manifest at path.
func ReadManifest(path string) (*Manifest, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("backup: %w", err)
	}
	m := new(Manifest)
	if err := json.Unmarshal(b, m); err != nil {
		return nil, fmt.Errorf("backup: manifest %s: %w", path, err)
	}
	if m.FormatVersion < 1 || m.FormatVersion > FormatVersion {
		return nil, fmt.Errorf("backup: manifest %s: format version %d not supported (this ferry reads up to %d)", path, m.FormatVersion, FormatVersion)
	}
	return m, nil
}

// Verification problems callers can branch on.
var (
	ErrChecksum = errors.New("checksum mismatch")
	ErrCount    = errors.New("user count mismatch")
	ErrRecord   = errors.New("unreadable record")
)

// Report is the outcome of Verify.
type Report struct {
	Manifest *Manifest `json:"manifest"`
	Users    int64     `json:"users"`
	Bytes    int64     `json:"bytes"`
	SHA256   string    `json:"sha256"`
	Problems []string  `json:"problems,omitempty"`
	// Counted is false for an encrypted file verified without its identity: only the
	// checksum was checked.
	Counted bool `json:"counted"`
	// Catalog is the catalog file's verdict: "none" (no catalog in this backup),
	// "checked" (checksum, parse and counts), or "checksum" (encrypted, no identity given).
	Catalog string `json:"catalog"`
	Roles   int    `json:"roles,omitempty"`
	Scopes  int    `json:"scopes,omitempty"`
}

// Verify checks the data file against its manifest: size and checksum of the stored bytes,
// then every record readable as JSON and their number. It reports every problem it finds.
// An encrypted file's records are counted only when identities are given.
func Verify(path string, identities ...age.Identity) (*Report, error) {
	m, err := ReadManifest(ManifestPath(path))
	if err != nil {
		return nil, err
	}
	rep := &Report{Manifest: m}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("backup: %w", err)
	}
	h := sha256.New()
	n, err := io.Copy(h, f)
	f.Close()
	if err != nil {
		return nil, fmt.Errorf("backup: %s: %w", path, err)
	}
	rep.Bytes, rep.SHA256 = n, hex.EncodeToString(h.Sum(nil))
	var errs []error
	if rep.SHA256 != m.SHA256 || rep.Bytes != m.Bytes {
		errs = append(errs, fmt.Errorf("%w: file has %d bytes with sha256 %s, manifest says %d bytes with %s", ErrChecksum, rep.Bytes, rep.SHA256, m.Bytes, m.SHA256))
	}
	if !m.Encrypted || len(identities) > 0 {
		rep.Users, err = countRecords(path, identities)
		if err != nil {
			errs = append(errs, err)
		} else if rep.Counted = true; rep.Users != m.Users {
			errs = append(errs, fmt.Errorf("%w: file holds %d users, manifest says %d", ErrCount, rep.Users, m.Users))
		}
	}
	errs = append(errs, verifyCatalog(path, m, identities, rep)...)
	for _, e := range errs {
		rep.Problems = append(rep.Problems, e.Error())
	}
	return rep, errors.Join(errs...)
}

func countRecords(path string, ids []age.Identity) (int64, error) {
	r, err := fileio.Open(path, fileio.Options{Identities: ids})
	if err != nil {
		return 0, err
	}
	defer r.Close()
	var n int64
	for {
		rec, err := r.Next()
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return n, err
		}
		if rec.Err != nil {
			return n, fmt.Errorf("%w: %v", ErrRecord, rec.Err)
		}
		if !json.Valid(rec.Data) {
			return n, fmt.Errorf("%w: %s is not valid JSON", ErrRecord, rec.Ref)
		}
		n++
	}
}

// verifyCatalog checks the catalog file the manifest lists: checksum always, content and
// counts when it can be read (plain, or encrypted with identities given).
func verifyCatalog(path string, m *Manifest, identities []age.Identity, rep *Report) []error {
	if m.Catalog == nil {
		rep.Catalog = "none"
		return nil
	}
	if m.Catalog.Encrypted && len(identities) == 0 {
		if _, err := readCatalogBytes(path, m.Catalog); err != nil {
			return []error{err}
		}
		rep.Catalog = "checksum"
		return nil
	}
	c, err := readCatalog(path, m, identities)
	if err != nil {
		return []error{err}
	}
	rep.Catalog, rep.Roles, rep.Scopes = "checked", len(c.Roles), len(c.Scopes)
	return nil
}
