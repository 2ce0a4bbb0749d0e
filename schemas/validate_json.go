package schemas

import (
	"bytes"
	// encoding/json rather than segmentio: checking a record of unknown shape needs a token
	// stream (Decoder.Token, More, InputOffset), which segmentio does not offer.
	stdjson "encoding/json"
	"errors"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"
)

// ValidateJSON checks one raw SCIM User record against the definitions and reports every
// violation with its path, including the type errors a decoder stops at (`active: expected
// boolean, got string`, `emails[0].primary: expected boolean, got number`), unknown and
// repeated attributes (names are case-insensitive, RFC 7643 §2.1), invalid UTF-8 (which a
// decoder would silently replace), and every rule Validate applies. It is meant for a
// record that failed to decode, so that its rejection names every problem at once. A
// syntax error ends the walk: the violations found before it are kept.
func ValidateJSON(raw []byte) []Violation {
	if len(bytes.TrimSpace(raw)) == 0 {
		return []Violation{{Path: "(record)", Msg: "empty: no JSON value"}}
	}
	w := &walker{raw: raw, dec: stdjson.NewDecoder(bytes.NewReader(raw))}
	w.dec.UseNumber()
	w.resource()
	return w.c.result()
}

type walker struct {
	raw    []byte
	dec    *stdjson.Decoder
	off    int64 // input offset after the previous token
	c      collector
	broken bool // a syntax error was reported; stop
}

// token is one JSON token and, for a string, whether it was valid UTF-8 with no lone
// surrogate escape (encoding/json replaces both with U+FFFD, so the check is made on the
// raw input).
type token struct {
	t      stdjson.Token
	utf8OK bool
}

func (w *walker) next() (token, bool) {
	if w.broken {
		return token{}, false
	}
	t, err := w.dec.Token()
	end := w.dec.InputOffset()
	if end > int64(len(w.raw)) {
		end = int64(len(w.raw))
	}
	seg := w.raw[w.off:end]
	w.off = end
	if err != nil {
		w.broken = true
		var se *stdjson.SyntaxError
		switch {
		case errors.As(err, &se):
			w.c.add("(record)", "malformed JSON at byte "+strconv.FormatInt(se.Offset, 10)+": "+se.Error())
		case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
			w.c.add("(record)", "malformed JSON: unexpected end of input")
		default:
			w.c.add("(record)", "malformed JSON: "+err.Error())
		}
		return token{}, false
	}
	_, isStr := t.(string)
	return token{t, !isStr || (utf8.Valid(seg) && !loneSurrogate(seg))}, true
}

// loneSurrogate reports whether a raw JSON string has a \u escape of a UTF-16 surrogate
// that is not half of a pair: decoders turn it into U+FFFD, a silent change of the value.
func loneSurrogate(seg []byte) bool {
	if bytes.IndexByte(seg, '\\') < 0 {
		return false
	}
	pendingHigh := false
	for i := 0; i < len(seg); i++ {
		if seg[i] != '\\' || i+1 >= len(seg) {
			if pendingHigh {
				return true
			}
			continue
		}
		if seg[i+1] != 'u' || i+6 > len(seg) {
			if pendingHigh {
				return true
			}
			i++ // an escaped character, e.g. \\ or \"
			continue
		}
		v, err := strconv.ParseUint(string(seg[i+2:i+6]), 16, 16)
		i += 5
		if err != nil {
			return false // not JSON; the decoder reports it
		}
		switch {
		case v >= 0xD800 && v < 0xDC00:
			if pendingHigh {
				return true
			}
			pendingHigh = true
		case v >= 0xDC00 && v < 0xE000:
			if !pendingHigh {
				return true
			}
			pendingHigh = false
		default:
			if pendingHigh {
				return true
			}
		}
	}
	return pendingHigh
}

// more reports whether the current object or array has another member.
func (w *walker) more() bool { return !w.broken && w.dec.More() }

// end consumes the closing delimiter of the current object or array.
func (w *walker) end() { w.next() }

func kind(t stdjson.Token) string {
	switch x := t.(type) {
	case stdjson.Delim:
		if x == '{' {
			return "object"
		}
		return "array"
	case string:
		return "string"
	case bool:
		return "boolean"
	case stdjson.Number:
		return "number"
	case nil:
		return "null"
	}
	return "unknown"
}

func isDelim(t stdjson.Token, d byte) bool {
	x, ok := t.(stdjson.Delim)
	return ok && byte(x) == d
}

// skip consumes the rest of a value whose first token is tok and reports whether every
// string in it was valid UTF-8.
func (w *walker) skip(tok token) bool {
	ok := tok.utf8OK
	if !isDelim(tok.t, '{') && !isDelim(tok.t, '[') {
		return ok
	}
	for depth := 1; depth > 0; {
		t, more := w.next()
		if !more {
			return ok
		}
		ok = ok && t.utf8OK
		if isDelim(t.t, '{') || isDelim(t.t, '[') {
			depth++
		} else if isDelim(t.t, '}') || isDelim(t.t, ']') {
			depth--
		}
	}
	return ok
}

// keyPath renders an unknown key as a path: as is when it is short, printable UTF-8,
// quoted otherwise.
func keyPath(k string) string {
	if k != "" && len(k) <= maxQuoted && utf8.ValidString(k) && strings.IndexFunc(k, func(r rune) bool { return r < 0x20 || r == 0x7f }) < 0 {
		return k
	}
	return quote(k)
}

// object walks the members of an object whose '{' was read (prefix + key is a member's
// path), calling member for every key not seen before in it (case-insensitively), and
// reporting repeated keys and keys that are not valid UTF-8.
func (w *walker) object(prefix string, member func(key string, val token)) {
	var seen keySet
	for w.more() {
		k, ok := w.next()
		if !ok {
			return
		}
		key, _ := k.t.(string)
		val, ok := w.next()
		if !ok {
			return
		}
		if !k.utf8OK {
			w.c.add(prefix+quote(key), "attribute name is not valid UTF-8")
			w.skip(val)
			continue
		}
		if seen.has(key) {
			w.c.add(prefix+keyPath(key), "given more than once (attribute names are case-insensitive)")
			w.skip(val)
			continue
		}
		seen.add(key)
		member(key, val)
	}
	w.end()
}

// resource walks the top-level User object.
func (w *walker) resource() {
	tok, ok := w.next()
	if !ok {
		return
	}
	if !isDelim(tok.t, '{') {
		w.c.add("(record)", "expected a JSON object (a SCIM User), got "+kind(tok.t))
		w.skip(tok)
		w.trailing()
		return
	}
	var (
		list     []string
		bad      []bool
		carried  [2]bool
		custom   []string
		userName = false
	)
	w.object("", func(key string, val token) {
		if equalFoldASCII(key, "schemas") {
			list, bad = w.schemas(val)
			return
		}
		for i := range extensions {
			e := &extensions[i]
			if equalFoldASCII(key, e.urn) {
				carried[i] = w.extension(e, val)
				return
			}
		}
		if IsExtensionURN(key) {
			if w.customExtension(key, val) {
				custom = append(custom, key)
			}
			return
		}
		a, ok := coreUser.Attr(key)
		if !ok {
			a, ok = findAttr(commonAttrs, key)
		}
		if !ok {
			w.c.add(keyPath(key), "unknown attribute: not in the core User schema, a known extension or the common attributes")
			w.skip(val)
			return
		}
		if a.Name == "userName" {
			s, isStr := val.t.(string)
			userName = val.t != nil && (!isStr || !blank(s))
		}
		w.attr(a.Name, a, val)
	})
	if w.broken {
		return
	}
	if !userName {
		w.c.add("userName", msgUserNameRequired)
	}
	checkSchemas(&w.c, list, bad, carried, custom)
	w.trailing()
}

func (w *walker) trailing() {
	if w.broken {
		return
	}
	t, err := w.dec.Token()
	switch {
	case err == io.EOF:
	case err != nil:
		w.c.add("(record)", "malformed JSON after the object: "+err.Error())
	default:
		w.c.add("(record)", "more than one JSON value: "+kind(t)+" after the object")
	}
}

// schemas walks the "schemas" array and returns its strings, with bad[i] set where entry i
// was reported already (not a string, bad UTF-8).
func (w *walker) schemas(val token) (list []string, bad []bool) {
	if !isDelim(val.t, '[') {
		if val.t != nil {
			w.c.add("schemas", "expected array of string, got "+kind(val.t))
			w.skip(val)
		}
		return nil, nil
	}
	for i := 0; w.more(); i++ {
		t, ok := w.next()
		if !ok {
			return list, bad
		}
		s, isStr := t.t.(string)
		switch {
		case !isStr:
			w.c.add(idx("schemas", i, ""), "expected string, got "+kind(t.t))
			w.skip(t)
		case !t.utf8OK:
			w.c.add(idx("schemas", i, ""), msgBadUTF8)
		default:
			list, bad = append(list, s), append(bad, false)
			continue
		}
		list, bad = append(list, ""), append(bad, true) // keep indexes aligned with the record
	}
	w.end()
	return list, bad
}

// extension walks an extension object and reports whether it carries one (null does not).
func (w *walker) extension(e *extension, val token) bool {
	if val.t == nil {
		return false
	}
	if !isDelim(val.t, '{') {
		w.c.add(e.urn, "expected object (the "+e.name+" extension), got "+kind(val.t))
		w.skip(val)
		return true
	}
	var seen keySet
	w.object(e.urn+":", func(key string, v token) {
		a, ok := e.def.Attr(key)
		if !ok {
			w.c.add(e.urn+":"+keyPath(key), "unknown attribute of the "+e.name+" extension")
			w.skip(v)
			return
		}
		if v.t != nil {
			seen.add(a.Name)
		}
		w.attr(e.urn+":"+a.Name, a, v)
	})
	if e.required && !w.broken {
		for i := range e.def.Attributes {
			a := &e.def.Attributes[i]
			if a.Required && a.ReturnedByDefault() && !seen.has(a.Name) {
				w.c.add(e.urn+":"+a.Name, "required by the schema's definition, and missing")
			}
		}
	}
	return true
}

// customExtension walks the data of an extension ferry has no definition for and reports
// whether the user carries it (null does not): it must be an object; what is inside is the
// extension's own business unless a definition is known (ValidateExtension).
func (w *walker) customExtension(urn string, val token) bool {
	if val.t == nil {
		return false
	}
	if !isDelim(val.t, '{') {
		w.c.add(keyPath(urn), "expected object (extension data), got "+kind(val.t))
		w.skip(val)
		return true
	}
	if !w.skip(val) {
		w.c.add(keyPath(urn), msgBadUTF8)
	}
	return true
}

// ValidateExtension checks one extension's data (a raw JSON object) against the schema
// that defines it, as a SCIM service provider publishes it at /Schemas: every attribute is
// one the schema defines, of its type (a string where it says string, an integer where
// integer, ...), multi-valued where it says so, with canonical values; every required
// attribute is present, except those a server does not return in a read (returned "never"
// or "request", mutability "writeOnly": RFC 7643 §7), which a read cannot be expected to
// hold. Paths are
// "URN:attribute".
func ValidateExtension(def *Schema, data []byte) []Violation {
	w := &walker{raw: data, dec: stdjson.NewDecoder(bytes.NewReader(data))}
	w.dec.UseNumber()
	tok, ok := w.next()
	if !ok {
		return w.c.result()
	}
	e := &extension{urn: def.ID, def: def, name: def.ID, required: true}
	w.extension(e, tok)
	w.trailing()
	return w.c.result()
}

// attr walks the value of attribute a at path.
func (w *walker) attr(path string, a *Attribute, val token) {
	if val.t == nil {
		return // null is "unassigned" (RFC 7643 §2.5)
	}
	if !a.MultiValued {
		w.single(path, a, val)
		return
	}
	if !isDelim(val.t, '[') {
		w.c.add(path, "expected array of "+a.Type+", got "+kind(val.t))
		w.skip(val)
		return
	}
	value, _ := a.Sub("value")
	_, hasPrimary := a.Sub("primary")
	first := -1
	for i := 0; w.more(); i++ {
		t, ok := w.next()
		if !ok {
			return
		}
		p := idx(path, i, "")
		el := w.single(p, a, t)
		if !el.object || a.opaque() {
			continue
		}
		if value != nil && !el.valueBad && el.valueBlank {
			w.c.add(p+".value", msgEmptyValue)
		}
		if el.primary && hasPrimary {
			if first >= 0 {
				w.c.add(p+".primary", secondPrimaryMsg(path, first))
			} else {
				first = i
			}
		}
	}
	w.end()
}

// element is what the rules of a multi-valued attribute need to know about one value.
type element struct {
	object     bool
	primary    bool
	valueBlank bool // no value, null, or a blank string
	valueBad   bool // value was reported already (wrong type, bad UTF-8)
}

// single walks one (non-array) value of attribute a.
func (w *walker) single(path string, a *Attribute, val token) element {
	el := element{valueBlank: true}
	if a.Type == TypeComplex {
		if !isDelim(val.t, '{') {
			w.c.add(path, "expected "+complexName(a)+", got "+kind(val.t))
			w.skip(val)
			return el
		}
		el.object = true
		if a.opaque() {
			if !w.skip(val) {
				w.c.add(path, msgBadUTF8)
			}
			return el
		}
		w.object(path+".", func(key string, v token) {
			sub, ok := a.Sub(key)
			if !ok {
				w.c.add(path+"."+keyPath(key), "unknown sub-attribute of "+a.Name)
				w.skip(v)
				return
			}
			switch sub.Name {
			case "primary":
				el.primary, _ = v.t.(bool)
			case "value":
				s, isStr := v.t.(string)
				el.valueBlank = v.t == nil || (isStr && blank(s))
				el.valueBad = v.t != nil && (!isStr || !v.utf8OK)
			}
			w.attr(path+"."+sub.Name, sub, v)
		})
		return el
	}
	want := a.Type
	switch x := val.t.(type) {
	case string:
		if a.Type == TypeBoolean || a.Type == TypeInteger || a.Type == TypeDecimal {
			break
		}
		switch {
		case !val.utf8OK:
			w.c.add(path, msgBadUTF8)
		case x == "":
			// unassigned, as Validate sees it; a value's emptiness is the element's rule
		case a.Type == TypeDateTime && !validDateTime(x):
			w.c.add(path, notDateTimeMsg(x))
		case a.Type == TypeBinary && !validBase64(x):
			w.c.add(path, msgNotBase64)
		case !canonical(a, x):
			w.c.add(path, notCanonicalMsg(a, x))
		}
		return el
	case bool:
		if a.Type == TypeBoolean {
			return el
		}
	case stdjson.Number:
		if a.Type == TypeDecimal || (a.Type == TypeInteger && !strings.ContainsAny(string(x), ".eE")) {
			return el
		}
	}
	if a.Type == TypeString || a.Type == TypeReference || a.Type == TypeBinary || a.Type == TypeDateTime {
		want = "string (" + a.Type + ")"
		if a.Type == TypeString {
			want = "string"
		}
	}
	w.c.add(path, "expected "+want+", got "+kind(val.t))
	w.skip(val)
	return el
}

func complexName(a *Attribute) string {
	if a.opaque() {
		return "object"
	}
	return "complex (object)"
}

// keySet holds the keys of one object, case-insensitively: a list while small, a map of
// lower-cased keys once a hostile record makes the list quadratic.
type keySet struct {
	list []string
	m    map[string]struct{}
}

const keySetListMax = 32

func (s *keySet) has(k string) bool {
	if s.m != nil {
		_, ok := s.m[lowerASCII(k)]
		return ok
	}
	for _, x := range s.list {
		if equalFoldASCII(x, k) {
			return true
		}
	}
	return false
}

func (s *keySet) add(k string) {
	if s.m == nil && len(s.list) < keySetListMax {
		s.list = append(s.list, k)
		return
	}
	if s.m == nil {
		s.m = make(map[string]struct{}, 2*keySetListMax)
		for _, x := range s.list {
			s.m[lowerASCII(x)] = struct{}{}
		}
		s.list = nil
	}
	s.m[lowerASCII(k)] = struct{}{}
}

// lowerASCII folds what equalFoldASCII folds: ASCII letters only.
func lowerASCII(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}
