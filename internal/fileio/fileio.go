// Package fileio opens record files for reading and writing: gzip by extension, "-" for
// stdin/stdout, and the container (NDJSON lines or a JSON array) by extension or content.
package fileio

import (
	"bufio"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/ferry-dev/ferry/internal/jsonstream"
)

// Container is how records are laid out in a file.
type Container int

const (
	NDJSON Container = iota + 1
	Array
)

// ContainerOf decides by extension: .json is an array (or an object holding one); .ndjson,
// .jsonl and anything else are lines. ok is false when the name says nothing (stdin, no
// extension), and the caller sniffs the content.
func ContainerOf(path string) (c Container, ok bool) {
	base := strings.TrimSuffix(strings.ToLower(path), ".gz")
	base = strings.TrimSuffix(base, ".age")
	switch filepath.Ext(base) {
	case ".json":
		return Array, true
	case ".ndjson", ".jsonl":
		return NDJSON, true
	}
	return NDJSON, false
}

// Gzipped reports whether path names a gzip file.
func Gzipped(path string) bool {
	return strings.HasSuffix(strings.ToLower(strings.TrimSuffix(path, ".age")), ".gz")
}

// ErrTruncated marks input that ends in the middle of a gzip stream or a JSON array.
var ErrTruncated = errors.New("truncated input")

// Reader is an open record file.
type Reader struct {
	jsonstream.Reader
	closers []io.Closer
	path    string
}

// Close closes the underlying file.
func (r *Reader) Close() error {
	var first error
	for i := len(r.closers) - 1; i >= 0; i-- {
		if err := r.closers[i].Close(); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// Next wraps the stream's errors with the file name and turns a cut-off gzip stream into
// ErrTruncated, so the message says what happened rather than "unexpected EOF".
func (r *Reader) Next() (*jsonstream.Record, error) {
	rec, err := r.Reader.Next()
	if err == nil || err == io.EOF {
		return rec, err
	}
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, gzip.ErrChecksum) || errors.Is(err, gzip.ErrHeader) {
		return nil, fmt.Errorf("%s: %w: %v", r.path, ErrTruncated, err)
	}
	return nil, fmt.Errorf("%s: %w", r.path, err)
}

// Open opens path ("-" for stdin) for reading records. keys names the member of a wrapper
// object that holds the array (see jsonstream.NewArray).
func Open(path string, maxRecord int, keys ...string) (*Reader, error) {
	r := &Reader{path: path}
	var in io.Reader
	if path == "-" {
		in = os.Stdin
		r.path = "stdin"
	} else {
		f, err := os.Open(path)
		if err != nil {
			return nil, err
		}
		r.closers = append(r.closers, f)
		in = f
	}
	br := bufio.NewReaderSize(in, 64<<10)
	in = br
	if Gzipped(path) || sniffGzip(br) {
		zr, err := gzip.NewReader(br)
		if err != nil {
			r.Close()
			return nil, fmt.Errorf("%s: gzip: %w", r.path, err)
		}
		r.closers = append(r.closers, zr)
		in = zr
	}
	c, ok := ContainerOf(path)
	if !ok {
		zbr := bufio.NewReaderSize(in, 64<<10)
		c = sniffContainer(zbr)
		in = zbr
	}
	if c == Array {
		r.Reader = jsonstream.NewArray(in, maxRecord, keys...)
	} else {
		r.Reader = jsonstream.NewNDJSON(in, maxRecord)
	}
	return r, nil
}

func sniffGzip(br *bufio.Reader) bool {
	b, err := br.Peek(2)
	return err == nil && b[0] == 0x1f && b[1] == 0x8b
}

// sniffContainer treats input that starts with '[' as an array, anything else as lines.
// An object holding an array (App ID's export envelope) needs a .json name to be read
// as such: sniffing it would need the whole first line in memory.
func sniffContainer(br *bufio.Reader) Container {
	for i := 1; i < 4096; i++ {
		b, err := br.Peek(i)
		if err != nil {
			return NDJSON
		}
		switch c := b[i-1]; c {
		case ' ', '\t', '\r', '\n', 0xef, 0xbb, 0xbf:
			continue
		case '[':
			return Array
		default:
			return NDJSON
		}
	}
	return NDJSON
}
