package load

import (
	"slices"
	"strings"
)

// same reports whether the target's user cur already holds what ferry would write (want),
// in substance: what the provider issues or adds is ignored (id, meta, schemas, groups,
// attributes and sub-attributes ferry does not send), as are the write-only password and
// attributes the provider is known not to keep (not in its /Schemas, or seen dropped from
// a write's answer earlier in the run). Attribute names compare case-insensitively;
// userName, emails.value and every "type" compare case-insensitively (providers lower-case
// them; RFC 7643 makes them caseExact false); multi-valued attributes compare as sets; a
// "true"/"false" string equals the boolean; null, "", [] and {} equal absence, and
// primary false equals no primary (RFC 7643 §2.5).
//
// The comparison is one-sided on purpose: a provider that adds attributes or
// sub-attributes (name.formatted, emails[].display, a default active) must not make every
// re-run look like an update.
func (s *SCIM) same(want, cur map[string]any) bool { return s.differs(want, cur) == "" }

// differs is same's comparison: it names the attributes (sorted, no values) on which cur
// does not hold what ferry would write, or returns "" when it holds all of it.
func (s *SCIM) differs(want, cur map[string]any) string {
	got := lowerKeys(cur)
	var diff []string
	for k, wv := range want {
		lk := strings.ToLower(k)
		switch lk {
		case "schemas", "id", "meta", "password", "groups":
			continue
		}
		if s.ignored(lk) {
			continue
		}
		if !s.sameValue(lk, wv, attr(cur, got, k)) {
			diff = append(diff, k)
		}
	}
	slices.Sort(diff)
	return strings.Join(diff, ", ")
}

func (s *SCIM) ignored(path string) bool {
	if s.known != nil && !strings.Contains(path, ".") && !s.known[path] {
		return true
	}
	_, ok := s.dropped.Load(path)
	return ok
}

func lowerKeys(m map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[strings.ToLower(k)] = v
	}
	return out
}

// attr is m's value of attribute k: under k itself when m spells it so, else under any
// spelling (SCIM attribute names are case-insensitive, RFC 7643 §2.1). The exact spelling
// comes first because a map may hold two spellings of one name (a hostile or broken
// record), and lower maps one of them at random.
func attr(m, lower map[string]any, k string) any {
	if v, ok := m[k]; ok {
		return v
	}
	return lower[strings.ToLower(k)]
}

func empty(v any) bool {
	switch x := v.(type) {
	case nil:
		return true
	case string:
		return x == ""
	case []any:
		for _, e := range x {
			if !empty(e) {
				return false
			}
		}
		return true
	case map[string]any:
		for k, e := range x {
			if !empty(e) && !(strings.EqualFold(k, "primary") && e == false) {
				return false
			}
		}
		return true
	}
	return false
}

func foldPath(path string) bool {
	return path == "username" || path == "emails.value" || strings.HasSuffix(path, ".type")
}

func (s *SCIM) sameValue(path string, w, g any) bool {
	if empty(w) {
		return empty(g)
	}
	switch wv := w.(type) {
	case string:
		switch gv := g.(type) {
		case string:
			if foldPath(path) {
				return strings.EqualFold(wv, gv)
			}
			return wv == gv
		case bool:
			return strings.EqualFold(wv, boolString(gv))
		}
		return false
	case bool:
		switch gv := g.(type) {
		case bool:
			return wv == gv
		case string:
			return strings.EqualFold(gv, boolString(wv))
		}
		return false
	case float64:
		gv, ok := g.(float64)
		return ok && gv == wv
	case map[string]any:
		gm, ok := g.(map[string]any)
		if !ok {
			return false
		}
		gl := lowerKeys(gm)
		for k, sub := range wv {
			lk := strings.ToLower(k)
			p := path + "." + lk
			if s.ignored(p) {
				continue
			}
			if lk == "primary" {
				if (sub == true) != (attr(gm, gl, k) == true) {
					return false
				}
				continue
			}
			if !s.sameValue(p, sub, attr(gm, gl, k)) {
				return false
			}
		}
		return true
	case []any:
		ga, ok := g.([]any)
		if !ok {
			// A provider may flatten a one-element list.
			ga = []any{g}
		}
		ws, gs := nonEmpty(wv), nonEmpty(ga)
		if len(ws) != len(gs) {
			return false
		}
		used := make([]bool, len(gs))
	next:
		for _, we := range ws {
			for j, ge := range gs {
				if !used[j] && s.sameValue(path, we, ge) {
					used[j] = true
					continue next
				}
			}
			return false
		}
		return true
	}
	return false
}

func nonEmpty(a []any) []any {
	out := make([]any, 0, len(a))
	for _, e := range a {
		if !empty(e) {
			out = append(out, e)
		}
	}
	return out
}

func boolString(b bool) string {
	if b {
		return "true"
	}
	return "false"
}

// learn notes the attributes and sub-attributes a write sent that the provider's answer
// (its full representation of the user) leaves out: the provider does not keep them, so
// later comparisons ignore them instead of reporting the user updated on every run. It
// returns the top-level attributes so left out, in whole or in part, for this user's
// change log (those the provider's /Schemas says it keeps without returning excepted).
func (w *scimWrite) learn(op *scimOp, got map[string]any) []string {
	if got == nil || got["id"] == nil {
		return nil // not a representation of the user: nothing to learn
	}
	want, err := op.wanted()
	if err != nil {
		return nil
	}
	gl := lowerKeys(got)
	var lost []string
	for k, wv := range want {
		lk := strings.ToLower(k)
		switch lk {
		case "schemas", "id", "meta", "password", "groups":
			continue
		}
		if empty(wv) {
			continue
		}
		gv, ok := gl[lk]
		if !ok || empty(gv) {
			w.s.dropped.Store(lk, true)
			if _, hidden := w.s.hidden.Load(lk); !hidden {
				lost = append(lost, k)
			}
			continue
		}
		if learnSub(w.s, lk, wv, gv) {
			lost = append(lost, k)
		}
	}
	slices.Sort(lost)
	return lost
}

// learnSub learns the sub-attributes of path that the answer left out; it reports
// whether any of them is a loss (not one the provider keeps without returning).
func learnSub(s *SCIM, path string, w, g any) bool {
	subKeys := func(v any) map[string]bool {
		keys := map[string]bool{}
		add := func(m map[string]any) {
			for k, e := range m {
				if !empty(e) {
					keys[strings.ToLower(k)] = true
				}
			}
		}
		switch x := v.(type) {
		case map[string]any:
			add(x)
		case []any:
			for _, e := range x {
				if m, ok := e.(map[string]any); ok {
					add(m)
				}
			}
		}
		return keys
	}
	have := subKeys(g)
	lost := false
	for k := range subKeys(w) {
		if !have[k] && k != "primary" {
			s.dropped.Store(path+"."+k, true)
			if _, hidden := s.hidden.Load(path + "." + k); !hidden {
				lost = true
			}
		}
	}
	return lost
}
