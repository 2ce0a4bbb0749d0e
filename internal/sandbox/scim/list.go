package scim

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/segmentio/encoding/json"
)

type listQuery struct {
	filter     Filter
	filterText string
	startIndex int
	count      int
	cursor     *string // RFC 9865: present (even empty) selects cursor paging
	sortBy     string
	descending bool
	attrs      []string
	excluded   []string
}

// parseListQuery reads the query from URL parameters (GET) or a SearchRequest body.
func (s *Server) parseListQuery(r *http.Request, body map[string]any) (*listQuery, *Error) {
	get := func(name string) (string, bool, *Error) {
		if body == nil {
			q := r.URL.Query()
			_, has := q[name]
			return q.Get(name), has, nil
		}
		v, has := getCI(body, name)
		switch x := v.(type) {
		case nil:
			return "", false, nil
		case string:
			return x, has, nil
		case float64:
			return strconv.FormatFloat(x, 'f', -1, 64), has, nil
		case []any:
			parts := make([]string, 0, len(x))
			for _, p := range x {
				if ps, ok := p.(string); ok {
					parts = append(parts, ps)
				}
			}
			return strings.Join(parts, ","), has, nil
		}
		return "", false, badValue("%s has the wrong type", name)
	}
	q := &listQuery{startIndex: 1, count: s.cfg.DefaultPageSize}
	v, has, e := get("filter")
	if e != nil {
		return nil, e
	}
	if has && strings.TrimSpace(v) != "" {
		f, err := ParseFilter(v)
		if err != nil {
			return nil, errf(http.StatusBadRequest, errInvalidFilter, "%v", err)
		}
		q.filter, q.filterText = f, f.String()
	}
	num := func(name string) (int, bool, *Error) {
		v, has, e := get(name)
		if e != nil || !has || v == "" {
			return 0, false, e
		}
		n, err := strconv.Atoi(v)
		if err != nil {
			scimType := errInvalidValue
			if name == "count" {
				scimType = errInvalidCount
			}
			return 0, false, errf(http.StatusBadRequest, scimType, "%s %q is not an integer", name, v)
		}
		return n, true, nil
	}
	si, hasSI, e := num("startIndex")
	if e != nil {
		return nil, e
	}
	if hasSI && si > 1 {
		q.startIndex = si // values below 1 mean 1 (RFC 7644 §3.4.2.4)
	}
	if c, has, e := num("count"); e != nil {
		return nil, e
	} else if has {
		q.count = min(max(c, 0), s.cfg.MaxPageSize)
	}
	if cur, has, e := get("cursor"); e != nil {
		return nil, e
	} else if has {
		if hasSI {
			return nil, badValue("startIndex and cursor cannot be used together")
		}
		q.cursor = &cur
	}
	if v, _, e = get("sortBy"); e != nil {
		return nil, e
	}
	q.sortBy = strings.TrimSpace(v)
	if q.sortBy != "" {
		if _, err := parseAttrPath(q.sortBy); err != nil {
			return nil, badValue("sortBy %q is not an attribute path", q.sortBy)
		}
	}
	if v, _, e = get("sortOrder"); e != nil {
		return nil, e
	}
	switch strings.ToLower(v) {
	case "", "ascending":
	case "descending":
		q.descending = true
	default:
		return nil, badValue("sortOrder %q is not ascending or descending", v)
	}
	if v, _, e = get("attributes"); e != nil {
		return nil, e
	}
	q.attrs = splitList(v)
	if v, _, e = get("excludedAttributes"); e != nil {
		return nil, e
	}
	q.excluded = splitList(v)
	return q, nil
}

// cursorState is what a cursor carries: where the next page starts and what query it
// belongs to. Unsorted listings page by creation sequence (keyset), so users created or
// deleted between pages never shift the rest; sorted ones by offset.
type cursorState struct {
	After  int64  `json:"a,omitempty"`
	Offset int    `json:"o,omitempty"`
	Query  string `json:"q"`
	Issued int64  `json:"t"`
}

func (q *listQuery) fingerprint() string {
	return q.filterText + "\x00" + strings.ToLower(q.sortBy) + "\x00" + strconv.FormatBool(q.descending)
}

func (s *Server) signCursor(c cursorState) string {
	b, _ := json.Marshal(c)
	m := hmac.New(sha256.New, s.key)
	m.Write(b)
	return base64.RawURLEncoding.EncodeToString(b) + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil)[:16])
}

func (s *Server) openCursor(tok string, q *listQuery) (cursorState, *Error) {
	var c cursorState
	invalid := errf(http.StatusBadRequest, errInvalidCursor, "cursor is not valid for this query")
	body, mac, ok := strings.Cut(tok, ".")
	if !ok {
		return c, invalid
	}
	b, err1 := base64.RawURLEncoding.DecodeString(body)
	sig, err2 := base64.RawURLEncoding.DecodeString(mac)
	if err1 != nil || err2 != nil {
		return c, invalid
	}
	m := hmac.New(sha256.New, s.key)
	m.Write(b)
	if !hmac.Equal(sig, m.Sum(nil)[:16]) || json.Unmarshal(b, &c) != nil || c.Query != q.fingerprint() {
		return c, invalid
	}
	if s.clk.Now().After(time.Unix(c.Issued, 0).Add(s.cfg.CursorTimeout)) {
		return c, errf(http.StatusBadRequest, errExpiredCursor, "cursor has expired")
	}
	return c, nil
}

func (s *Server) handleList(w http.ResponseWriter, r *http.Request, body map[string]any) {
	q, e := s.parseListQuery(r, body)
	if e != nil {
		s.writeErr(w, e)
		return
	}
	var cur cursorState
	if q.cursor != nil && *q.cursor != "" {
		if cur, e = s.openCursor(*q.cursor, q); e != nil {
			s.writeErr(w, e)
			return
		}
	}
	// Match under the read lock, render outside it.
	s.mu.RLock()
	var matches []*entry
	scan := s.ordered
	if cands, ok := s.indexed(q.filter); ok {
		scan = cands
	}
	for _, ent := range scan {
		if q.filter == nil || s.ev.Match(q.filter, ent.res) {
			matches = append(matches, ent)
		}
	}
	total := len(matches)
	var page []*entry
	var next *cursorState
	if q.sortBy != "" {
		s.sortEntries(matches, q)
	}
	switch {
	case q.cursor != nil && q.sortBy == "":
		i := sort.Search(len(matches), func(i int) bool { return matches[i].seq > cur.After })
		end := min(i+q.count, len(matches))
		page = matches[i:end]
		if end < len(matches) && len(page) > 0 {
			next = &cursorState{After: page[len(page)-1].seq}
		}
	case q.cursor != nil:
		i := min(cur.Offset, len(matches))
		end := min(i+q.count, len(matches))
		page = matches[i:end]
		if end < len(matches) && len(page) > 0 {
			next = &cursorState{Offset: end}
		}
	default:
		i := min(q.startIndex-1, len(matches))
		page = matches[i:min(i+q.count, len(matches))]
	}
	snaps := make([]*entry, len(page))
	for i, ent := range page {
		snaps[i] = ent.snapshot()
	}
	s.mu.RUnlock()

	base := s.baseURL(r)
	resources := make([]any, len(snaps))
	for i, ent := range snaps {
		resources[i] = s.render(ent, base, q.attrs, q.excluded)
	}
	resp := map[string]any{
		"schemas":      []string{ListURN},
		"totalResults": total,
		"itemsPerPage": len(resources),
		"Resources":    resources,
	}
	if q.cursor == nil {
		resp["startIndex"] = q.startIndex
	} else if next != nil {
		next.Query, next.Issued = q.fingerprint(), s.clk.Now().Unix()
		resp["nextCursor"] = s.signCursor(*next)
	}
	s.writeJSON(w, http.StatusOK, resp)
}

// sortEntries orders matches by the sortBy attribute (RFC 7644 §3.4.2.3): missing values
// last whatever the order, strings compared per caseExact, ties kept in creation order.
func (s *Server) sortEntries(matches []*entry, q *listQuery) {
	p, _ := parseAttrPath(q.sortBy)
	type keyed struct {
		e   *entry
		val any
		def *attr
	}
	ks := make([]keyed, len(matches))
	for i, e := range matches {
		vals, def := s.ev.resolve(p, e.res, nil, true)
		var v any
		for _, x := range vals {
			if isPresent(x) {
				v = x
				break
			}
		}
		ks[i] = keyed{e, v, def}
	}
	sort.SliceStable(ks, func(i, j int) bool {
		a, b := ks[i].val, ks[j].val
		if a == nil || b == nil {
			return a != nil && b == nil
		}
		c := cmpAny(a, b, ks[i].def)
		if q.descending {
			return c > 0
		}
		return c < 0
	})
	for i := range ks {
		matches[i] = ks[i].e
	}
}

func cmpAny(a, b any, def *attr) int {
	switch x := a.(type) {
	case string:
		y, _ := b.(string)
		if def != nil && def.Type == "dateTime" {
			ta, e1 := time.Parse(time.RFC3339Nano, x)
			tb, e2 := time.Parse(time.RFC3339Nano, y)
			if e1 == nil && e2 == nil {
				return ta.Compare(tb)
			}
		}
		if def == nil || !def.CaseExact {
			x, y = strings.ToLower(x), strings.ToLower(y)
		}
		return strings.Compare(x, y)
	case float64:
		y, _ := b.(float64)
		switch {
		case x < y:
			return -1
		case x > y:
			return 1
		}
	case bool:
		y, _ := b.(bool)
		if x != y {
			if !x {
				return -1
			}
			return 1
		}
	}
	return 0
}
