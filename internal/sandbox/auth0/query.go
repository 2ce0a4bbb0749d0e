package auth0

import (
	"errors"
	"fmt"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/segmentio/encoding/json"
)

// The q parameter of GET /api/v2/users is Lucene query syntax (search engine v3). This is
// the subset clients use to page past the 1,000-result cap and to search:
//
//	created_at:[2020-01-01 TO 2020-02-01}    inclusive [ ] / exclusive { } ranges, * open
//	updated_at:[2021-03-04T05:06:07.000Z TO *]
//	email:"jane@example.com"   email:*@example.com   user_id:auth0|abc
//	app_metadata.plan:pro      identities.connection:"google-oauth2"   _exists_:username
//	a AND b, a OR b, NOT a, -a, (grouping), and juxtaposition as AND
//
// Values compare case-insensitively (Auth0 normalises emails; keyword fields are matched
// whole, '*' and '?' are wildcards). Date fields compare as instants.

type node interface {
	match(c *evalCtx) bool
}

type evalCtx struct {
	u       *user
	doc     any
	decoded bool
}

// field returns the values at a dotted path of the user; arrays are flattened, as Lucene
// indexes them.
func (c *evalCtx) field(name string) []any {
	switch name {
	case "user_id":
		return []any{c.u.id}
	case "email":
		if c.u.email == "" {
			return nil
		}
		return []any{c.u.email}
	}
	if !c.decoded {
		c.decoded = true
		_ = json.Unmarshal(c.u.raw, &c.doc)
	}
	vals := []any{c.doc}
	for _, part := range strings.Split(name, ".") {
		var next []any
		for _, v := range vals {
			next = appendChild(next, v, part)
		}
		vals = next
		if len(vals) == 0 {
			return nil
		}
	}
	return flatten(vals)
}

func appendChild(dst []any, v any, key string) []any {
	switch x := v.(type) {
	case map[string]any:
		if c, ok := x[key]; ok {
			dst = append(dst, c)
		}
	case []any:
		for _, e := range x {
			dst = appendChild(dst, e, key)
		}
	}
	return dst
}

func flatten(vals []any) []any {
	var out []any
	for _, v := range vals {
		if a, ok := v.([]any); ok {
			out = append(out, flatten(a)...)
		} else if v != nil {
			out = append(out, v)
		}
	}
	return out
}

func scalarString(v any) (string, bool) {
	switch x := v.(type) {
	case string:
		return x, true
	case bool:
		return strconv.FormatBool(x), true
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64), true
	case json.Number:
		return string(x), true
	}
	return "", false
}

var dateFields = map[string]bool{"created_at": true, "updated_at": true, "last_login": true}

func (c *evalCtx) dateField(name string) (int64, bool) {
	var v int64
	switch name {
	case "created_at":
		v = c.u.created
	case "updated_at":
		v = c.u.updated
	case "last_login":
		v = c.u.lastLogin
	}
	return v, v != 0
}

type andNode struct{ a, b node }
type orNode struct{ a, b node }
type notNode struct{ a node }

func (n andNode) match(c *evalCtx) bool { return n.a.match(c) && n.b.match(c) }
func (n orNode) match(c *evalCtx) bool  { return n.a.match(c) || n.b.match(c) }
func (n notNode) match(c *evalCtx) bool { return !n.a.match(c) }

type existsNode struct{ field string }

func (n existsNode) match(c *evalCtx) bool {
	if dateFields[n.field] {
		_, ok := c.dateField(n.field)
		return ok
	}
	return len(c.field(n.field)) > 0
}

type termNode struct {
	field string // "" searches the default fields
	value string // lowercased
	glob  bool
}

var defaultFields = []string{"email", "name", "nickname", "username", "user_id"}

func (n termNode) match(c *evalCtx) bool {
	if n.field == "" {
		for _, f := range defaultFields {
			if (termNode{field: f, value: n.value, glob: n.glob}).match(c) {
				return true
			}
		}
		return false
	}
	if dateFields[n.field] && !n.glob {
		v, ok := c.dateField(n.field)
		lo, hi, err := parseDateBound(n.value)
		return ok && err == nil && v >= lo && v < hi
	}
	for _, v := range c.field(n.field) {
		s, ok := scalarString(v)
		if !ok {
			continue
		}
		s = strings.ToLower(s)
		if n.glob {
			if m, _ := path.Match(n.value, s); m {
				return true
			}
		} else if s == n.value {
			return true
		}
	}
	return false
}

type rangeNode struct {
	field          string
	lo, hi         string // "" is open (*)
	loIncl, hiIncl bool
	// Date bounds, resolved at parse time for date fields.
	loMS, hiMS int64
}

func (n rangeNode) match(c *evalCtx) bool {
	if dateFields[n.field] {
		v, ok := c.dateField(n.field)
		if !ok {
			return false
		}
		if n.lo != "" && (v < n.loMS || (!n.loIncl && v == n.loMS)) {
			return false
		}
		if n.hi != "" && (v > n.hiMS || (!n.hiIncl && v == n.hiMS)) {
			return false
		}
		return true
	}
	for _, v := range c.field(n.field) {
		if inRange(v, n) {
			return true
		}
	}
	return false
}

func inRange(v any, n rangeNode) bool {
	if f, ok := v.(float64); ok {
		lo, errLo := strconv.ParseFloat(n.lo, 64)
		hi, errHi := strconv.ParseFloat(n.hi, 64)
		if (n.lo != "" && errLo != nil) || (n.hi != "" && errHi != nil) {
			return false
		}
		return (n.lo == "" || f > lo || (n.loIncl && f == lo)) &&
			(n.hi == "" || f < hi || (n.hiIncl && f == hi))
	}
	s, ok := scalarString(v)
	if !ok {
		return false
	}
	s = strings.ToLower(s)
	return (n.lo == "" || s > n.lo || (n.loIncl && s == n.lo)) &&
		(n.hi == "" || s < n.hi || (n.hiIncl && s == n.hi))
}

// parseDateBound reads a date bound. It returns the instant and the end of the period the
// text names: a date alone covers its whole day, as Elasticsearch rounds it.
func parseDateBound(s string) (lo, hi int64, err error) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.000Z07:00", "2006-01-02T15:04:05", "2006-01-02T15:04"} {
		if t, e := time.Parse(layout, s); e == nil {
			return t.UnixMilli(), t.UnixMilli() + 1, nil
		}
	}
	if t, e := time.Parse("2006-01-02", s); e == nil {
		return t.UnixMilli(), t.AddDate(0, 0, 1).UnixMilli(), nil
	}
	return 0, 0, fmt.Errorf("%q is not a date", s)
}

// errQuery marks a query the parser refused.
var errQuery = errors.New("invalid query")

type parser struct {
	s   string
	pos int
}

// parseQuery parses q; an empty q matches every user (nil node).
func parseQuery(q string) (node, error) {
	p := &parser{s: q}
	p.space()
	if p.eof() {
		return nil, nil
	}
	n, err := p.or()
	if err != nil {
		return nil, err
	}
	p.space()
	if !p.eof() {
		return nil, p.errf("unexpected %q", p.s[p.pos:])
	}
	return n, nil
}

func (p *parser) errf(format string, a ...any) error {
	return fmt.Errorf("%w: %s at offset %d", errQuery, fmt.Sprintf(format, a...), p.pos)
}

func (p *parser) eof() bool { return p.pos >= len(p.s) }

func (p *parser) space() {
	for !p.eof() && (p.s[p.pos] == ' ' || p.s[p.pos] == '\t' || p.s[p.pos] == '\n' || p.s[p.pos] == '\r') {
		p.pos++
	}
}

// keyword consumes kw if it stands alone at pos.
func (p *parser) keyword(kw string) bool {
	p.space()
	if !strings.HasPrefix(p.s[p.pos:], kw) {
		return false
	}
	end := p.pos + len(kw)
	if end < len(p.s) && !strings.ContainsRune(" \t\r\n(", rune(p.s[end])) {
		return false
	}
	p.pos = end
	return true
}

const maxDepth = 64

func (p *parser) or() (node, error) { return p.orDepth(0) }

func (p *parser) orDepth(d int) (node, error) {
	if d > maxDepth {
		return nil, p.errf("query nested too deeply")
	}
	n, err := p.and(d)
	if err != nil {
		return nil, err
	}
	for {
		if p.keyword("OR") || p.op("||") {
			m, err := p.and(d)
			if err != nil {
				return nil, err
			}
			n = orNode{n, m}
			continue
		}
		return n, nil
	}
}

func (p *parser) op(s string) bool {
	p.space()
	if strings.HasPrefix(p.s[p.pos:], s) {
		p.pos += len(s)
		return true
	}
	return false
}

func (p *parser) and(d int) (node, error) {
	n, err := p.unary(d)
	if err != nil {
		return nil, err
	}
	for {
		p.space()
		if p.eof() || p.s[p.pos] == ')' {
			return n, nil
		}
		save := p.pos
		if p.keyword("OR") || p.op("||") {
			p.pos = save
			return n, nil
		}
		_ = p.keyword("AND") || p.op("&&")
		m, err := p.unary(d)
		if err != nil {
			return nil, err
		}
		n = andNode{n, m}
	}
}

func (p *parser) unary(d int) (node, error) {
	if d > maxDepth {
		return nil, p.errf("query nested too deeply")
	}
	if p.keyword("NOT") || p.op("!") || p.op("-") {
		n, err := p.unary(d + 1)
		if err != nil {
			return nil, err
		}
		return notNode{n}, nil
	}
	_ = p.op("+")
	p.space()
	if p.op("(") {
		n, err := p.orDepth(d + 1)
		if err != nil {
			return nil, err
		}
		if !p.op(")") {
			return nil, p.errf("missing )")
		}
		return n, nil
	}
	return p.term()
}

const special = " \t\r\n()[]{}:\"^~"

// word reads a bare term; a backslash escapes the next character. In ranges, ':' belongs to
// the word (timestamps).
func (p *parser) word(inRange bool) string {
	var b strings.Builder
	for !p.eof() {
		c := p.s[p.pos]
		if c == '\\' && p.pos+1 < len(p.s) {
			b.WriteByte(p.s[p.pos+1])
			p.pos += 2
			continue
		}
		if strings.IndexByte(special, c) >= 0 && !(inRange && c == ':') {
			break
		}
		b.WriteByte(c)
		p.pos++
	}
	return b.String()
}

func (p *parser) quoted() (string, error) {
	p.pos++ // opening quote
	var b strings.Builder
	for !p.eof() {
		c := p.s[p.pos]
		switch c {
		case '\\':
			if p.pos+1 < len(p.s) {
				b.WriteByte(p.s[p.pos+1])
				p.pos += 2
				continue
			}
		case '"':
			p.pos++
			return b.String(), nil
		}
		b.WriteByte(c)
		p.pos++
	}
	return "", p.errf("unterminated quote")
}

func (p *parser) value(inRange bool) (v string, quoted bool, err error) {
	p.space()
	if !p.eof() && p.s[p.pos] == '"' {
		v, err = p.quoted()
		return v, true, err
	}
	v = p.word(inRange)
	if v == "" {
		return "", false, p.errf("expected a value")
	}
	return v, false, nil
}

func (p *parser) term() (node, error) {
	p.space()
	start := p.pos
	var first string
	var quoted bool
	var err error
	if !p.eof() && p.s[p.pos] == '"' {
		first, err = p.quoted()
		quoted = true
	} else {
		first = p.word(false)
	}
	if err != nil {
		return nil, err
	}
	if first == "" {
		return nil, p.errf("expected a term")
	}
	if quoted || p.eof() || p.s[p.pos] != ':' {
		return newTerm("", first, quoted), nil
	}
	p.pos++ // ':'
	field := first
	if field == "_exists_" {
		f, _, err := p.value(false)
		if err != nil {
			return nil, err
		}
		return existsNode{field: f}, nil
	}
	if !p.eof() && (p.s[p.pos] == '[' || p.s[p.pos] == '{') {
		return p.rangeTerm(field)
	}
	if !p.eof() && p.s[p.pos] == '(' {
		return nil, p.errf("field groups are not supported")
	}
	v, quoted, err := p.value(false)
	if err != nil {
		p.pos = start
		return nil, err
	}
	return newTerm(field, v, quoted), nil
}

func newTerm(field, v string, quoted bool) node {
	if v == "*" && field != "" {
		return existsNode{field: field}
	}
	glob := !quoted && strings.ContainsAny(v, "*?")
	if glob {
		// path.Match treats '[' and '\\' specially; the word reader already removed
		// escapes, and brackets end a word, so only * and ? remain meaningful.
		v = strings.ReplaceAll(v, `\`, `\\`)
	}
	return termNode{field: field, value: strings.ToLower(v), glob: glob}
}

func (p *parser) rangeTerm(field string) (node, error) {
	n := rangeNode{field: field, loIncl: p.s[p.pos] == '['}
	p.pos++
	lo, qlo, err := p.value(true)
	if err != nil {
		return nil, err
	}
	if !p.keyword("TO") {
		return nil, p.errf("expected TO in range")
	}
	hi, qhi, err := p.value(true)
	if err != nil {
		return nil, err
	}
	p.space()
	if p.eof() || (p.s[p.pos] != ']' && p.s[p.pos] != '}') {
		return nil, p.errf("unterminated range")
	}
	n.hiIncl = p.s[p.pos] == ']'
	p.pos++
	if lo != "*" || qlo {
		n.lo = strings.ToLower(lo)
	}
	if hi != "*" || qhi {
		n.hi = strings.ToLower(hi)
	}
	if dateFields[field] {
		if n.lo != "" {
			l, h, err := parseDateBound(lo)
			if err != nil {
				return nil, p.errf("%v", err)
			}
			n.loMS = l
			if !n.loIncl { // exclusive lower bound on a day excludes the whole day
				n.loMS, n.loIncl = h, true
			}
		}
		if n.hi != "" {
			l, h, err := parseDateBound(hi)
			if err != nil {
				return nil, p.errf("%v", err)
			}
			if n.hiIncl {
				n.hiMS, n.hiIncl = h, false // inclusive upper bound on a day includes the whole day
			} else {
				n.hiMS = l
			}
		}
	}
	return n, nil
}
