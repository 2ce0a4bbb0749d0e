// Package backup writes record files atomically (temp file, fsync, rename) with a manifest
// beside them, and verifies a file against its manifest.
package backup

import (
	"bufio"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
	"time"

	"filippo.io/age"
	"github.com/ferry-dev/ferry/internal/core"
	"github.com/ferry-dev/ferry/internal/fileio"
)

// Writer writes records to path ("-" for stdout). Nothing appears at path until Commit.
type Writer struct {
	path      string
	tmp       *os.File
	out       io.Writer // the chain records are written into
	bw        *bufio.Writer
	gz        *gzip.Writer
	enc       io.WriteCloser // age encryption, when there are recipients
	sum       hash.Hash
	size      countWriter
	container fileio.Container
	n         int64
	meta      Manifest
	// catalog, when set, is written beside the data at Commit, encrypted like it.
	catalog    *core.Catalog
	recipients []age.Recipient
}

// Create starts a record file. The data goes to a 0600 temp file in the same directory, so
// the rename in Commit is atomic and a crash never leaves a half file under the real name.
// With recipients the file is age-encrypted to them (after gzip, which must come first:
// encrypted bytes do not compress).
func Create(path string, meta Manifest, recipients ...age.Recipient) (*Writer, error) {
	return CreateTo(path, nil, meta, recipients...)
}

// CreateTo is Create with the writer that stands for "-" (nil: os.Stdout).
func CreateTo(path string, stdout io.Writer, meta Manifest, recipients ...age.Recipient) (*Writer, error) {
	w := &Writer{path: path, meta: meta, sum: sha256.New(), recipients: recipients}
	w.container, _ = fileio.ContainerOf(path)
	var sink io.Writer
	if path == "-" {
		sink = stdout
		if sink == nil {
			sink = os.Stdout
		}
	} else {
		f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.partial")
		if err != nil {
			return nil, fmt.Errorf("backup: %w", err)
		}
		if err := f.Chmod(0o600); err != nil {
			f.Close()
			os.Remove(f.Name())
			return nil, fmt.Errorf("backup: %w", err)
		}
		w.tmp, sink = f, newWriteback(f)
	}
	// The checksum covers the bytes as stored, so `sha256sum FILE` matches the manifest.
	w.bw = bufio.NewWriterSize(io.MultiWriter(sink, w.sum, &w.size), 256<<10)
	w.out = w.bw
	if len(recipients) > 0 {
		enc, err := age.Encrypt(w.bw, recipients...)
		if err != nil {
			w.Abort()
			return nil, fmt.Errorf("backup: encrypt: %w", err)
		}
		w.enc, w.out = enc, enc
		w.meta.Encrypted = true
	}
	if fileio.Gzipped(path) {
		w.gz, _ = gzip.NewWriterLevel(w.out, gzip.BestSpeed)
		w.out = w.gz
		w.meta.Compressed = true
	}
	if w.container == fileio.Array {
		if _, err := io.WriteString(w.out, "["); err != nil {
			w.Abort()
			return nil, err
		}
	}
	return w, nil
}

// WriteRecord appends one JSON record.
func (w *Writer) WriteRecord(rec []byte) error {
	sep := "\n"
	if w.container == fileio.Array {
		sep = ",\n"
		if w.n == 0 {
			sep = "\n"
		}
		if _, err := io.WriteString(w.out, sep); err != nil {
			return err
		}
		sep = ""
	}
	if _, err := w.out.Write(rec); err != nil {
		return fmt.Errorf("backup: %s: %w", w.path, err)
	}
	if sep != "" {
		if _, err := io.WriteString(w.out, sep); err != nil {
			return fmt.Errorf("backup: %s: %w", w.path, err)
		}
	}
	w.n++
	return nil
}

// SetCatalog makes Commit write c as the backup's catalog file, before the manifest that
// lists it. A stdout stream has no manifest and keeps no catalog.
func (w *Writer) SetCatalog(c *core.Catalog) { w.catalog = c }

// Count is the number of records written so far.
func (w *Writer) Count() int64 { return w.n }

// Commit completes the file, moves it into place and then writes the manifest, so a
// manifest always describes complete data.
func (w *Writer) Commit() error {
	if w.container == fileio.Array {
		if _, err := io.WriteString(w.out, "\n]\n"); err != nil {
			return w.fail(err)
		}
	}
	if err := w.finish(); err != nil || w.tmp == nil {
		return err // stdout: no manifest, the stream is the product
	}
	w.meta.FormatVersion = FormatVersion
	w.meta.Tool = "ferry"
	w.meta.Data = filepath.Base(w.path)
	w.meta.Users = w.n
	w.meta.Bytes = int64(w.size)
	w.meta.SHA256 = hex.EncodeToString(w.sum.Sum(nil))
	if w.meta.Created.IsZero() {
		w.meta.Created = time.Now().UTC()
	}
	w.meta.Catalog = nil
	if w.catalog != nil {
		e, err := writeCatalog(w.path, w.catalog, w.recipients)
		if err != nil {
			return err
		}
		w.meta.Catalog = e
	}
	if err := WriteManifest(ManifestPath(w.path), &w.meta); err != nil {
		return err
	}
	// A catalog left by an earlier backup under this name is not this backup's: only once
	// the manifest no longer lists it can it go.
	for _, enc := range []bool{false, true} {
		if p := CatalogPath(w.path, enc); w.meta.Catalog == nil || filepath.Base(p) != w.meta.Catalog.File {
			os.Remove(p)
		}
	}
	return nil
}

// finish flushes every layer and renames the temp file into place.
func (w *Writer) finish() error {
	if w.gz != nil {
		if err := w.gz.Close(); err != nil {
			return w.fail(err)
		}
	}
	if w.enc != nil {
		if err := w.enc.Close(); err != nil {
			return w.fail(err)
		}
	}
	if err := w.bw.Flush(); err != nil {
		return w.fail(err)
	}
	if w.tmp == nil {
		return nil
	}
	if err := w.tmp.Sync(); err != nil {
		return w.fail(err)
	}
	if err := w.tmp.Close(); err != nil {
		return w.fail(err)
	}
	if err := os.Rename(w.tmp.Name(), w.path); err != nil {
		return w.fail(err)
	}
	syncDir(filepath.Dir(w.path))
	return nil
}

func (w *Writer) fail(err error) error {
	w.Abort()
	return fmt.Errorf("backup: %s: %w", w.path, err)
}

// Abort discards the temp file. The real path is untouched.
func (w *Writer) Abort() error {
	if w.tmp == nil {
		return nil
	}
	w.tmp.Close()
	err := os.Remove(w.tmp.Name())
	if os.IsNotExist(err) {
		err = nil
	}
	return err
}

type countWriter int64

func (c *countWriter) Write(p []byte) (int, error) {
	*c += countWriter(len(p))
	return len(p), nil
}

func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
}

// RawFile is a file written atomically (temp, fsync, rename, mode 0600) with gzip by
// extension, for outputs that are not record files with a manifest.
type RawFile struct {
	w *Writer
}

// CreateRaw starts a raw file at path.
func CreateRaw(path string) (*RawFile, error) {
	w, err := Create(path, Manifest{})
	if err != nil {
		return nil, err
	}
	// A raw file is written as the caller gives it: no array brackets.
	w.container = fileio.NDJSON
	return &RawFile{w: w}, nil
}

// Write implements io.Writer.
func (r *RawFile) Write(p []byte) (int, error) { return r.w.out.Write(p) }

// Commit completes the file and moves it into place, without a manifest.
func (r *RawFile) Commit() error { return r.w.finish() }

// Abort discards the file.
func (r *RawFile) Abort() error { return r.w.Abort() }
