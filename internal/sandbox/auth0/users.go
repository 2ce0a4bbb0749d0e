package auth0

import (
	"bytes"
	"cmp"
	"net/http"
	"slices"
	"strings"

	"github.com/segmentio/encoding/json"
)

// apply returns raw restricted to the projection's top-level fields.
func (pr projection) apply(raw []byte) []byte {
	if len(pr.fields) == 0 {
		return raw
	}
	var m map[string]json.RawMessage
	if json.Unmarshal(raw, &m) != nil {
		return raw
	}
	for k := range m {
		if pr.fields[k] != pr.include {
			delete(m, k)
		}
	}
	b, err := marshal(m)
	if err != nil {
		return raw
	}
	return b
}

type sortSpec struct {
	field string
	desc  bool
}

var sortKeys = map[string]func(a, b *user) int{
	"created_at": func(a, b *user) int { return cmp.Compare(a.created, b.created) },
	"updated_at": func(a, b *user) int { return cmp.Compare(a.updated, b.updated) },
	"last_login": func(a, b *user) int { return cmp.Compare(a.lastLogin, b.lastLogin) },
	"email":      func(a, b *user) int { return strings.Compare(a.email, b.email) },
	"user_id":    func(a, b *user) int { return strings.Compare(a.id, b.id) },
	"username":   func(a, b *user) int { return strings.Compare(a.username, b.username) },
}

func parseSort(v string) (sortSpec, bool) {
	if v == "" {
		return sortSpec{field: "created_at"}, true
	}
	f, dir, ok := strings.Cut(v, ":")
	if !ok || sortKeys[f] == nil || (dir != "1" && dir != "-1") {
		return sortSpec{}, false
	}
	return sortSpec{field: f, desc: dir == "-1"}, true
}

func sortByID(us []*user) {
	slices.SortFunc(us, func(a, b *user) int { return strings.Compare(a.id, b.id) })
}

// handleListUsers serves GET /api/v2/users (search engine v3).
func (s *Server) handleListUsers(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	pg, ok := parsePaging(w, q, s.cfg.MaxPerPage)
	if !ok {
		return
	}
	pr, ok := parseProjection(w, q)
	if !ok {
		return
	}
	if e := q.Get("search_engine"); e != "" && e != "v3" {
		badQuery(w, "The search engine "+e+" is no longer available. Use search_engine=v3.")
		return
	}
	sp, ok := parseSort(q.Get("sort"))
	if !ok {
		badQuery(w, "Query validation error: 'String does not match pattern ^(([a-zA-Z0-9_\\.]+))\\:(1|-1)$: "+q.Get("sort")+"' on property sort.")
		return
	}
	query, err := parseQuery(q.Get("q"))
	if err != nil {
		badQuery(w, "Invalid query: "+err.Error())
		return
	}
	if pg.beyondCap() {
		badQuery(w, msgPageLimit)
		return
	}
	all := s.store.snapshot() // created_at order
	matches := all[:0:0]
	if query == nil {
		matches = all
	} else {
		var c evalCtx
		for _, u := range all {
			c = evalCtx{u: u}
			if query.match(&c) {
				matches = append(matches, u)
			}
		}
	}
	if sp.field != "created_at" || sp.desc {
		key := sortKeys[sp.field]
		slices.SortStableFunc(matches, func(a, b *user) int {
			c := key(a, b)
			if c == 0 {
				c = strings.Compare(a.id, b.id)
			}
			if sp.desc {
				return -c
			}
			return c
		})
	}
	start, end := pg.window(len(matches))
	var b bytes.Buffer
	if pg.totals {
		b.WriteString(`{"start":`)
		writeInt(&b, start)
		b.WriteString(`,"limit":`)
		writeInt(&b, pg.perPage)
		b.WriteString(`,"length":`)
		writeInt(&b, end-start)
		b.WriteString(`,"total":`)
		total := len(matches)
		if s.cfg.CapTotals {
			total = min(total, maxResults)
		}
		writeInt(&b, total)
		b.WriteString(`,"users":`)
	}
	b.WriteByte('[')
	for k, u := range matches[start:end] {
		if k > 0 {
			b.WriteByte(',')
		}
		b.Write(pr.apply(u.raw))
	}
	b.WriteByte(']')
	if pg.totals {
		b.WriteByte('}')
	}
	writeRaw(w, http.StatusOK, b.Bytes())
}

func writeInt(b *bytes.Buffer, n int) {
	var tmp [20]byte
	b.Write(appendInt(tmp[:0], n))
}

func appendInt(dst []byte, n int) []byte {
	if n < 0 {
		dst = append(dst, '-')
		n = -n
	}
	var tmp [20]byte
	k := len(tmp)
	for {
		k--
		tmp[k] = byte('0' + n%10)
		n /= 10
		if n == 0 {
			break
		}
	}
	return append(dst, tmp[k:]...)
}

func (s *Server) handleGetUser(w http.ResponseWriter, r *http.Request) {
	pr, ok := parseProjection(w, r.URL.Query())
	if !ok {
		return
	}
	u := s.store.get(r.PathValue("id"))
	if u == nil {
		writeError(w, http.StatusNotFound, "inexistent_user", msgUserMissing)
		return
	}
	writeRaw(w, http.StatusOK, pr.apply(u.raw))
}

// handleDeleteUser answers 204 whether or not the user existed, as the API does: deletion
// is idempotent.
func (s *Server) handleDeleteUser(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if s.store.delete(id) {
		s.cat.unassignUser(id)
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) handleUsersByEmail(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	email := q.Get("email")
	if email == "" {
		badQuery(w, "Query validation error: 'Missing required property: email' on property email.")
		return
	}
	pr, ok := parseProjection(w, q)
	if !ok {
		return
	}
	us := s.store.byEmailAddr(email)
	sortByID(us)
	var b bytes.Buffer
	b.WriteByte('[')
	for k, u := range us {
		if k > 0 {
			b.WriteByte(',')
		}
		b.Write(pr.apply(u.raw))
	}
	b.WriteByte(']')
	writeRaw(w, http.StatusOK, b.Bytes())
}

type connection struct {
	ID             string         `json:"id"`
	Name           string         `json:"name"`
	Strategy       string         `json:"strategy"`
	Realms         []string       `json:"realms"`
	EnabledClients []string       `json:"enabled_clients"`
	Options        map[string]any `json:"options"`
	IsDomainConn   bool           `json:"is_domain_connection"`
}

func (s *Server) handleConnections(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	cp, ok := parseCheckpoint(w, q)
	if !ok {
		return
	}
	var pg paging
	if !cp.on {
		if pg, ok = parsePaging(w, q, s.cfg.MaxPerPage); !ok {
			return
		}
	}
	var out []connection
	for _, c := range s.conns {
		if st := q["strategy"]; len(st) > 0 && !slices.Contains(st, c.Strategy) {
			continue
		}
		if n := q.Get("name"); n != "" && n != c.Name {
			continue
		}
		c.Realms = []string{c.Name}
		c.EnabledClients = []string{s.cfg.ClientID}
		c.Options = map[string]any{}
		out = append(out, c)
	}
	if !cp.on {
		writePage(w, pg, "connections", out)
		return
	}
	// Checkpoint pages run in id order, so that "from" names a position that stays put.
	slices.SortFunc(out, func(a, b connection) int { return strings.Compare(a.ID, b.ID) })
	ids := make([]string, len(out))
	for k, c := range out {
		ids[k] = c.ID
	}
	start, end, next := cp.window(ids)
	resp := map[string]any{"connections": append([]connection{}, out[start:end]...)}
	if next != "" {
		resp["next"] = next
	}
	writeJSON(w, http.StatusOK, resp)
}

// writePage answers a paged list: a bare array, or {start,limit,total,KEY:[...]} with
// include_totals.
func writePage[T any](w http.ResponseWriter, pg paging, key string, all []T) {
	start, end := pg.window(len(all))
	items := all[start:end]
	if items == nil {
		items = []T{}
	}
	if !pg.totals {
		writeJSON(w, http.StatusOK, items)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"start": start, "limit": pg.perPage, "length": len(items), "total": len(all), key: items,
	})
}
