package load

import (
	"context"
	"fmt"
	"io"
	"sync"

	"filippo.io/age"

	"github.com/ferry-dev/ferry/internal/backup"
	"github.com/ferry-dev/ferry/internal/core"
	"github.com/ferry-dev/ferry/internal/endpoint"
)

func init() { Register("file", openFile) }

// File writes a backup file (NDJSON or JSON array, gzip by extension) and its manifest, or
// stdout for "-". The file appears under its name only when the run completes.
type File struct {
	path   string
	format string
	source string
	stdout io.Writer // stands for "-"
	// recipients, when set, encrypt the file (age).
	recipients []age.Recipient

	catalog *core.Catalog

	mu sync.Mutex
	w  *backup.Writer
}

var (
	_ core.Sink       = (*File)(nil)
	_ core.Aborter    = (*File)(nil)
	_ core.Sequential = (*File)(nil)
	// A backup keeps the source's roles catalog beside the users, for a restore.
	_ core.CatalogKeeper = (*File)(nil)
)

func openFile(_ context.Context, ep *endpoint.Endpoint, opt core.Options) (core.Sink, error) {
	format := opt.Format
	if format == "" {
		format = core.FormatSCIM
	}
	f := NewFile(ep.Path, format, opt.Source)
	f.stdout = opt.Stdout
	if len(opt.EncryptTo) > 0 {
		if ep.Path == "-" {
			return nil, fmt.Errorf("--encrypt-to needs a file target, not stdout: %w", core.ErrUsage)
		}
		rs, err := backup.Recipients(opt.EncryptTo)
		if err != nil {
			return nil, err
		}
		f.recipients = rs
	}
	return f, nil
}

// NewFile returns a sink writing records of format to path.
func NewFile(path, format, source string) *File {
	return &File{path: path, format: format, source: source}
}

// Name implements core.Sink.
func (f *File) Name() string {
	if f.path == "-" {
		return "stdout"
	}
	return "file:" + f.path
}

// Format implements core.Sink.
func (f *File) Format() string { return f.format }

// Sequential marks the sink as needing one writer at a time, in read order.
func (f *File) Sequential() {}

// Write implements core.Sink.
func (f *File) Write(_ context.Context, batch []core.Item) ([]core.Result, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.w == nil {
		w, err := backup.CreateTo(f.path, f.stdout, backup.Manifest{Source: f.source, Format: f.format}, f.recipients...)
		if err != nil {
			return nil, err
		}
		if f.catalog != nil {
			w.SetCatalog(f.catalog)
		}
		f.w = w
	}
	res := make([]core.Result, len(batch))
	for i := range batch {
		if err := f.w.WriteRecord(batch[i].Data); err != nil {
			return nil, err
		}
		res[i] = core.Result{Outcome: core.Created}
	}
	return res, nil
}

// Close implements core.Sink: an empty run still produces an (empty) file and manifest.
func (f *File) Close(ctx context.Context) error {
	if _, err := f.Write(ctx, nil); err != nil {
		return err
	}
	return f.w.Commit()
}

// KeepCatalog implements core.CatalogKeeper: the catalog is written at Close, before the
// manifest. Stdout carries only the users.
func (f *File) KeepCatalog(c *core.Catalog) error {
	if f.path == "-" {
		return fmt.Errorf("stdout carries only the users: the roles catalog is not kept (write the backup to a file to keep it)")
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.catalog = c
	return nil
}

// Abort implements core.Aborter.
func (f *File) Abort() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.w == nil {
		return nil
	}
	return f.w.Abort()
}
