package transform

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/segmentio/encoding/json"
)

// The policies rewrite free-form metadata only when a rule fires. They then need an ordered
// tree: a map would reorder every key of a user who had one bad key (a silent change to a
// reader diffing the export), lose integer precision past 2^53, and hide duplicate keys.
// mdValue keeps members in order, numbers as their literal text, and reports duplicates.

type mdKind uint8

const (
	mdNull mdKind = iota
	mdBool
	mdNumber
	mdString
	mdArray
	mdObject
)

func (k mdKind) String() string {
	switch k {
	case mdNull:
		return "null"
	case mdBool:
		return "boolean"
	case mdNumber:
		return "number"
	case mdString:
		return "string"
	case mdArray:
		return "array"
	case mdObject:
		return "object"
	}
	return "unknown"
}

// mdKindOf parses a type name as written in a plan.
func mdKindOf(s string) (mdKind, bool) {
	for k := mdNull; k <= mdObject; k++ {
		if k.String() == s {
			return k, true
		}
	}
	return 0, false
}

type mdValue struct {
	kind mdKind
	// s is the decoded string, the number's literal text, or "true"/"false".
	s    string
	arr  []*mdValue
	obj  []mdMember
	dups []mdMember // members overwritten by a later duplicate key, in order
}

type mdMember struct {
	key string
	val *mdValue
}

func (v *mdValue) get(key string) (*mdValue, int) {
	for i := range v.obj {
		if v.obj[i].key == key {
			return v.obj[i].val, i
		}
	}
	return nil, -1
}

// mdMaxDepth bounds nesting so that a hostile document cannot exhaust the stack.
const mdMaxDepth = 256

var errMDDepth = errors.New("nested deeper than 256 levels")

// mdSyntaxError locates a parse failure by byte offset; the metadata's owner and field are
// added by the caller, which knows them.
type mdSyntaxError struct {
	Off int
	Msg string
}

func (e *mdSyntaxError) Error() string {
	return fmt.Sprintf("invalid JSON at byte %d: %s", e.Off, e.Msg)
}

type mdParser struct {
	b    []byte
	i    int
	dups bool
}

func mdParse(b []byte) (*mdValue, error) {
	v, _, err := mdParseDups(b)
	return v, err
}

// mdParseDups also says whether some object had a duplicate member name.
func mdParseDups(b []byte) (*mdValue, bool, error) {
	p := mdParser{b: b}
	p.ws()
	v, err := p.value(0)
	if err != nil {
		return nil, false, err
	}
	p.ws()
	if p.i != len(p.b) {
		return nil, false, p.fail("data after the value")
	}
	return v, p.dups, nil
}

func (p *mdParser) fail(msg string) error { return &mdSyntaxError{Off: p.i, Msg: msg} }

func (p *mdParser) ws() {
	for p.i < len(p.b) {
		switch p.b[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

func (p *mdParser) value(depth int) (*mdValue, error) {
	if depth > mdMaxDepth {
		return nil, errMDDepth
	}
	if p.i >= len(p.b) {
		return nil, p.fail("unexpected end")
	}
	switch c := p.b[p.i]; {
	case c == '{':
		return p.object(depth)
	case c == '[':
		return p.array(depth)
	case c == '"':
		s, err := p.str()
		if err != nil {
			return nil, err
		}
		return &mdValue{kind: mdString, s: s}, nil
	case c == '-' || (c >= '0' && c <= '9'):
		n := mdNumberLen(p.b[p.i:])
		if n == 0 {
			return nil, p.fail("malformed number")
		}
		v := &mdValue{kind: mdNumber, s: string(p.b[p.i : p.i+n])}
		p.i += n
		return v, nil
	case bytes.HasPrefix(p.b[p.i:], []byte("true")):
		p.i += 4
		return &mdValue{kind: mdBool, s: "true"}, nil
	case bytes.HasPrefix(p.b[p.i:], []byte("false")):
		p.i += 5
		return &mdValue{kind: mdBool, s: "false"}, nil
	case bytes.HasPrefix(p.b[p.i:], []byte("null")):
		p.i += 4
		return &mdValue{kind: mdNull}, nil
	}
	return nil, p.fail("unexpected character")
}

func (p *mdParser) object(depth int) (*mdValue, error) {
	v := &mdValue{kind: mdObject}
	p.i++ // {
	p.ws()
	if p.i < len(p.b) && p.b[p.i] == '}' {
		p.i++
		return v, nil
	}
	for {
		p.ws()
		if p.i >= len(p.b) || p.b[p.i] != '"' {
			return nil, p.fail("expected a member name")
		}
		k, err := p.str()
		if err != nil {
			return nil, err
		}
		p.ws()
		if p.i >= len(p.b) || p.b[p.i] != ':' {
			return nil, p.fail("expected ':'")
		}
		p.i++
		p.ws()
		m, err := p.value(depth + 1)
		if err != nil {
			return nil, err
		}
		if old, at := v.get(k); at >= 0 {
			// Most JSON readers keep the last duplicate; do the same, but remember the
			// first so the rewrite can record it instead of dropping it silently.
			v.dups = append(v.dups, mdMember{key: k, val: old})
			p.dups = true
			v.obj[at].val = m
		} else {
			v.obj = append(v.obj, mdMember{key: k, val: m})
		}
		p.ws()
		if p.i >= len(p.b) {
			return nil, p.fail("unexpected end in object")
		}
		switch p.b[p.i] {
		case ',':
			p.i++
		case '}':
			p.i++
			return v, nil
		default:
			return nil, p.fail("expected ',' or '}'")
		}
	}
}

func (p *mdParser) array(depth int) (*mdValue, error) {
	v := &mdValue{kind: mdArray}
	p.i++ // [
	p.ws()
	if p.i < len(p.b) && p.b[p.i] == ']' {
		p.i++
		return v, nil
	}
	for {
		p.ws()
		e, err := p.value(depth + 1)
		if err != nil {
			return nil, err
		}
		v.arr = append(v.arr, e)
		p.ws()
		if p.i >= len(p.b) {
			return nil, p.fail("unexpected end in array")
		}
		switch p.b[p.i] {
		case ',':
			p.i++
		case ']':
			p.i++
			return v, nil
		default:
			return nil, p.fail("expected ',' or ']'")
		}
	}
}

// str reads a string literal at p.i (the opening quote), validating UTF-8.
func (p *mdParser) str() (string, error) {
	start := p.i + 1
	j := start
	esc := false
	for {
		if j >= len(p.b) {
			return "", p.fail("unterminated string")
		}
		c := p.b[j]
		if c == '"' {
			break
		}
		if c < 0x20 {
			p.i = j
			return "", p.fail("control character in string")
		}
		if c == '\\' {
			esc = true
			j++
		}
		j++
	}
	raw := p.b[start:j]
	p.i = j + 1
	if !esc {
		if !utf8.Valid(raw) {
			p.i = start
			return "", p.fail("invalid UTF-8 in string")
		}
		return string(raw), nil
	}
	s, ok := mdUnescape(raw)
	if !ok {
		p.i = start
		return "", p.fail("invalid escape or UTF-8 in string")
	}
	return s, nil
}

func mdUnescape(raw []byte) (string, bool) {
	out := make([]byte, 0, len(raw))
	for i := 0; i < len(raw); {
		c := raw[i]
		if c != '\\' {
			if c < utf8.RuneSelf {
				out = append(out, c)
				i++
				continue
			}
			r, n := utf8.DecodeRune(raw[i:])
			if r == utf8.RuneError && n <= 1 {
				return "", false
			}
			out = append(out, raw[i:i+n]...)
			i += n
			continue
		}
		if i+1 >= len(raw) {
			return "", false
		}
		switch raw[i+1] {
		case '"', '\\', '/':
			out = append(out, raw[i+1])
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			r, ok := mdHex4(raw[i+2:])
			if !ok {
				return "", false
			}
			i += 6
			if utf16.IsSurrogate(r) {
				r2, ok2 := rune(-1), false
				if i+1 < len(raw) && raw[i] == '\\' && raw[i+1] == 'u' {
					r2, ok2 = mdHex4(raw[i+2:])
				}
				if d := utf16.DecodeRune(r, r2); ok2 && d != utf8.RuneError {
					r = d
					i += 6
				} else {
					// A lone surrogate is not a character; Go's encoding/json replaces it
					// with U+FFFD, which would change the value. Refuse instead.
					return "", false
				}
			}
			out = utf8.AppendRune(out, r)
			continue
		default:
			return "", false
		}
		i += 2
	}
	return string(out), true
}

func mdHex4(b []byte) (rune, bool) {
	if len(b) < 4 {
		return 0, false
	}
	n, err := strconv.ParseUint(string(b[:4]), 16, 32)
	if err != nil {
		return 0, false
	}
	return rune(n), true
}

// mdNumberLen returns the length of the JSON number at the start of b, or 0.
func mdNumberLen(b []byte) int {
	i := 0
	if i < len(b) && b[i] == '-' {
		i++
	}
	if i >= len(b) {
		return 0
	}
	if b[i] == '0' {
		i++
	} else if b[i] >= '1' && b[i] <= '9' {
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
	} else {
		return 0
	}
	if i < len(b) && b[i] == '.' {
		i++
		d := i
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
		if i == d {
			return 0
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		d := i
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
		if i == d {
			return 0
		}
	}
	return i
}

// mdAppend writes v as compact JSON. HTML characters are left alone: the output is data,
// not markup, and escaping them would make an unchanged value look changed.
func mdAppend(dst []byte, v *mdValue) []byte {
	switch v.kind {
	case mdNull:
		return append(dst, "null"...)
	case mdBool, mdNumber:
		return append(dst, v.s...)
	case mdString:
		return json.AppendEscape(dst, v.s, 0)
	case mdArray:
		dst = append(dst, '[')
		for i, e := range v.arr {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = mdAppend(dst, e)
		}
		return append(dst, ']')
	case mdObject:
		dst = append(dst, '{')
		for i, m := range v.obj {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = json.AppendEscape(dst, m.key, 0)
			dst = append(dst, ':')
			dst = mdAppend(dst, m.val)
		}
		return append(dst, '}')
	}
	return dst
}

func (v *mdValue) raw() json.RawMessage { return mdAppend(nil, v) }

func mdStr(s string) *mdValue { return &mdValue{kind: mdString, s: s} }

// clone copies v deeply, so a recorded Before cannot be altered by a later rewrite.
func (v *mdValue) clone() *mdValue {
	if v == nil {
		return nil
	}
	c := &mdValue{kind: v.kind, s: v.s}
	if v.arr != nil {
		c.arr = make([]*mdValue, len(v.arr))
		for i, e := range v.arr {
			c.arr[i] = e.clone()
		}
	}
	if v.obj != nil {
		c.obj = make([]mdMember, len(v.obj))
		for i, m := range v.obj {
			c.obj[i] = mdMember{key: m.key, val: m.val.clone()}
		}
	}
	return c
}

func mdEqual(a, b *mdValue) bool {
	if a.kind != b.kind {
		return false
	}
	switch a.kind {
	case mdArray:
		if len(a.arr) != len(b.arr) {
			return false
		}
		for i := range a.arr {
			if !mdEqual(a.arr[i], b.arr[i]) {
				return false
			}
		}
		return true
	case mdObject:
		if len(a.obj) != len(b.obj) {
			return false
		}
		for _, m := range a.obj {
			o, at := b.get(m.key)
			if at < 0 || !mdEqual(m.val, o) {
				return false
			}
		}
		return true
	}
	return a.s == b.s
}
