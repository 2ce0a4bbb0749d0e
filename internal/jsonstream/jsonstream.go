// Package jsonstream splits a byte stream of JSON records into one []byte per record without
// holding the stream in memory: NDJSON line by line, and JSON arrays element by element (a
// top-level array, or the array inside a wrapper object such as {"users":[...]} or a SCIM
// ListResponse's "Resources"). segmentio's Decoder has no Token/More, hence this splitter.
package jsonstream

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"unicode/utf8"
)

// DefaultMaxRecord bounds one record. Auth0 rejects profiles over 1 MB and App ID's are
// smaller; 16 MiB leaves room for odd exports while a 50 MB line cannot exhaust memory.
const DefaultMaxRecord = 16 << 20

// Sentinel errors for per-record problems; the record is rejected and reading goes on.
var (
	ErrTooLarge    = errors.New("record too large")
	ErrInvalidUTF8 = errors.New("invalid UTF-8")
)

// Record is one split record. Data is only valid until the next call to Next.
type Record struct {
	Data []byte
	// Ref is "line N" for NDJSON, "element N" (1-based) for arrays.
	Ref string
	// N counts records from 1, including rejected ones.
	N int64
	// Err is a per-record problem (ErrTooLarge, ErrInvalidUTF8, bad JSON in a line);
	// Data then holds at most a prefix of the record.
	Err error
}

// Reader yields records; Next returns io.EOF at the end and any other error when the stream
// cannot be read further safely (truncated input, broken array structure).
type Reader interface {
	Next() (*Record, error)
}

const bufSize = 256 << 10

// NewNDJSON reads one JSON value per line. Blank lines are skipped; a BOM at the start is
// ignored (Windows tools write one).
func NewNDJSON(r io.Reader, maxRecord int) Reader {
	if maxRecord <= 0 {
		maxRecord = DefaultMaxRecord
	}
	return &ndjson{br: bufio.NewReaderSize(r, bufSize), max: maxRecord}
}

type ndjson struct {
	br   *bufio.Reader
	max  int
	line int64
	n    int64
	buf  []byte
	rec  Record
	bom  bool
}

func (d *ndjson) Next() (*Record, error) {
	for {
		line, tooLong, err := d.readLine()
		if err != nil && !(err == io.EOF && (len(line) > 0 || tooLong)) {
			return nil, err
		}
		d.line++
		if !d.bom {
			d.bom = true
			line = bytes.TrimPrefix(line, bom)
		}
		line = bytes.TrimSpace(line)
		if len(line) == 0 && !tooLong {
			if err == io.EOF {
				return nil, io.EOF
			}
			continue
		}
		d.n++
		d.rec = Record{Data: line, Ref: "line " + strconv.FormatInt(d.line, 10), N: d.n}
		switch {
		case tooLong:
			d.rec.Err = fmt.Errorf("line %d: %w: over %d bytes", d.line, ErrTooLarge, d.max)
		case !utf8.Valid(line):
			d.rec.Err = fmt.Errorf("line %d: %w at byte %d", d.line, ErrInvalidUTF8, invalidAt(line))
		}
		return &d.rec, nil
	}
}

// readLine returns the next line without its newline. A line longer than max is consumed
// to its end but only its first max bytes are kept, and tooLong is set.
func (d *ndjson) readLine() (line []byte, tooLong bool, err error) {
	d.buf = d.buf[:0]
	for {
		chunk, err := d.br.ReadSlice('\n')
		n := len(chunk)
		if err == nil {
			n-- // the newline ends the line; a line of exactly max bytes is not too long
		}
		if len(d.buf)+n > d.max {
			tooLong = true
			if room := d.max - len(d.buf); room > 0 {
				d.buf = append(d.buf, chunk[:room]...)
			}
		} else {
			d.buf = append(d.buf, chunk...)
		}
		switch err {
		case nil:
			return bytes.TrimSuffix(d.buf, nl), tooLong, nil
		case bufio.ErrBufferFull:
			continue
		case io.EOF:
			return d.buf, tooLong, io.EOF
		default:
			return nil, false, err
		}
	}
}

var (
	bom = []byte("\xef\xbb\xbf")
	nl  = []byte("\n")
)

func invalidAt(b []byte) int {
	for i := 0; i < len(b); {
		r, n := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && n <= 1 {
			return i
		}
		i += n
	}
	return -1
}
