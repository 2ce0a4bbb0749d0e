package extract

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"filippo.io/age"
	"github.com/ferry-dev/ferry/internal/backup"
	"github.com/ferry-dev/ferry/internal/core"
	"github.com/ferry-dev/ferry/internal/endpoint"
	"github.com/ferry-dev/ferry/internal/fileio"
)

func init() { Register("file", openFile) }

// File reads a backup or export file: NDJSON or a JSON array (optionally inside a wrapper
// object such as App ID's {"users":[...]}), gzipped or not, or stdin.
type File struct {
	path   string
	format string
	skip   int64 // records to pass over on resume
	max    int
	ids    []age.Identity
}

var (
	_ core.Source  = (*File)(nil)
	_ core.Counter = (*File)(nil)
	_ core.Resumer = (*File)(nil)
	// A backup answers the roles preflight from its catalog, any other file from the roles
	// its users reference (a first pass: a file can be read twice, stdin cannot).
	_ core.RoleReader  = (*File)(nil)
	_ core.RoleScanner = (*File)(nil)
)

func openFile(_ context.Context, ep *endpoint.Endpoint, opt core.Options) (core.Source, error) {
	format := opt.Format
	if format == "" {
		format = core.FormatSCIM
		if m, err := backup.ReadManifest(backup.ManifestPath(ep.Path)); err == nil && m.Format != "" {
			format = m.Format
		}
	}
	if ep.Path != "-" {
		if _, err := os.Stat(ep.Path); err != nil {
			return nil, fmt.Errorf("source file: %v: %w", err, core.ErrUsage)
		}
	}
	ids, err := backup.Identities(getenvOf(opt))
	if err != nil {
		return nil, err
	}
	return &File{path: ep.Path, format: format, ids: ids}, nil
}

func getenvOf(opt core.Options) func(string) string {
	if opt.Getenv != nil {
		return opt.Getenv
	}
	return func(string) string { return "" }
}

// NewFile returns a source reading path in the given record format.
func NewFile(path, format string) *File { return &File{path: path, format: format} }

// Name implements core.Source.
func (f *File) Name() string {
	if f.path == "-" {
		return "stdin"
	}
	return "file:" + f.path
}

// Format implements core.Source.
func (f *File) Format() string { return f.format }

// Total reads the user count from the manifest beside the file, when there is one.
func (f *File) Total(context.Context) (int64, bool) {
	m, err := backup.ReadManifest(backup.ManifestPath(f.path))
	if err != nil {
		return 0, false
	}
	return m.Users - f.skip, true
}

// ResumeAfter takes a cursor "n=K": the first K records were committed. Counting records
// rather than storing a byte offset keeps resume working through gzip.
func (f *File) ResumeAfter(cursor string) error {
	k, err := strconv.ParseInt(strings.TrimPrefix(cursor, "n="), 10, 64)
	if err != nil || k < 0 || !strings.HasPrefix(cursor, "n=") {
		return fmt.Errorf("file source: bad resume cursor %q: %w", cursor, core.ErrUsage)
	}
	f.skip = k
	return nil
}

// wrapperKeys are the members holding the user array in the envelopes ferry reads:
// App ID exports ("users") and SCIM ListResponses ("Resources").
var wrapperKeys = []string{"users", "Resources"}

// Users implements core.Source.
func (f *File) Users(ctx context.Context, emit func(core.Record) error) error {
	r, err := fileio.Open(f.path, fileio.Options{MaxRecord: f.max, Keys: wrapperKeys, Identities: f.ids})
	if err != nil {
		return fmt.Errorf("source file: %w", err)
	}
	defer r.Close()
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		rec, err := r.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("source file: %w", err)
		}
		if rec.N <= f.skip {
			continue
		}
		// The reader reuses its buffer; the record travels to other goroutines.
		data := append([]byte(nil), rec.Data...)
		if err := emit(core.Record{Data: data, Ref: rec.Ref, Cursor: "n=" + strconv.FormatInt(rec.N, 10), Err: rec.Err}); err != nil {
			return err
		}
	}
}

// Roles implements core.RoleReader from the backup's catalog file. A file without a
// manifest, or a backup written before backups carried a catalog, answers
// core.ErrNoCatalog (wrapped, saying which).
func (f *File) Roles(context.Context) (*core.Catalog, error) {
	if f.path == "-" {
		return nil, fmt.Errorf("stdin: %w", core.ErrNoCatalog)
	}
	m, err := backup.ReadManifest(backup.ManifestPath(f.path))
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("%s is not a ferry backup (no manifest beside it): %w", f.path, core.ErrNoCatalog)
		}
		return nil, err
	}
	if m.Catalog == nil {
		return nil, fmt.Errorf("%s: %w", f.path, backup.ErrNoCatalog)
	}
	return backup.ReadCatalog(f.path, f.ids...)
}

// ReferencedRoles implements core.RoleScanner: a first pass over the whole file, decode
// naming each record's roles. Records that cannot be read are left to the run proper,
// which rejects them with their reason.
func (f *File) ReferencedRoles(ctx context.Context, decode func([]byte) ([]string, error)) ([]string, error) {
	if f.path == "-" {
		return nil, fmt.Errorf("stdin: %w", core.ErrOnePass)
	}
	r, err := fileio.Open(f.path, fileio.Options{MaxRecord: f.max, Keys: wrapperKeys, Identities: f.ids})
	if err != nil {
		return nil, fmt.Errorf("source file: %w", err)
	}
	defer r.Close()
	seen := map[string]bool{}
	var names []string
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		rec, err := r.Next()
		if err == io.EOF {
			return names, nil
		}
		if err != nil {
			return nil, fmt.Errorf("source file: roles pass: %w", err)
		}
		if rec.Err != nil {
			continue
		}
		rs, err := decode(rec.Data)
		if err != nil {
			continue
		}
		for _, n := range rs {
			if n != "" && !seen[n] {
				seen[n] = true
				names = append(names, n)
			}
		}
	}
}
