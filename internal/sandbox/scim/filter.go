package scim

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/segmentio/encoding/json"
)

// Filter is a parsed SCIM filter expression (RFC 7644 §3.4.2.2). String gives a canonical
// form that parses back to the same filter.
type Filter interface {
	String() string
	match(ev *evaluator, res map[string]any, scope *attr) bool
}

// maxFilterDepth bounds nesting so that a hostile filter cannot exhaust the stack.
const maxFilterDepth = 64

// maxFilterLen bounds the filter text a request may carry.
const maxFilterLen = 16 << 10

// ErrFilter is wrapped by every filter parse error.
var ErrFilter = errors.New("invalid filter")

// attrPath is [URN ":"] name ["." sub].
type attrPath struct {
	urn, name, sub string
}

func (p attrPath) String() string {
	s := p.name
	if p.sub != "" {
		s += "." + p.sub
	}
	if p.urn != "" {
		s = p.urn + ":" + s
	}
	return s
}

type logical struct {
	and  bool
	l, r Filter
}

type notExpr struct{ f Filter }

type compare struct {
	path attrPath
	op   string // eq ne co sw ew gt ge lt le pr
	val  any    // string, float64, bool or nil
}

type valuePath struct {
	path attrPath
	f    Filter
}

func (l *logical) String() string {
	op := " or "
	if l.and {
		op = " and "
	}
	return "(" + l.l.String() + op + l.r.String() + ")"
}

func (n *notExpr) String() string { return "not (" + n.f.String() + ")" }

func (c *compare) String() string {
	if c.op == "pr" {
		return c.path.String() + " pr"
	}
	v, _ := json.Marshal(c.val)
	return c.path.String() + " " + c.op + " " + string(v)
}

func (v *valuePath) String() string { return v.path.String() + "[" + v.f.String() + "]" }

// ---- lexer

type tokKind int

const (
	tkEOF tokKind = iota
	tkWord
	tkString
	tkLParen
	tkRParen
	tkLBrack
	tkRBrack
)

type token struct {
	kind tokKind
	text string // word text, or the decoded string
	pos  int
}

func lex(s string) ([]token, error) {
	var out []token
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '(' || c == ')' || c == '[' || c == ']':
			k := map[byte]tokKind{'(': tkLParen, ')': tkRParen, '[': tkLBrack, ']': tkRBrack}[c]
			out = append(out, token{kind: k, text: string(c), pos: i})
			i++
		case c == '"':
			j := i + 1
			for ; j < len(s); j++ {
				if s[j] == '\\' {
					j++
					continue
				}
				if s[j] == '"' {
					break
				}
			}
			if j >= len(s) {
				return nil, fmt.Errorf("%w: unterminated string at %d", ErrFilter, i)
			}
			var str string
			if err := json.Unmarshal([]byte(s[i:j+1]), &str); err != nil {
				return nil, fmt.Errorf("%w: bad string at %d: %v", ErrFilter, i, err)
			}
			out = append(out, token{kind: tkString, text: str, pos: i})
			i = j + 1
		default:
			j := i
			for j < len(s) && !strings.ContainsRune(" \t\n\r()[]\"", rune(s[j])) {
				j++
			}
			out = append(out, token{kind: tkWord, text: s[i:j], pos: i})
			i = j
		}
	}
	return append(out, token{kind: tkEOF, pos: len(s)}), nil
}

// ---- parser

type parser struct {
	toks  []token
	i     int
	depth int
}

func (p *parser) peek() token { return p.toks[p.i] }
func (p *parser) next() token {
	t := p.toks[p.i]
	if t.kind != tkEOF {
		p.i++
	}
	return t
}

func (p *parser) isWord(w string) bool {
	t := p.peek()
	return t.kind == tkWord && strings.EqualFold(t.text, w)
}

func (p *parser) expect(k tokKind, what string) error {
	t := p.next()
	if t.kind != k {
		return fmt.Errorf("%w: expected %s at %d", ErrFilter, what, t.pos)
	}
	return nil
}

// ParseFilter parses a SCIM filter.
func ParseFilter(s string) (Filter, error) {
	if len(s) > maxFilterLen {
		return nil, fmt.Errorf("%w: longer than %d bytes", ErrFilter, maxFilterLen)
	}
	toks, err := lex(s)
	if err != nil {
		return nil, err
	}
	p := &parser{toks: toks}
	f, err := p.parseOr()
	if err != nil {
		return nil, err
	}
	if t := p.peek(); t.kind != tkEOF {
		return nil, fmt.Errorf("%w: unexpected %q at %d", ErrFilter, t.text, t.pos)
	}
	return f, nil
}

func (p *parser) parseOr() (Filter, error) {
	p.depth++
	defer func() { p.depth-- }()
	if p.depth > maxFilterDepth {
		return nil, fmt.Errorf("%w: nested deeper than %d", ErrFilter, maxFilterDepth)
	}
	l, err := p.parseAnd()
	if err != nil {
		return nil, err
	}
	for p.isWord("or") {
		p.next()
		r, err := p.parseAnd()
		if err != nil {
			return nil, err
		}
		l = &logical{and: false, l: l, r: r}
	}
	return l, nil
}

func (p *parser) parseAnd() (Filter, error) {
	l, err := p.parseUnary()
	if err != nil {
		return nil, err
	}
	for p.isWord("and") {
		p.next()
		r, err := p.parseUnary()
		if err != nil {
			return nil, err
		}
		l = &logical{and: true, l: l, r: r}
	}
	return l, nil
}

func (p *parser) parseUnary() (Filter, error) {
	if p.isWord("not") && p.toks[p.i+1].kind == tkLParen {
		p.next()
		p.next()
		f, err := p.parseOr()
		if err != nil {
			return nil, err
		}
		if err := p.expect(tkRParen, `")"`); err != nil {
			return nil, err
		}
		return &notExpr{f: f}, nil
	}
	if p.peek().kind == tkLParen {
		p.next()
		f, err := p.parseOr()
		if err != nil {
			return nil, err
		}
		if err := p.expect(tkRParen, `")"`); err != nil {
			return nil, err
		}
		return f, nil
	}
	t := p.next()
	if t.kind != tkWord {
		return nil, fmt.Errorf("%w: expected an attribute at %d", ErrFilter, t.pos)
	}
	path, err := parseAttrPath(t.text)
	if err != nil {
		return nil, err
	}
	if p.peek().kind == tkLBrack {
		p.next()
		if path.sub != "" {
			return nil, fmt.Errorf("%w: a value filter applies to an attribute, not %q", ErrFilter, t.text)
		}
		f, err := p.parseOr()
		if err != nil {
			return nil, err
		}
		if err := p.expect(tkRBrack, `"]"`); err != nil {
			return nil, err
		}
		return &valuePath{path: path, f: f}, nil
	}
	opTok := p.next()
	if opTok.kind != tkWord {
		return nil, fmt.Errorf("%w: expected an operator after %q", ErrFilter, t.text)
	}
	op := strings.ToLower(opTok.text)
	switch op {
	case "pr":
		return &compare{path: path, op: op}, nil
	case "eq", "ne", "co", "sw", "ew", "gt", "ge", "lt", "le":
	default:
		return nil, fmt.Errorf("%w: unknown operator %q at %d", ErrFilter, opTok.text, opTok.pos)
	}
	vt := p.next()
	var val any
	switch vt.kind {
	case tkString:
		val = vt.text
	case tkWord:
		switch strings.ToLower(vt.text) {
		case "true":
			val = true
		case "false":
			val = false
		case "null":
			val = nil
		default:
			f, err := parseNumber(vt.text)
			if err != nil {
				return nil, fmt.Errorf("%w: bad value %q at %d", ErrFilter, vt.text, vt.pos)
			}
			val = f
		}
	default:
		return nil, fmt.Errorf("%w: expected a value after %q", ErrFilter, opTok.text)
	}
	return &compare{path: path, op: op, val: val}, nil
}

// parseNumber accepts JSON numbers only (no NaN, Inf, hex or leading '+').
func parseNumber(s string) (float64, error) {
	if s == "" || !(s[0] == '-' || (s[0] >= '0' && s[0] <= '9')) || !json.Valid([]byte(s)) {
		return 0, errors.New("not a number")
	}
	return strconv.ParseFloat(s, 64)
}

func validName(s string, allowRef bool) bool {
	if s == "" {
		return false
	}
	if allowRef && s == "$ref" {
		return true
	}
	for i, c := range s {
		alpha := (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
		if !alpha && (i == 0 || !(c == '-' || c == '_' || (c >= '0' && c <= '9'))) {
			return false
		}
	}
	return true
}

// parseAttrPath reads [URN ":"] ATTRNAME ["." subAttr]. The URN is everything before the
// last colon, so "urn:...:2.0:User:name.givenName" splits correctly.
func parseAttrPath(s string) (attrPath, error) {
	var p attrPath
	rest := s
	if i := strings.LastIndexByte(s, ':'); i >= 0 {
		p.urn, rest = s[:i], s[i+1:]
		if !strings.HasPrefix(strings.ToLower(p.urn), "urn:") {
			return p, fmt.Errorf("%w: bad attribute path %q", ErrFilter, s)
		}
	}
	name, sub, hasSub := strings.Cut(rest, ".")
	if !validName(name, false) || (hasSub && !validName(sub, true)) {
		return p, fmt.Errorf("%w: bad attribute path %q", ErrFilter, s)
	}
	p.name, p.sub = name, sub
	return p, nil
}

// ---- evaluation

type evaluator struct{ ss *schemaSet }

// Match reports whether the resource (a decoded JSON object) matches f.
func (ev *evaluator) Match(f Filter, res map[string]any) bool { return f.match(ev, res, nil) }

func (l *logical) match(ev *evaluator, res map[string]any, scope *attr) bool {
	if l.and {
		return l.l.match(ev, res, scope) && l.r.match(ev, res, scope)
	}
	return l.l.match(ev, res, scope) || l.r.match(ev, res, scope)
}

func (n *notExpr) match(ev *evaluator, res map[string]any, scope *attr) bool {
	return !n.f.match(ev, res, scope)
}

func (v *valuePath) match(ev *evaluator, res map[string]any, scope *attr) bool {
	vals, def := ev.resolve(v.path, res, scope, false)
	for _, x := range vals {
		if m, ok := x.(map[string]any); ok && v.f.match(ev, m, def) {
			return true
		}
	}
	return false
}

func (c *compare) match(ev *evaluator, res map[string]any, scope *attr) bool {
	vals, def := ev.resolve(c.path, res, scope, true)
	if c.op == "pr" || c.val == nil {
		present := false
		for _, x := range vals {
			if isPresent(x) {
				present = true
				break
			}
		}
		switch {
		case c.op == "pr", c.op == "ne":
			return present
		case c.op == "eq":
			return !present
		}
		return false
	}
	if c.op == "ne" {
		eq := &compare{path: c.path, op: "eq", val: c.val}
		return !eq.match(ev, res, scope)
	}
	for _, x := range vals {
		if compareValue(x, c.op, c.val, def) {
			return true
		}
	}
	return false
}

func isPresent(x any) bool {
	switch v := x.(type) {
	case nil:
		return false
	case string:
		return v != ""
	case []any:
		return len(v) > 0
	case map[string]any:
		return len(v) > 0
	}
	return true
}

// getCI finds a key case-insensitively, preferring an exact match.
func getCI(m map[string]any, key string) (any, bool) {
	if v, ok := m[key]; ok {
		return v, true
	}
	for k, v := range m {
		if strings.EqualFold(k, key) {
			return v, true
		}
	}
	return nil, false
}

// resolve returns the values a path names in res, flattened over multi-valued attributes,
// and the definition of the attribute compared. With leaf set, a path to a multi-valued
// complex attribute without a sub-attribute compares its "value" sub-attribute (RFC 7644
// §3.4.2.2).
func (ev *evaluator) resolve(p attrPath, res map[string]any, scope *attr, leaf bool) ([]any, *attr) {
	container, defs := res, []*attr(nil)
	switch {
	case scope != nil:
		defs = scope.SubAttributes
	case p.urn == "" || strings.EqualFold(p.urn, UserURN):
		defs = append(append([]*attr{}, commonAttrs...), ev.ss.core.Attributes...)
	default:
		ext, _ := getCI(res, p.urn)
		m, ok := ext.(map[string]any)
		if !ok {
			return nil, nil
		}
		container = m
		if s := ev.ss.extension(p.urn); s != nil {
			defs = s.Attributes
		}
	}
	def := findAttr(defs, p.name)
	v, ok := getCI(container, p.name)
	if !ok {
		return nil, def
	}
	vals := flatten(v)
	subName := p.sub
	if subName == "" && leaf && def != nil && def.Type == "complex" {
		subName = "value"
	}
	if subName == "" {
		return vals, def
	}
	var out []any
	for _, x := range vals {
		if m, ok := x.(map[string]any); ok {
			if sv, ok := getCI(m, subName); ok {
				out = append(out, flatten(sv)...)
			}
		}
	}
	var subDef *attr
	if def != nil {
		subDef = def.sub(subName)
	}
	return out, subDef
}

func flatten(v any) []any {
	if a, ok := v.([]any); ok {
		return a
	}
	return []any{v}
}

func compareValue(x any, op string, want any, def *attr) bool {
	switch w := want.(type) {
	case string:
		s, ok := x.(string)
		if !ok {
			return false
		}
		if def != nil && def.Type == "dateTime" {
			a, err1 := time.Parse(time.RFC3339Nano, s)
			b, err2 := time.Parse(time.RFC3339Nano, w)
			if err1 != nil || err2 != nil {
				return false
			}
			return ordered(a.Compare(b), op)
		}
		if def == nil || !def.CaseExact {
			s, w = strings.ToLower(s), strings.ToLower(w)
		}
		switch op {
		case "co":
			return strings.Contains(s, w)
		case "sw":
			return strings.HasPrefix(s, w)
		case "ew":
			return strings.HasSuffix(s, w)
		}
		return ordered(strings.Compare(s, w), op)
	case float64:
		f, ok := x.(float64)
		if !ok {
			return false
		}
		switch {
		case f < w:
			return ordered(-1, op)
		case f > w:
			return ordered(1, op)
		}
		return ordered(0, op)
	case bool:
		b, ok := x.(bool)
		return ok && op == "eq" && b == w
	}
	return false
}

func ordered(c int, op string) bool {
	switch op {
	case "eq":
		return c == 0
	case "gt":
		return c > 0
	case "ge":
		return c >= 0
	case "lt":
		return c < 0
	case "le":
		return c <= 0
	}
	return false
}
