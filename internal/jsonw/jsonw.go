// Package jsonw appends JSON by hand where reflection is too slow: the generators and the
// provider mappers build records byte by byte, and the SCIM encoder writes every user.
package jsonw

import (
	"math/bits"
	"unicode/utf8"
)

// HexDigits are the lower-case hex digits.
const HexDigits = "0123456789abcdef"

// AppendString appends s as a JSON string. Invalid UTF-8 becomes U+FFFD, so the output is
// valid JSON whatever s holds. Control characters are written \u00XX (never \b or \f) and
// U+2028/U+2029 escaped, so the bytes stay the same across ferry versions and backups
// hash alike.
func AppendString(b []byte, s string) []byte { return appendString(b, s, false) }

// AppendHTMLString appends s as segmentio's encoder writes a string with EscapeHTML (the
// SCIM encoder must reproduce its bytes): AppendString's output, but for \b and \f written
// as two-character escapes and <, >, & as \u003c, \u003e, \u0026.
func AppendHTMLString(b []byte, s string) []byte { return appendString(b, s, true) }

func appendString(b []byte, s string, html bool) []byte {
	b = append(b, '"')
	i, j := 0, 0
	for {
		if j = plainPrefix(s, j); j >= len(s) {
			break
		}
		c := s[j]
		if c < utf8.RuneSelf {
			if !html && (c == '<' || c == '>' || c == '&') {
				j++
				continue
			}
			b = append(b, s[i:j]...)
			switch {
			case c == '"' || c == '\\':
				b = append(b, '\\', c)
			case c == '\n':
				b = append(b, '\\', 'n')
			case c == '\r':
				b = append(b, '\\', 'r')
			case c == '\t':
				b = append(b, '\\', 't')
			case html && c == '\b':
				b = append(b, '\\', 'b')
			case html && c == '\f':
				b = append(b, '\\', 'f')
			default: // other control characters; <, >, & in HTML mode
				b = append(b, '\\', 'u', '0', '0', HexDigits[c>>4], HexDigits[c&0xf])
			}
			j++
			i = j
			continue
		}
		r, size := utf8.DecodeRuneInString(s[j:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, s[i:j]...)
			b = append(b, `\ufffd`...)
			j++
			i = j
		case r == '\u2028' || r == '\u2029':
			b = append(b, s[i:j]...)
			b = append(b, '\\', 'u', '2', '0', '2', HexDigits[r&0xf])
			j += size
			i = j
		default:
			j += size
		}
	}
	b = append(b, s[i:]...)
	return append(b, '"')
}

// htmlPlain marks the bytes both escapers copy unchanged without looking further:
// printable ASCII (DEL included) but for the quote, the backslash and <, >, &.
var htmlPlain = func() (t [256]bool) {
	for c := 0x20; c <= 0x7f; c++ {
		t[c] = true
	}
	t['"'], t['\\'], t['<'], t['>'], t['&'] = false, false, false, false, false
	return t
}()

// SWAR constants: a byte repeated in each of a uint64's eight lanes.
const (
	LanesLSB = 0x0101010101010101
	LanesMSB = 0x8080808080808080
)

// LaneEq sets the top bit of every lane of x equal to c, and spuriously of lanes above a
// set one (the borrow runs upward) and of lanes >= 0x80: callers OR in x itself, so that
// lanes >= 0x80 count as found anyway, and read only the lowest set lane, which is exact.
func LaneEq(x uint64, c byte) uint64 {
	return (x ^ (LanesLSB * uint64(c))) - LanesLSB
}

// load64 reads s[i:i+8] as a little-endian word (the compiler makes it one load).
func load64(s string, i int) uint64 {
	w := s[i : i+8]
	return uint64(w[0]) | uint64(w[1])<<8 | uint64(w[2])<<16 | uint64(w[3])<<24 |
		uint64(w[4])<<32 | uint64(w[5])<<40 | uint64(w[6])<<48 | uint64(w[7])<<56
}

// plainPrefix returns the index of the first byte at or after i that is not htmlPlain
// (len(s) if none), testing eight bytes at a time.
func plainPrefix(s string, i int) int {
	for ; i+8 <= len(s); i += 8 {
		x := load64(s, i)
		m := (x | (x - LanesLSB*0x20) | LaneEq(x, '"') | LaneEq(x, '\\') |
			LaneEq(x, '<') | LaneEq(x, '>') | LaneEq(x, '&')) & LanesMSB
		if m != 0 {
			return i + bits.TrailingZeros64(m)/8
		}
	}
	for i < len(s) && htmlPlain[s[i]] {
		i++
	}
	return i
}
