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

	"filippo.io/age"
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

// Options tune Open.
type Options struct {
	MaxRecord int      // bytes per record; default jsonstream.DefaultMaxRecord
	Keys      []string // members of a wrapper object that may hold the array
	// Identities decrypt an age-encrypted file (recognised by its header, whatever its name).
	Identities []age.Identity
}

// Open opens path ("-" for stdin) for reading records.
func Open(path string, opt Options) (*Reader, error) {
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
	if sniffAge(br) {
		if len(opt.Identities) == 0 {
			r.Close()
			return nil, fmt.Errorf("%s: %w: set FERRY_AGE_IDENTITY_FILE to the file holding the age identity", r.path, ErrEncrypted)
		}
		dr, err := age.Decrypt(br, opt.Identities...)
		if err != nil {
			r.Close()
			return nil, fmt.Errorf("%s: decrypt: %w", r.path, err)
		}
		br = bufio.NewReaderSize(dr, 64<<10)
		in = br
	}
	if Gzipped(path) || sniffGzip(br) {
		compressed := &countReader{r: br}
		zr, err := gzip.NewReader(compressed)
		if err != nil {
			r.Close()
			return nil, fmt.Errorf("%s: gzip: %w", r.path, err)
		}
		r.closers = append(r.closers, zr)
		in = &bombGuard{r: zr, compressed: compressed}
	}
	c, ok := ContainerOf(path)
	if !ok {
		zbr := bufio.NewReaderSize(in, 64<<10)
		c = sniffContainer(zbr)
		in = zbr
	}
	if c == Array {
		r.Reader = jsonstream.NewArray(in, opt.MaxRecord, opt.Keys...)
	} else {
		r.Reader = jsonstream.NewNDJSON(in, opt.MaxRecord)
	}
	return r, nil
}

// ErrEncrypted is an encrypted file with no identity to open it.
var ErrEncrypted = errors.New("file is age-encrypted")

// ErrBomb is a gzip stream that inflates far beyond what JSON compresses to.
var ErrBomb = errors.New("decompressed size out of proportion (gzip bomb?)")

// Bomb thresholds: user JSON compresses 5-30x; a stream past bombMinBytes that inflates
// more than bombRatio times is not user data, and reading on would only burn time.
var (
	bombMinBytes int64 = 256 << 20 // a var so tests can lower it
	bombRatio    int64 = 200
)

type countReader struct {
	r io.Reader
	n int64
}

func (c *countReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

type bombGuard struct {
	r          io.Reader
	compressed *countReader
	inflated   int64
}

func (b *bombGuard) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	b.inflated += int64(n)
	if b.inflated > bombMinBytes && b.inflated > bombRatio*b.compressed.n {
		return n, fmt.Errorf("%w: %d bytes from %d compressed", ErrBomb, b.inflated, b.compressed.n)
	}
	return n, err
}

func sniffAge(br *bufio.Reader) bool {
	b, err := br.Peek(len(ageMagic))
	return err == nil && string(b) == ageMagic
}

const ageMagic = "age-encryption.org/v1"

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
