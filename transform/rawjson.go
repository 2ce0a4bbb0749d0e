package transform

import (
	"bytes"
	"encoding/binary"
	"math/bits"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/ferry-dev/ferry/internal/jsonw"
	"github.com/ferry-dev/ferry/schemas"
	"github.com/segmentio/encoding/json"
)

// The provider mappers read a record's top level with the small scanner below instead of
// decoding it into map[string]any: known fields are parsed straight into the SCIM user,
// every other member is copied verbatim (raw key and raw value) into Ferry.Extra. The
// scanner assumes input that json.Valid accepted (checkRecord does that once per record);
// on anything else it stops without panicking.

const recordPath = "(record)"

// checkRecord verifies that raw is one JSON object of valid UTF-8 and returns a trimmed copy.
// Messages never quote the input: a record may hold secrets.
func checkRecord(raw []byte) ([]byte, error) {
	if !utf8.Valid(raw) {
		return nil, &FieldError{Field: recordPath, Msg: "invalid UTF-8"}
	}
	if !json.Valid(raw) {
		msg := "malformed JSON"
		var se *json.SyntaxError
		if err := json.Unmarshal(raw, new(json.RawMessage)); err != nil && asSyntax(err, &se) && se.Offset > 0 {
			msg += " near byte " + strconv.FormatInt(se.Offset, 10)
		}
		return nil, &FieldError{Field: recordPath, Msg: msg}
	}
	return ownObject(raw)
}

func asSyntax(err error, se **json.SyntaxError) bool {
	s, ok := err.(*json.SyntaxError)
	if ok {
		*se = s
	}
	return ok
}

// jsonKind names the JSON type of a raw value, for messages that must not quote values.
func jsonKind(v []byte) string {
	if len(v) == 0 {
		return "nothing"
	}
	switch v[0] {
	case '"':
		return "string"
	case '{':
		return "object"
	case '[':
		return "array"
	case 't', 'f':
		return "boolean"
	case 'n':
		return "null"
	}
	return "number"
}

func typeErr(path, want string, v []byte) *FieldError {
	return &FieldError{Field: path, Msg: "expected " + want + ", got " + jsonKind(v)}
}

func isNull(v []byte) bool { return len(v) == 4 && string(v) == "null" }

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func skipWS(b []byte, i int) int {
	for i < len(b) && isSpace(b[i]) {
		i++
	}
	return i
}

// skipString returns the index just past the string literal starting at b[i] == '"'. It
// reads eight bytes at a time up to the next quote or backslash (or non-ASCII byte, which
// it steps over one at a time): decoders skip every metadata value this way.
func skipString(b []byte, i int) int {
	j := i + 1
	for j < len(b) {
		if j+8 <= len(b) {
			x := binary.LittleEndian.Uint64(b[j:])
			m := (x | jsonw.LaneEq(x, '"') | jsonw.LaneEq(x, '\\')) & jsonw.LanesMSB
			if m == 0 {
				j += 8
				continue
			}
			j += bits.TrailingZeros64(m) / 8
		}
		switch b[j] {
		case '\\':
			j += 2
		case '"':
			return j + 1
		default:
			j++
		}
	}
	return len(b)
}

// skipValue returns the index just past the value starting at b[i].
func skipValue(b []byte, i int) int {
	if i >= len(b) {
		return len(b)
	}
	switch b[i] {
	case '"':
		return skipString(b, i)
	case '{', '[':
		depth := 0
		for i < len(b) {
			switch b[i] {
			case '"':
				i = skipString(b, i)
				continue
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1
				}
			}
			i++
		}
		return len(b)
	}
	for i < len(b) && b[i] != ',' && b[i] != '}' && b[i] != ']' && !isSpace(b[i]) {
		i++
	}
	return i
}

// members iterates over the members of a validated JSON object, and rejects duplicate keys:
// which of two values a provider meant is unknowable, and keeping one would drop the other.
type members struct {
	b   []byte
	i   int
	err error
	// prefix and index name the object in errors: "" at the top level, "identities" and 1
	// for identities[1]; built into a path only when there is an error.
	prefix string
	index  int

	Key    []byte // unescaped
	RawKey []byte // as written, quotes included, for verbatim copies
	Val    []byte

	seen  [24][]byte
	nseen int
	more  map[string]struct{}
}

func newMembers(obj []byte, prefix string) members { return newMembersAt(obj, prefix, -1) }

func newMembersAt(obj []byte, prefix string, index int) members {
	m := members{b: obj, prefix: prefix, index: index}
	m.i = skipWS(obj, 0)
	if m.i < len(obj) && obj[m.i] == '{' {
		m.i++
	} else {
		m.i = len(obj)
	}
	return m
}

// pathOf is the JSON path of member key, for errors.
func (m *members) pathOf(key string) string {
	return joinPath(elemPath(m.prefix, m.index), key)
}

func elemPath(prefix string, index int) string {
	if index < 0 {
		return prefix
	}
	return prefix + "[" + strconv.Itoa(index) + "]"
}

func joinPath(p, key string) string {
	if p == "" {
		return key
	}
	return p + "." + key
}

func (m *members) next() bool {
	if m.err != nil {
		return false
	}
	b := m.b
	i := skipWS(b, m.i)
	if i < len(b) && b[i] == ',' {
		i = skipWS(b, i+1)
	}
	if i >= len(b) || b[i] != '"' {
		m.i = len(b)
		return false
	}
	ke := skipString(b, i)
	m.RawKey = b[i:ke]
	if bytes.IndexByte(m.RawKey, '\\') >= 0 {
		k, err := unquote(m.RawKey, m.pathOf("(key)"))
		if err != nil {
			m.err = err
			return false
		}
		m.Key = []byte(k)
	} else if len(m.RawKey) >= 2 {
		m.Key = m.RawKey[1 : len(m.RawKey)-1]
	}
	i = skipWS(b, ke)
	if i < len(b) && b[i] == ':' {
		i++
	}
	i = skipWS(b, i)
	ve := skipValue(b, i)
	m.Val = b[i:ve]
	m.i = ve
	if m.dup() {
		m.err = &FieldError{Field: m.pathOf(string(m.Key)), Msg: "duplicate key"}
		return false
	}
	return true
}

func (m *members) dup() bool {
	if m.more != nil {
		if _, ok := m.more[string(m.Key)]; ok {
			return true
		}
		m.more[string(m.Key)] = struct{}{}
		return false
	}
	for _, k := range m.seen[:m.nseen] {
		if bytes.Equal(k, m.Key) {
			return true
		}
	}
	if m.nseen < len(m.seen) {
		m.seen[m.nseen] = m.Key
		m.nseen++
		return false
	}
	m.more = make(map[string]struct{}, 2*len(m.seen))
	for _, k := range m.seen {
		m.more[string(k)] = struct{}{}
	}
	m.more[string(m.Key)] = struct{}{}
	return false
}

// elements iterates over the elements of a validated JSON array.
type elements struct {
	b   []byte
	i   int
	N   int // index of Val
	Val []byte
}

func newElements(arr []byte) elements {
	e := elements{b: arr, N: -1}
	e.i = skipWS(arr, 0)
	if e.i < len(arr) && arr[e.i] == '[' {
		e.i++
	} else {
		e.i = len(arr)
	}
	return e
}

func (e *elements) next() bool {
	b := e.b
	i := skipWS(b, e.i)
	if i < len(b) && b[i] == ',' {
		i = skipWS(b, i+1)
	}
	if i >= len(b) || b[i] == ']' {
		e.i = len(b)
		return false
	}
	ve := skipValue(b, i)
	if ve == i {
		e.i = len(b)
		return false
	}
	e.Val = b[i:ve]
	e.i = ve
	e.N++
	return true
}

// unquote decodes a JSON string literal. An escaped lone surrogate is an error rather than
// a silent U+FFFD: the decoded value would no longer be the provider's.
func unquote(v []byte, path string) (string, error) {
	if len(v) < 2 || v[0] != '"' || v[len(v)-1] != '"' {
		return "", typeErr(path, "string", v)
	}
	s := v[1 : len(v)-1]
	if bytes.IndexByte(s, '\\') < 0 {
		return string(s), nil
	}
	buf := make([]byte, 0, len(s))
	bad := func() (string, error) {
		return "", &FieldError{Field: path, Msg: "invalid escape or unpaired UTF-16 surrogate in string"}
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' {
			buf = append(buf, c)
			continue
		}
		i++
		if i >= len(s) {
			return bad()
		}
		switch s[i] {
		case '"', '\\', '/':
			buf = append(buf, s[i])
		case 'b':
			buf = append(buf, '\b')
		case 'f':
			buf = append(buf, '\f')
		case 'n':
			buf = append(buf, '\n')
		case 'r':
			buf = append(buf, '\r')
		case 't':
			buf = append(buf, '\t')
		case 'u':
			r, ok := hex4(s[i+1:])
			if !ok {
				return bad()
			}
			i += 4
			if utf16.IsSurrogate(r) {
				if i+2 >= len(s) || s[i+1] != '\\' || s[i+2] != 'u' {
					return bad()
				}
				r2, ok := hex4(s[i+3:])
				if !ok {
					return bad()
				}
				r = utf16.DecodeRune(r, r2)
				if r == utf8.RuneError {
					return bad()
				}
				i += 6
			}
			buf = utf8.AppendRune(buf, r)
		default:
			return bad()
		}
	}
	return string(buf), nil
}

func hex4(b []byte) (rune, bool) {
	if len(b) < 4 {
		return 0, false
	}
	var r rune
	for _, c := range b[:4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			c = c - 'A' + 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}

// str reads a string value; "" counts as absent (ok false) so that the caller keeps it
// verbatim in Extra rather than mapping it to an omitted SCIM attribute.
func str(v []byte, path string) (s string, ok bool, err error) {
	s, err = unquote(v, path)
	return s, err == nil && s != "", err
}

// boolish reads a boolean, also from the strings "true"/"false" when quirk allows it (Auth0
// returns email_verified as a string for some connections).
func boolish(v []byte, path string, quirk bool) (bool, error) {
	switch string(v) {
	case "true":
		return true, nil
	case "false":
		return false, nil
	case `"true"`:
		if quirk {
			return true, nil
		}
	case `"false"`:
		if quirk {
			return false, nil
		}
	}
	return false, typeErr(path, "boolean", v)
}

// rawObject checks that v is an object and returns it as a RawMessage.
func rawObject(v []byte, path string) (json.RawMessage, error) {
	if len(v) == 0 || v[0] != '{' {
		return nil, typeErr(path, "object", v)
	}
	return json.RawMessage(v), nil
}

// stringList reads an array of strings (role names) into SCIM multi-valued entries.
func stringList(v []byte, path string) ([]schemas.MultiValued, error) {
	if len(v) == 0 || v[0] != '[' {
		return nil, typeErr(path, "array", v)
	}
	var out []schemas.MultiValued
	for e := newElements(v); e.next(); {
		if e.Val[0] != '"' {
			return nil, typeErr(elemPath(path, e.N), "string", e.Val)
		}
		s, err := unquote(e.Val, path)
		if err != nil {
			err.(*FieldError).Field = elemPath(path, e.N)
			return nil, err
		}
		out = append(out, schemas.MultiValued{Value: s})
	}
	return out, nil
}

// extraBuilder collects the members a mapper does not map, verbatim, as one JSON object.
type extraBuilder struct{ b []byte }

func (x *extraBuilder) add(rawKey, val []byte) {
	if len(x.b) == 0 {
		// Room for a typical Auth0 record's unmapped fields (last_ip, last_login,
		// logins_count, ...) at once, rather than growing by doubling from a few bytes.
		x.b = append(make([]byte, 0, max(256, len(rawKey)+len(val)+3)), '{')
	} else {
		x.b = append(x.b, ',')
	}
	x.b = append(x.b, rawKey...)
	x.b = append(x.b, ':')
	x.b = append(x.b, val...)
}

// addObject adds key: obj where obj is another builder's result (or {} when empty).
func (x *extraBuilder) addObject(rawKey string, obj *extraBuilder) {
	x.add([]byte(rawKey), obj.bytes(true))
}

func (x *extraBuilder) bytes(emptyObject bool) json.RawMessage {
	if len(x.b) == 0 {
		if emptyObject {
			return json.RawMessage("{}")
		}
		return nil
	}
	return json.RawMessage(append(x.b, '}'))
}

// lookup returns the raw value of key in the JSON object obj, if present.
func lookup(obj []byte, key string) ([]byte, bool) {
	if len(obj) == 0 {
		return nil, false
	}
	for m := newMembers(obj, ""); m.next(); {
		if string(m.Key) == key {
			return m.Val, true
		}
	}
	return nil, false
}

// objWriter appends a JSON object member by member. Keys are ASCII constants.
type objWriter struct {
	b     []byte
	n     int
	keys  [32]string
	nkeys int
}

func (w *objWriter) open(dst []byte) { w.b = append(dst, '{') }

func (w *objWriter) close() []byte { return append(w.b, '}') }

func (w *objWriter) key(k string) {
	if w.n > 0 {
		w.b = append(w.b, ',')
	}
	w.n++
	w.b = append(w.b, '"')
	w.b = append(w.b, k...)
	w.b = append(w.b, '"', ':')
	if w.nkeys < len(w.keys) {
		w.keys[w.nkeys] = k
		w.nkeys++
	}
}

func (w *objWriter) wrote(k []byte) bool {
	for _, s := range w.keys[:w.nkeys] {
		if s == string(k) {
			return true
		}
	}
	return false
}

func (w *objWriter) str(k, v string) {
	if v == "" {
		return
	}
	w.key(k)
	w.b = jsonw.AppendString(w.b, v)
}

func (w *objWriter) boolean(k string, v bool) {
	w.key(k)
	w.b = strconv.AppendBool(w.b, v)
}

func (w *objWriter) raw(k string, v []byte) {
	w.key(k)
	w.b = append(w.b, v...)
}

// rawMember appends a member copied verbatim (raw key with its quotes).
func (w *objWriter) rawMember(rawKey, v []byte) {
	if w.n > 0 {
		w.b = append(w.b, ',')
	}
	w.n++
	w.b = append(w.b, rawKey...)
	w.b = append(w.b, ':')
	w.b = append(w.b, v...)
}

// extra appends the members of the Extra object that the encoder did not write itself
// (the SCIM attributes are authoritative: a policy may have changed them). skip names
// members the caller handles on its own.
func (w *objWriter) extra(extra json.RawMessage, path string, skip ...string) error {
	if len(extra) == 0 {
		return nil
	}
	if extra[0] != '{' || !json.Valid(extra) {
		return typeErr(path, "object", extra)
	}
	m := newMembers(extra, path)
outer:
	for m.next() {
		if w.wrote(m.Key) {
			continue
		}
		for _, s := range skip {
			if s == string(m.Key) {
				continue outer
			}
		}
		w.rawMember(m.RawKey, m.Val)
	}
	return m.err
}

// checkRaw verifies a raw value from a user before it is copied into an encoded record.
func checkRaw(v json.RawMessage, path, want string) error {
	if !json.Valid(v) {
		return &FieldError{Field: path, Msg: "malformed JSON"}
	}
	b := bytes.TrimSpace(v)
	switch want {
	case "object":
		if b[0] != '{' {
			return typeErr(path, want, b)
		}
	case "array":
		if b[0] != '[' {
			return typeErr(path, want, b)
		}
	}
	return nil
}

// intern returns the name in names equal to k, or "" (k as a string would be allocated
// whenever it is kept, e.g. in an error path; a known name is a constant).
func intern(k []byte, names []string) string {
	for _, n := range names {
		if n == string(k) {
			return n
		}
	}
	return ""
}

// isAbsent reports a null or "" value: a mapper keeps it verbatim in Extra, since the SCIM
// attribute it would map to cannot tell it from a missing one.
func isAbsent(v []byte) bool { return isNull(v) || string(v) == `""` }
