package jsonstream

import (
	"encoding/binary"
	"errors"
	"math/bits"
	"strconv"
)

// Why Check refused a value; a *CheckError wraps one of them (test with errors.Is).
var (
	ErrSyntax = errors.New("malformed JSON")
	ErrUTF8   = errors.New("invalid UTF-8")
	ErrDepth  = errors.New("JSON nested too deep")
)

// CheckError says where Check stopped and why. It never quotes the input: a record may hold
// secrets.
type CheckError struct {
	Offset int   // byte offset of the first offending byte; len(input) if the input ends early
	Err    error // ErrSyntax, ErrUTF8 or ErrDepth
}

func (e *CheckError) Error() string { return e.Err.Error() + " at byte " + strconv.Itoa(e.Offset) }

func (e *CheckError) Unwrap() error { return e.Err }

// Check reports whether b is exactly one JSON value (RFC 8259, surrounding whitespace
// allowed) of valid UTF-8, nested no deeper than maxDepth objects and arrays. It returns nil
// or a *CheckError naming the first problem met reading left to right.
//
// It accepts exactly what utf8.Valid(b) && json.Valid(b) && !TooDeep(b, maxDepth) accepts,
// in one pass, without allocating unless maxDepth exceeds 512 and b is deeper than that
// could hold. (json.Valid: encoding/json's and segmentio's agree on every input FuzzCheck
// found; both accept invalid UTF-8 inside strings, hence the utf8.Valid. encoding/json also
// refuses nesting past 10,000 levels, which only matters for a maxDepth above that.)
// Like both it accepts escaped lone surrogates ("\ud800"): the JSON text is valid, only its
// decoding is lossy, and decoders that care (transform.unquote) refuse them.
func Check(b []byte, maxDepth int) error {
	var (
		// kinds holds one bit per open container, set for an object: what a ',' or a
		// closing bracket must match.
		small [8]uint64
		kinds = small[:]
		depth int
		i     int
		n     = len(b)
	)
	if need := min(maxDepth, n); need > 64*len(small) {
		kinds = make([]uint64, need/64+1)
	}

value:
	for i < n && b[i] <= ' ' && isWS(b[i]) {
		i++
	}
	if i >= n {
		return &CheckError{Offset: n, Err: ErrSyntax}
	}
	switch c := b[i]; c {
	case '"':
		var err error
		if i, err = checkString(b, i+1); err != nil {
			return err
		}
	case '{':
		if depth++; depth > maxDepth {
			return &CheckError{Offset: i, Err: ErrDepth}
		}
		kinds[(depth-1)>>6] |= 1 << ((depth - 1) & 63)
		i++
		for i < n && b[i] <= ' ' && isWS(b[i]) {
			i++
		}
		if i < n && b[i] == '}' {
			depth--
			i++
			goto next
		}
		goto key
	case '[':
		if depth++; depth > maxDepth {
			return &CheckError{Offset: i, Err: ErrDepth}
		}
		kinds[(depth-1)>>6] &^= 1 << ((depth - 1) & 63)
		i++
		for i < n && b[i] <= ' ' && isWS(b[i]) {
			i++
		}
		if i < n && b[i] == ']' {
			depth--
			i++
			goto next
		}
		goto value
	case 't':
		if n-i < 4 || string(b[i:i+4]) != "true" {
			return literalError(b, i, "true")
		}
		i += 4
	case 'f':
		if n-i < 5 || string(b[i:i+5]) != "false" {
			return literalError(b, i, "false")
		}
		i += 5
	case 'n':
		if n-i < 4 || string(b[i:i+4]) != "null" {
			return literalError(b, i, "null")
		}
		i += 4
	default:
		if c != '-' && (c < '0' || c > '9') {
			return unexpected(b, i)
		}
		var err error
		if i, err = checkNumber(b, i); err != nil {
			return err
		}
	}

next:
	// A value ended at i: what may follow depends on the innermost open container.
	for i < n && b[i] <= ' ' && isWS(b[i]) {
		i++
	}
	if depth == 0 {
		if i != n {
			return unexpected(b, i)
		}
		return nil
	}
	if i >= n {
		return &CheckError{Offset: n, Err: ErrSyntax}
	}
	if kinds[(depth-1)>>6]&(1<<((depth-1)&63)) != 0 {
		switch b[i] {
		case ',':
			i++
			for i < n && b[i] <= ' ' && isWS(b[i]) {
				i++
			}
			goto key
		case '}':
			depth--
			i++
			goto next
		}
		return unexpected(b, i)
	}
	switch b[i] {
	case ',':
		i++
		goto value
	case ']':
		depth--
		i++
		goto next
	}
	return unexpected(b, i)

key:
	// At a member's key, whitespace already skipped.
	if i >= n {
		return &CheckError{Offset: n, Err: ErrSyntax}
	}
	if b[i] != '"' {
		return unexpected(b, i)
	}
	{
		var err error
		if i, err = checkString(b, i+1); err != nil {
			return err
		}
	}
	for i < n && b[i] <= ' ' && isWS(b[i]) {
		i++
	}
	if i >= n {
		return &CheckError{Offset: n, Err: ErrSyntax}
	}
	if b[i] != ':' {
		return unexpected(b, i)
	}
	i++
	goto value
}

func isWS(c byte) bool { return c == ' ' || c == '\n' || c == '\r' || c == '\t' }

const (
	ones  = 0x0101010101010101
	highs = 0x8080808080808080
)

// checkString checks a string's contents from b[i], just past its opening quote, and
// returns the index just past its closing quote. Eight bytes at a time, it skips runs of
// bytes that need no attention: printable ASCII other than '"' and '\\'.
func checkString(b []byte, i int) (int, error) {
	n := len(b)
	for {
		for i+8 <= n {
			w := binary.LittleEndian.Uint64(b[i:])
			// High bit of a byte set in m where the byte is < 0x20, '"', '\\' or >= 0x80.
			// The borrow of the subtractions may mark bytes after a true hit, never
			// before one, so the lowest marked byte is the first that needs attention.
			q := w ^ (ones * '"')
			s := w ^ (ones * '\\')
			m := ((w-ones*0x20)&^w | (q-ones)&^q | (s-ones)&^s | w) & highs
			if m == 0 {
				i += 8
				continue
			}
			i += bits.TrailingZeros64(m) >> 3
			break
		}
		if i >= n {
			return n, &CheckError{Offset: n, Err: ErrSyntax}
		}
		c := b[i]
		switch {
		case c == '"':
			return i + 1, nil
		case c == '\\':
			if i+1 >= n {
				return n, &CheckError{Offset: n, Err: ErrSyntax}
			}
			switch b[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				for k := i + 2; k < i+6; k++ {
					if k >= n {
						return n, &CheckError{Offset: n, Err: ErrSyntax}
					}
					if !isHex(b[k]) {
						return k, &CheckError{Offset: k, Err: ErrSyntax}
					}
				}
				i += 6
			default:
				return i + 1, &CheckError{Offset: i + 1, Err: ErrSyntax}
			}
		case c < 0x20:
			return i, &CheckError{Offset: i, Err: ErrSyntax}
		case c >= 0x80:
			size := runeLen(b[i:])
			if size == 0 {
				return i, &CheckError{Offset: i, Err: ErrUTF8}
			}
			i += size
		default:
			// A plain byte in the tail shorter than eight bytes.
			i++
		}
	}
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

// runeLen returns the length of the valid UTF-8 sequence b starts with (b[0] >= 0x80), or 0.
// Overlong forms, surrogates (ED A0..BF) and code points past U+10FFFF are invalid, as in
// utf8.Valid.
func runeLen(b []byte) int {
	c := b[0]
	var size int
	lo, hi := byte(0x80), byte(0xBF)
	switch {
	case c < 0xC2:
		return 0
	case c < 0xE0:
		size = 2
	case c < 0xF0:
		size = 3
		if c == 0xE0 {
			lo = 0xA0
		} else if c == 0xED {
			hi = 0x9F
		}
	case c < 0xF5:
		size = 4
		if c == 0xF0 {
			lo = 0x90
		} else if c == 0xF4 {
			hi = 0x8F
		}
	default:
		return 0
	}
	if len(b) < size || b[1] < lo || b[1] > hi {
		return 0
	}
	for _, x := range b[2:size] {
		if x < 0x80 || x > 0xBF {
			return 0
		}
	}
	return size
}

// checkNumber checks the number starting at b[i] ('-' or a digit) and returns the index
// just past it: -? (0 | [1-9][0-9]*) (.[0-9]+)? ([eE][+-]?[0-9]+)?. What may follow it is
// the caller's business.
func checkNumber(b []byte, i int) (int, error) {
	n := len(b)
	if b[i] == '-' {
		i++
	}
	switch {
	case i >= n:
		return n, &CheckError{Offset: n, Err: ErrSyntax}
	case b[i] == '0':
		i++
	case b[i] >= '1' && b[i] <= '9':
		i++
		for i < n && b[i] >= '0' && b[i] <= '9' {
			i++
		}
	default:
		return i, unexpected(b, i)
	}
	if i < n && b[i] == '.' {
		i++
		if i >= n {
			return n, &CheckError{Offset: n, Err: ErrSyntax}
		}
		if b[i] < '0' || b[i] > '9' {
			return i, unexpected(b, i)
		}
		for i < n && b[i] >= '0' && b[i] <= '9' {
			i++
		}
	}
	if i < n && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < n && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if i >= n {
			return n, &CheckError{Offset: n, Err: ErrSyntax}
		}
		if b[i] < '0' || b[i] > '9' {
			return i, unexpected(b, i)
		}
		for i < n && b[i] >= '0' && b[i] <= '9' {
			i++
		}
	}
	return i, nil
}

// literalError locates the first byte of b[i:] that departs from lit.
func literalError(b []byte, i int, lit string) error {
	for k := 0; k < len(lit); k++ {
		if i+k >= len(b) {
			return &CheckError{Offset: len(b), Err: ErrSyntax}
		}
		if b[i+k] != lit[k] {
			return unexpected(b, i+k)
		}
	}
	return nil // not reached: the caller saw a mismatch
}

// unexpected is the error for a byte that cannot appear at b[i]. Outside strings a byte >=
// 0x80 is a syntax error either way; it is reported as invalid UTF-8 when it is that too.
func unexpected(b []byte, i int) error {
	if b[i] >= 0x80 && runeLen(b[i:]) == 0 {
		return &CheckError{Offset: i, Err: ErrUTF8}
	}
	return &CheckError{Offset: i, Err: ErrSyntax}
}
