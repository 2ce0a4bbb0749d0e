package auth0

import (
	"encoding/base64"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// paging is the offset paging of list endpoints.
type paging struct {
	page, perPage int
	totals        bool
	set           bool // page or per_page was sent
}

// parsePaging validates page, per_page and include_totals as the API does; on error it has
// answered 400.
func parsePaging(w http.ResponseWriter, q url.Values, maxPer int) (paging, bool) {
	p := paging{perPage: defaultPerPage}
	if v := q.Get("page"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			badQuery(w, "Query validation error: 'Expected type integer but found type string' on property page (Page index of the results to return. First page is 0.).")
			return p, false
		}
		if n < 0 {
			badQuery(w, "Query validation error: 'Value "+v+" is less than minimum 0' on property page (Page index of the results to return. First page is 0.).")
			return p, false
		}
		p.page, p.set = n, true
	}
	if v := q.Get("per_page"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			badQuery(w, "Query validation error: 'Expected type integer but found type string' on property per_page (Number of results per page.).")
			return p, false
		}
		if n < 0 {
			badQuery(w, "Query validation error: 'Value "+v+" is less than minimum 0' on property per_page (Number of results per page.).")
			return p, false
		}
		if n > maxPer {
			badQuery(w, "Query validation error: 'Value "+v+" is greater than maximum "+strconv.Itoa(maxPer)+"' on property per_page (Number of results per page.).")
			return p, false
		}
		p.perPage, p.set = n, true
	}
	if v := q.Get("include_totals"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			badQuery(w, "Query validation error: 'Expected type boolean but found type string' on property include_totals.")
			return p, false
		}
		p.totals = b
	}
	return p, true
}

// window returns the [start, end) slice bounds of a page over n results.
func (p paging) window(n int) (int, int) {
	start := min(p.page*p.perPage, n)
	return start, min(start+p.perPage, n)
}

// beyondCap reports whether the page reaches past the first 1,000 results, which the
// search index refuses (from + size > 1000).
func (p paging) beyondCap() bool { return p.page*p.perPage+p.perPage > maxResults }

// projection is fields / include_fields.
type projection struct {
	fields  map[string]bool
	include bool
}

func parseProjection(w http.ResponseWriter, q url.Values) (projection, bool) {
	pr := projection{include: true}
	if v := q.Get("fields"); v != "" {
		pr.fields = map[string]bool{}
		for _, f := range strings.Split(v, ",") {
			if f = strings.TrimSpace(f); f != "" {
				pr.fields[f] = true
			}
		}
	}
	if v := q.Get("include_fields"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			badQuery(w, "Query validation error: 'Expected type boolean but found type string' on property include_fields.")
			return pr, false
		}
		pr.include = b
	}
	return pr, true
}

// checkpoint is the from/take paging of GET /api/v2/roles/{id}/users and
// GET /api/v2/connections ("Checkpoint pagination": from, an opaque id to start after,
// absent on the first call; take, 1..100, default 50; the answer carries "next" while more
// remain). The official Node SDK (v5+, auth0/node-auth0) sends include_totals=true with
// from/take on both endpoints by default, so the real API accepts that combination and
// answers in the checkpoint shape; only page/per_page conflict with it.
type checkpoint struct {
	on    bool
	from  string // the key to start after, decoded
	take  int
	valid bool
}

// parseCheckpoint reads from/take; on error it has answered 400.
func parseCheckpoint(w http.ResponseWriter, q url.Values) (checkpoint, bool) {
	c := checkpoint{on: q.Has("from") || q.Has("take"), take: defaultPerPage}
	if !c.on {
		return c, true
	}
	if q.Has("page") || q.Has("per_page") {
		badQuery(w, "Checkpoint pagination (from, take) cannot be combined with page or per_page.")
		return c, false
	}
	if v := q.Get("take"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxPerPage {
			badQuery(w, "Query validation error: 'Value "+v+" is out of range 1..100' on property take.")
			return c, false
		}
		c.take = n
	}
	if from := q.Get("from"); from != "" {
		after, err := base64.RawURLEncoding.DecodeString(from)
		if err != nil {
			badQuery(w, "Invalid value for from: not a checkpoint this API returned.")
			return c, false
		}
		c.from = string(after)
	}
	return c, true
}

// window returns the slice bounds of the page over keys (sorted ascending) and the next
// checkpoint ("" on the last page).
func (c checkpoint) window(keys []string) (start, end int, next string) {
	if c.from != "" {
		start, _ = slices.BinarySearch(keys, c.from)
		if start < len(keys) && keys[start] == c.from {
			start++
		}
	}
	end = min(start+c.take, len(keys))
	if end < len(keys) {
		next = base64.RawURLEncoding.EncodeToString([]byte(keys[end-1]))
	}
	return start, end, next
}
