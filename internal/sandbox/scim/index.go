package scim

import (
	"cmp"
	"slices"
	"strings"

	"github.com/ferry-dev/ferry/schemas"
)

// indexed returns the users a filter can only match when it is `userName eq "x"`, or an
// `or` of such terms: the lookup clients make before creating a user (Entra, Okta, ferry's
// upsert). A real provider indexes userName; scanning every user for each lookup made a
// 20,000-user upsert quadratic. ok is false for any other filter. Callers still run the
// full matcher over the candidates, so the index can only narrow, never change, a result.
// Call with s.mu held.
func (s *Server) indexed(f Filter) (cands []*entry, ok bool) {
	names, ok := userNameTerms(f, nil)
	if !ok {
		return nil, false
	}
	for _, n := range names {
		if id, found := s.byName[strings.ToLower(n)]; found {
			if ent := s.byID[id]; ent != nil && !slices.Contains(cands, ent) {
				cands = append(cands, ent)
			}
		}
	}
	slices.SortFunc(cands, func(a, b *entry) int { return cmp.Compare(a.seq, b.seq) })
	return cands, true
}

func userNameTerms(f Filter, acc []string) ([]string, bool) {
	switch x := f.(type) {
	case *compare:
		name, isStr := x.val.(string)
		if x.op != "eq" || !isStr || x.path.sub != "" || !strings.EqualFold(x.path.name, "userName") ||
			(x.path.urn != "" && !strings.EqualFold(x.path.urn, schemas.CoreUserURN)) {
			return nil, false
		}
		return append(acc, name), true
	case *logical:
		if x.and {
			return nil, false
		}
		acc, ok := userNameTerms(x.l, acc)
		if !ok {
			return nil, false
		}
		return userNameTerms(x.r, acc)
	}
	return nil, false
}
