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

// ErrStructure is a stream whose array structure is broken: reading cannot resume safely.
var ErrStructure = errors.New("malformed JSON array")

// NewArray reads the elements of a JSON array one by one. If the stream holds an object,
// the elements of its array member named by one of keys are read, or of its first
// array-valued member when keys is empty (App ID's {"users":[...]}, SCIM's "Resources").
func NewArray(r io.Reader, maxRecord int, keys ...string) Reader {
	if maxRecord <= 0 {
		maxRecord = DefaultMaxRecord
	}
	return &array{br: bufio.NewReaderSize(r, bufSize), max: maxRecord, keys: keys}
}

type array struct {
	br   *bufio.Reader
	max  int
	keys []string
	off  int64 // bytes consumed, for messages
	n    int64
	val  []byte
	rec  Record

	started, done bool
	// pending is a structural error found after a complete element: the element is
	// delivered first and the error on the following call.
	pending error
}

func (a *array) Next() (*Record, error) {
	if a.pending != nil {
		err := a.pending
		a.pending, a.done = nil, true
		return nil, err
	}
	if a.done {
		return nil, io.EOF
	}
	if !a.started {
		a.started = true
		if err := a.open(); err != nil {
			return nil, err
		}
		c, err := a.peekNonWS()
		if err != nil {
			return nil, a.truncated(err, "array not closed")
		}
		if c == ']' {
			a.discard(1)
			a.done = true
			return nil, io.EOF
		}
	}
	tooLong, err := a.readValue(true)
	if err != nil {
		return nil, a.truncated(err, fmt.Sprintf("element %d not closed", a.n+1))
	}
	a.n++
	a.rec = Record{Data: a.val, Ref: "element " + strconv.FormatInt(a.n, 10), N: a.n}
	switch {
	case tooLong:
		a.rec.Err = fmt.Errorf("element %d: %w: over %d bytes", a.n, ErrTooLarge, a.max)
	case !utf8.Valid(a.val):
		a.rec.Err = fmt.Errorf("element %d: %w at byte %d", a.n, ErrInvalidUTF8, invalidAt(a.val))
	}
	c, err := a.peekNonWS()
	switch {
	case err != nil:
		a.pending = a.truncated(err, "array not closed")
	case c == ',':
		a.discard(1)
	case c == ']':
		// The rest of a wrapper object is deliberately not read: it holds paging fields.
		a.discard(1)
		a.done = true
	default:
		a.pending = fmt.Errorf("%w: after element %d: expected ',' or ']' at byte %d, found %q", ErrStructure, a.n, a.off, c)
	}
	return &a.rec, nil
}

// open positions the reader just after the '[' of the record array.
func (a *array) open() error {
	if b, err := a.br.Peek(3); err == nil && bytes.Equal(b, bom) {
		a.discard(3)
	}
	c, err := a.peekNonWS()
	if err != nil {
		if err == io.EOF {
			return fmt.Errorf("%w: empty input", ErrStructure)
		}
		return err
	}
	switch c {
	case '[':
		a.discard(1)
		return nil
	case '{':
		a.discard(1)
		return a.findMember()
	}
	return fmt.Errorf("%w: input starts with %q, not an array or an object holding one", ErrStructure, c)
}

// findMember walks the wrapper object's members until the record array.
func (a *array) findMember() error {
	var first string
	for {
		c, err := a.peekNonWS()
		if err != nil {
			return a.truncated(err, "wrapper object not closed")
		}
		if c == '}' {
			if first == "" {
				return fmt.Errorf("%w: the object holds no array of records", ErrStructure)
			}
			return fmt.Errorf("%w: the object has no member %v", ErrStructure, a.keys)
		}
		if c != '"' {
			return fmt.Errorf("%w: expected a member name at byte %d, found %q", ErrStructure, a.off, c)
		}
		if _, err := a.readValue(true); err != nil {
			return a.truncated(err, "member name not closed")
		}
		name := string(bytes.Trim(a.val, `"`))
		if c, err = a.peekNonWS(); err != nil || c != ':' {
			return a.expect(err, ':')
		}
		a.discard(1)
		if c, err = a.peekNonWS(); err != nil {
			return a.truncated(err, "member "+name+" has no value")
		}
		if c == '[' && a.wants(name) {
			a.discard(1)
			return nil
		}
		if c == '[' && first == "" {
			first = name
		}
		if _, err := a.readValue(false); err != nil {
			return a.truncated(err, "member "+name+" not closed")
		}
		if c, err = a.peekNonWS(); err != nil {
			return a.truncated(err, "wrapper object not closed")
		}
		if c == ',' {
			a.discard(1)
		}
	}
}

func (a *array) wants(name string) bool {
	if len(a.keys) == 0 {
		return true
	}
	for _, k := range a.keys {
		if k == name {
			return true
		}
	}
	return false
}

func (a *array) expect(err error, want byte) error {
	if err != nil {
		return a.truncated(err, fmt.Sprintf("expected %q", want))
	}
	return fmt.Errorf("%w: expected %q at byte %d", ErrStructure, want, a.off)
}

func (a *array) truncated(err error, what string) error {
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		return fmt.Errorf("%w: input ends at byte %d: %s (truncated file?)", io.ErrUnexpectedEOF, a.off, what)
	}
	return err
}

func (a *array) discard(n int) {
	d, _ := a.br.Discard(n)
	a.off += int64(d)
}

// peekNonWS skips white space and returns the next byte without consuming it.
func (a *array) peekNonWS() (byte, error) {
	for {
		b, err := a.br.Peek(1)
		if err != nil {
			return 0, err
		}
		switch b[0] {
		case ' ', '\t', '\n', '\r':
			a.discard(1)
		default:
			return b[0], nil
		}
	}
}

// readValue consumes one JSON value (after optional white space). With capture it keeps
// the value's bytes in a.val, at most a.max of them (tooLong reports the rest was cut).
// It finds the value's end only: full validation is left to the decoder of the record.
func (a *array) readValue(capture bool) (tooLong bool, err error) {
	a.val = a.val[:0]
	if _, err := a.peekNonWS(); err != nil {
		return false, err
	}
	var (
		depth          int
		inStr, esc     bool
		started, ended bool
	)
	for !ended {
		if a.br.Buffered() == 0 {
			if _, err := a.br.Peek(1); err != nil {
				if err == io.EOF && started && depth == 0 && !inStr {
					return tooLong, nil // a scalar at the very end of input
				}
				if err == io.EOF {
					err = io.ErrUnexpectedEOF
				}
				return tooLong, err
			}
		}
		b, _ := a.br.Peek(a.br.Buffered())
		end := len(b)
		i := 0
		if esc {
			esc = false
			i = 1
		}
	scan:
		for ; i < len(b); i++ {
			if inStr {
				k := bytes.IndexAny(b[i:], "\"\\")
				if k < 0 {
					break
				}
				i += k
				if b[i] == '\\' {
					if i+1 >= len(b) {
						esc = true
						break
					}
					i++
					continue
				}
				inStr = false
				if depth == 0 {
					end, ended = i+1, true
					break scan
				}
				continue
			}
			switch b[i] {
			case '"':
				inStr, started = true, true
			case '{', '[':
				depth++
				started = true
			case '}', ']':
				if depth == 0 {
					if !started {
						return tooLong, fmt.Errorf("%w: expected a value at byte %d, found %q", ErrStructure, a.off+int64(i), b[i])
					}
					end, ended = i, true
					break scan
				}
				depth--
				if depth == 0 {
					end, ended = i+1, true
					break scan
				}
			case ',', ' ', '\t', '\n', '\r':
				if depth == 0 && started {
					end, ended = i, true
					break scan
				}
				if depth == 0 && b[i] == ',' {
					return tooLong, fmt.Errorf("%w: expected a value at byte %d, found ','", ErrStructure, a.off+int64(i))
				}
			default:
				started = true
			}
		}
		if capture {
			if room := a.max - len(a.val); room < end {
				if room > 0 {
					a.val = append(a.val, b[:room]...)
				}
				tooLong = true
			} else {
				a.val = append(a.val, b[:end]...)
			}
		}
		a.discard(end)
	}
	return tooLong, nil
}
