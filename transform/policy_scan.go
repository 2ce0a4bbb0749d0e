package transform

import (
	"crypto/rand"
	"encoding/binary"
	"unicode/utf8"

	"github.com/ferry-dev/ferry/internal/redact"

	"github.com/segmentio/encoding/json"
)

// Most users need no change, so every policy first runs one allocation-free pass over the
// raw metadata bytes and decodes into an mdValue tree only when a flag says a rule may fire.
// The flags over-approximate (a '.' in an escaped key, a 9-digit phone number): a false
// positive costs a decode, a false negative would be a missed rule, so the pass errs wide.

type scanFlags uint32

const (
	scDotKey     scanFlags = 1 << iota // a member name contains '.'
	scDollarKey                        // a member name contains '$'
	scEscKey                           // a member name has a backslash escape (decode to know)
	scReserved                         // a top-level name is an Auth0 reserved app_metadata name
	scShadow                           // a top-level name is an Auth0 root profile attribute
	scLongString                       // a string value is over 256 bytes
	scDigits                           // a digit run shaped like a card number or national id, or a password hash
	scKeyHint                          // a member name says secret / national id / card
	scDynKey                           // a member name looks like data
	scInvalid                          // not valid JSON (the slow path reports where)
	scNotObject                        // the top-level value is not an object
	scUEscape                          // a \u escape somewhere (decode to see what it hides)
)

// searchableLen is Auth0's limit past which a metadata value is not searchable.
const searchableLen = 256

type mdScanner struct {
	b     []byte
	i     int
	flags scanFlags
	// walking: every value is passed to emit with its type path (array indexes as [],
	// data-like names as *), for the type rule (types) or the planner (plan). Concrete
	// fields rather than a callback keep the walk free of allocations.
	walking  bool
	plainKey bool // no member name is data-like (scDynKey unset): skip that check
	types    *typePolicy
	conflict bool
	plan     *Planner
	path     []byte
	// shape hashes the blob's structure (names, nesting, the kind of every value), not
	// its values, when not walking: the type rule skips blobs of a shape it has checked.
	shape uint64
}

// Shape hashing: FNV-1a over tokens, each tagged so that the sequence decodes one way
// (a name is its tag, its length and its bytes).
const (
	fnvPrime64 = 1099511628211
	shapeName  = 'K'
)

// shapeSeed starts every shape hash: drawn per process, so that blobs cannot be crafted
// to share a hash with a checked shape.
var shapeSeed = func() uint64 {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return binary.LittleEndian.Uint64(b[:]) | 1
}()

func (s *mdScanner) mix(b byte) {
	if !s.walking {
		s.shape = (s.shape ^ uint64(b)) * fnvPrime64
	}
}

// mdScanFlags scans raw without allocating, and returns its flags and its shape hash.
func mdScanFlags(raw []byte) (scanFlags, uint64) {
	s := mdScanner{b: raw, shape: shapeSeed}
	s.run()
	return s.flags, s.shape
}

// mdWalkTypes reports whether some value of raw has a type other than its path's, as
// tp sees it (registering first-seen types on the way). Type paths are rooted at root and
// built in buf, which is returned (possibly grown) for reuse.
func mdWalkTypes(raw []byte, flags scanFlags, root string, buf []byte, tp *typePolicy) (bool, []byte) {
	s := mdScanner{b: raw, walking: true, plainKey: flags&scDynKey == 0, types: tp, path: append(buf[:0], root...)}
	s.run()
	return s.conflict, s.path
}

// mdWalkCount counts the type of every value of raw into pl.
func mdWalkCount(raw []byte, root string, buf []byte, pl *Planner) []byte {
	s := mdScanner{b: raw, walking: true, plan: pl, path: append(buf[:0], root...)}
	s.run()
	return s.path
}

// emit passes one value to the walk's consumer. lit is a string's raw content (escapes
// intact) or a number's literal; it aliases the input.
func (s *mdScanner) emit(k mdKind, lit []byte) {
	switch {
	case s.types != nil:
		if k != mdNull && !s.conflict {
			if e, _, ok := s.types.expected(s.path, k); ok && e != k {
				s.conflict = true
			}
		}
	case s.plan != nil:
		s.plan.count(s.path, k, lit)
	}
}

func (s *mdScanner) run() {
	s.ws()
	if s.i < len(s.b) && s.b[s.i] != '{' {
		s.flags |= scNotObject
	}
	if !s.value(0) {
		s.flags |= scInvalid
		return
	}
	s.ws()
	if s.i != len(s.b) {
		s.flags |= scInvalid
	}
}

func (s *mdScanner) ws() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

func (s *mdScanner) lit(word string, k mdKind) bool {
	if len(s.b)-s.i < len(word) || string(s.b[s.i:s.i+len(word)]) != word {
		return false
	}
	if s.walking {
		s.emit(k, s.b[s.i:s.i+len(word)])
	}
	s.mix(byte(k) + '0')
	s.i += len(word)
	return true
}

func (s *mdScanner) value(depth int) bool {
	if depth > mdMaxDepth || s.i >= len(s.b) {
		return false
	}
	switch c := s.b[s.i]; {
	case c == '{':
		return s.object(depth)
	case c == '[':
		return s.array(depth)
	case c == '"':
		start := s.i + 1
		if !s.str(false) {
			return false
		}
		if s.i-1-start > searchableLen {
			s.flags |= scLongString
		}
		if s.walking {
			s.emit(mdString, s.b[start:s.i-1])
		}
		s.mix('s')
		return true
	case c == '-' || (c >= '0' && c <= '9'):
		n := mdNumberLen(s.b[s.i:])
		if n == 0 {
			return false
		}
		num := s.b[s.i : s.i+n]
		first, digits := byte(0), 0
		for _, d := range num {
			if d >= '0' && d <= '9' {
				if first == 0 {
					first = d
				}
				digits++
			} else if d == 'e' || d == 'E' {
				break
			}
		}
		if piiRunCandidate(digits, first) {
			s.flags |= scDigits
		}
		if s.walking {
			s.emit(mdNumber, num)
		}
		s.mix('n')
		s.i += n
		return true
	case c == 't':
		return s.lit("true", mdBool)
	case c == 'f':
		return s.lit("false", mdBool)
	case c == 'n':
		return s.lit("null", mdNull)
	}
	return false
}

func (s *mdScanner) object(depth int) bool {
	if s.walking {
		s.emit(mdObject, nil)
	}
	s.mix('{')
	s.i++
	s.ws()
	if s.i < len(s.b) && s.b[s.i] == '}' {
		s.mix('}')
		s.i++
		return true
	}
	base := len(s.path)
	for {
		s.ws()
		if s.i >= len(s.b) || s.b[s.i] != '"' {
			return false
		}
		start := s.i + 1
		if !s.str(true) {
			return false
		}
		key := s.b[start : s.i-1]
		if !s.walking {
			// A walk only wants types; the flags were computed by the chain's scan.
			s.keyFlags(key, depth)
		}
		s.ws()
		if s.i >= len(s.b) || s.b[s.i] != ':' {
			return false
		}
		s.i++
		s.ws()
		if s.walking {
			if s.plainKey && !hasBackslash(key) {
				s.path = appendPathKey(s.path[:base], key)
			} else {
				s.path = appendTypeKey(s.path[:base], key)
			}
		}
		if !s.value(depth + 1) {
			return false
		}
		if s.walking {
			s.path = s.path[:base]
		}
		s.ws()
		if s.i >= len(s.b) {
			return false
		}
		switch s.b[s.i] {
		case ',':
			s.i++
		case '}':
			s.mix('}')
			s.i++
			return true
		default:
			return false
		}
	}
}

func (s *mdScanner) array(depth int) bool {
	if s.walking {
		s.emit(mdArray, nil)
	}
	s.mix('[')
	s.i++
	s.ws()
	if s.i < len(s.b) && s.b[s.i] == ']' {
		s.mix(']')
		s.i++
		return true
	}
	base := len(s.path)
	if s.walking {
		s.path = append(s.path, "[]"...)
	}
	for {
		s.ws()
		if !s.value(depth + 1) {
			return false
		}
		s.ws()
		if s.i >= len(s.b) {
			return false
		}
		switch s.b[s.i] {
		case ',':
			s.i++
		case ']':
			s.mix(']')
			s.i++
			if s.walking {
				s.path = s.path[:base]
			}
			return true
		default:
			return false
		}
	}
}

func (s *mdScanner) keyFlags(key []byte, depth int) {
	h := (s.shape ^ shapeName) * fnvPrime64
	for n, k := uint32(len(key)), 0; k < 4; n, k = n>>8, k+1 {
		h = (h ^ uint64(n&0xff)) * fnvPrime64
	}
	for _, c := range key {
		h = (h ^ uint64(c)) * fnvPrime64
		switch c {
		case '.':
			s.flags |= scDotKey
		case '$':
			s.flags |= scDollarKey
		case '\\':
			s.flags |= scEscKey
		}
	}
	if depth == 0 {
		if auth0ReservedAppMetadata[string(key)] {
			s.flags |= scReserved
		}
		if auth0RootFields[string(key)] {
			s.flags |= scShadow
		}
	}
	if keyHintOf(key) != hintNone {
		s.flags |= scKeyHint
	}
	if dynamicKeyKind(key) != "" {
		s.flags |= scDynKey
	}
	s.shape = h
}

// str moves past the string literal at s.i, tracking digit runs for the PII flag and
// validating UTF-8 where non-ASCII bytes occur.
func (s *mdScanner) str(isKey bool) bool {
	j := s.i + 1
	run, first, sep, nonASCII := 0, byte(0), false, false
	start := j
	for {
		if j >= len(s.b) {
			return false
		}
		c := s.b[j]
		if scanPlain[c] {
			// Letters and most punctuation: they only end a digit run. Skipping them in a
			// tight loop halves the time strings take (most metadata is words).
			if run > 0 {
				if !isKey && piiRunCandidate(run, first) {
					s.flags |= scDigits
				}
				run, sep = 0, false
			}
			for j++; j < len(s.b) && scanPlain[s.b[j]]; j++ {
			}
			continue
		}
		switch {
		case c == '"':
			if !isKey && piiRunCandidate(run, first) {
				s.flags |= scDigits
			}
			// A password hash ("$2b$...", "{SSHA}...") is for the PII rule too; the first
			// byte keeps the conversion off the common path.
			if !isKey && j-start >= 20 && (s.b[start] == '$' || s.b[start] == '{') && redact.LooksLikePasswordHash(string(s.b[start:j])) {
				s.flags |= scDigits
			}
			if nonASCII && !utf8.Valid(s.b[start:j]) {
				return false
			}
			s.i = j + 1
			return true
		case c < 0x20:
			return false
		case c == '\\':
			if j+1 >= len(s.b) {
				return false
			}
			switch s.b[j+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				j += 2
			case 'u':
				if j+6 > len(s.b) || !isHex4(s.b[j+2:j+6]) {
					return false
				}
				// \u escapes can hide a digit of a card number or be a lone surrogate
				// (which the parser refuses): have the value decoded.
				s.flags |= scUEscape
				j += 6
			default:
				return false
			}
			continue
		case c >= '0' && c <= '9':
			if run == 0 {
				first = c
			}
			run++
			sep = false
		case (c == ' ' || c == '-') && run > 0 && !sep:
			sep = true
		case c >= 0x80:
			nonASCII = true
			fallthrough
		default:
			if !isKey && piiRunCandidate(run, first) {
				s.flags |= scDigits
			}
			run, sep = 0, false
		}
		j++
	}
}

// scanPlain marks the bytes str handles only by ending a digit run: printable ASCII other
// than digits, the quote, the backslash, and the space and '-' that may sit inside a run.
var scanPlain = func() (t [256]bool) {
	for c := 0x20; c < 0x80; c++ {
		t[c] = !(c >= '0' && c <= '9') && c != '"' && c != '\\' && c != ' ' && c != '-' && c != 0x7f
	}
	return t
}()

// appendTypeKey appends a member name to a type path: data-like names collapse to "*" so
// that per-user keys do not make one path per user.
func appendTypeKey(dst []byte, rawKey []byte) []byte {
	key := rawKey
	for _, c := range rawKey {
		if c == '\\' {
			if u, ok := mdUnescape(rawKey); ok {
				key = []byte(u)
			}
			break
		}
	}
	if dynamicKeyKind(key) != "" {
		return append(dst, ".*"...)
	}
	return appendPathKey(dst, key)
}

// appendPathKey appends .name, or ["name"] when the name holds a character that would make
// the path ambiguous.
func appendPathKey[S ~string | ~[]byte](dst []byte, key S) []byte {
	plain := len(key) > 0 && !(len(key) == 1 && key[0] == '*')
	for i := 0; plain && i < len(key); i++ {
		switch c := key[i]; {
		case c == '.' || c == '[' || c == ']' || c == '"' || c == '\\' || c < 0x20 || c == ' ':
			plain = false
		}
	}
	if plain {
		dst = append(dst, '.')
		return append(dst, key...)
	}
	dst = append(dst, '[')
	dst = json.AppendEscape(dst, string(key), 0)
	return append(dst, ']')
}

func pathKey(parent, key string) string { return string(appendPathKey([]byte(parent), key)) }

func pathIndex(parent string, i int) string {
	b := append([]byte(parent), '[')
	b = appendInt(b, i)
	return string(append(b, ']'))
}

func hasBackslash(b []byte) bool {
	for _, c := range b {
		if c == '\\' {
			return true
		}
	}
	return false
}

func isHex4(b []byte) bool {
	for _, c := range b {
		if !((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')) {
			return false
		}
	}
	return true
}

func appendInt(b []byte, n int) []byte {
	if n >= 10 {
		b = appendInt(b, n/10)
	}
	return append(b, byte('0'+n%10))
}
