package scim

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/segmentio/encoding/json"
)

// patchPath is a PATCH target (RFC 7644 §3.5.2): attrPath, or attrPath "[" filter "]"
// optionally followed by "." subAttr, or a whole extension URN.
type patchPath struct {
	attr      attrPath
	filter    Filter
	subAfter  string
	wholeExt  string // the extension URN when the path names a whole extension object
	rawString string
}

func (s *Server) parsePatchPath(p string) (patchPath, *Error) {
	pp := patchPath{rawString: p}
	bad := func(format string, args ...any) (patchPath, *Error) {
		return pp, errf(http.StatusBadRequest, errInvalidPath, format, args...)
	}
	if ext := s.ss.extension(strings.TrimSpace(p)); ext != nil {
		pp.wholeExt = ext.ID
		return pp, nil
	}
	head, rest := p, ""
	if i := strings.IndexByte(p, '['); i >= 0 {
		head, rest = p[:i], p[i:]
	}
	ap, err := parseAttrPath(strings.TrimSpace(head))
	if err != nil {
		return bad("bad path %q", p)
	}
	pp.attr = ap
	if rest == "" {
		return pp, nil
	}
	if ap.sub != "" {
		return bad("bad path %q: a value filter applies to an attribute", p)
	}
	toks, err := lex(rest)
	if err != nil {
		return bad("bad path %q: %v", p, err)
	}
	ps := &parser{toks: toks}
	if ps.expect(tkLBrack, `"["`) != nil {
		return bad("bad path %q", p)
	}
	f, err := ps.parseOr()
	if err != nil {
		return bad("bad path %q: %v", p, err)
	}
	if ps.expect(tkRBrack, `"]"`) != nil {
		return bad("bad path %q: missing ]", p)
	}
	pp.filter = f
	if t := ps.next(); t.kind == tkWord {
		if !strings.HasPrefix(t.text, ".") || !validName(t.text[1:], true) {
			return bad("bad path %q", p)
		}
		pp.subAfter = t.text[1:]
	} else if t.kind != tkEOF {
		return bad("bad path %q", p)
	}
	if ps.peek().kind != tkEOF {
		return bad("bad path %q", p)
	}
	return pp, nil
}

// patchWith applies a PatchOp body to the current resource, then validates the result like
// a replacement. Operations apply in order and all or none take effect.
func (s *Server) patchWith(body map[string]any) func(cur map[string]any) (map[string]any, *Error) {
	return func(cur map[string]any) (map[string]any, *Error) {
		if sch, _ := getCI(body, "schemas"); s.cfg.Strict || sch != nil {
			if !listHas(sch, PatchURN) {
				return nil, errf(http.StatusBadRequest, errInvalidSyntax, "schemas must list %s", PatchURN)
			}
		}
		rawOps, _ := getCI(body, "Operations")
		ops, ok := rawOps.([]any)
		if !ok || len(ops) == 0 {
			return nil, errf(http.StatusBadRequest, errInvalidSyntax, "Operations must be a non-empty array")
		}
		for i, o := range ops {
			op, ok := o.(map[string]any)
			if !ok {
				return nil, errf(http.StatusBadRequest, errInvalidSyntax, "operation %d is not an object", i)
			}
			if e := s.applyOp(cur, op); e != nil {
				e.Detail = fmt.Sprintf("operation %d: %s", i, e.Detail)
				return nil, e
			}
		}
		res, e := s.normalize(cur)
		if e != nil {
			return nil, e
		}
		if pw, ok := cur["password"]; ok && res["password"] == nil && pw != nil {
			res["password"] = pw
		}
		return res, nil
	}
}

func listHas(v any, urn string) bool {
	arr, _ := v.([]any)
	for _, x := range arr {
		if s, ok := x.(string); ok && strings.EqualFold(s, urn) {
			return true
		}
	}
	return false
}

func (s *Server) applyOp(res, op map[string]any) *Error {
	opName, _ := getCI(op, "op")
	name, _ := opName.(string)
	name = strings.ToLower(name)
	if name != "add" && name != "replace" && name != "remove" {
		return errf(http.StatusBadRequest, errInvalidSyntax, "op %q is not add, replace or remove", opName)
	}
	value, hasValue := getCI(op, "value")
	rawPath, _ := getCI(op, "path")
	path, _ := rawPath.(string)
	if rawPath != nil && path == "" {
		return errf(http.StatusBadRequest, errInvalidPath, "path must be a non-empty string")
	}
	if name != "remove" && !hasValue {
		return errf(http.StatusBadRequest, errInvalidValue, "%s needs a value", name)
	}
	if path == "" {
		if name == "remove" {
			return errf(http.StatusBadRequest, errNoTarget, "remove needs a path")
		}
		m, ok := value.(map[string]any)
		if !ok {
			return errf(http.StatusBadRequest, errInvalidValue, "%s without a path needs an object value", name)
		}
		for k, v := range m {
			switch {
			case strings.EqualFold(k, "schemas"):
				continue
			case strings.HasPrefix(strings.ToLower(k), strings.ToLower(UserURN)+":"):
				k = k[len(UserURN)+1:]
			case strings.Contains(k, ":"):
				sub, ok := v.(map[string]any)
				if !ok {
					return badValue("%s must be an object", k)
				}
				cont, defs := s.container(res, k, true)
				for sk, sv := range sub {
					if e := s.applyAttr(name, cont, defs, sk, sv, false); e != nil {
						return e
					}
				}
				continue
			}
			if e := s.applyAttr(name, res, s.ss.core.Attributes, k, v, true); e != nil {
				return e
			}
		}
		return nil
	}
	pp, e := s.parsePatchPath(path)
	if e != nil {
		return e
	}
	if pp.wholeExt != "" {
		if name == "remove" {
			if k, ok := existingKey(res, pp.wholeExt); ok {
				delete(res, k)
			}
			return nil
		}
		sub, ok := value.(map[string]any)
		if !ok {
			return badValue("%s must be an object", pp.wholeExt)
		}
		cont, defs := s.container(res, pp.wholeExt, true)
		if name == "replace" {
			for k := range cont {
				delete(cont, k)
			}
		}
		for sk, sv := range sub {
			if e := s.applyAttr("add", cont, defs, sk, sv, false); e != nil {
				return e
			}
		}
		return nil
	}
	cont, defs := s.container(res, pp.attr.urn, name != "remove")
	if cont == nil {
		return nil // removing from an extension the user does not have
	}
	top := pp.attr.urn == "" || strings.EqualFold(pp.attr.urn, UserURN)
	if pp.filter == nil && pp.attr.sub == "" {
		if name == "remove" {
			if top && (strings.EqualFold(pp.attr.name, "id") || strings.EqualFold(pp.attr.name, "meta")) {
				return errf(http.StatusBadRequest, errMutability, "%s is read-only", pp.attr.name)
			}
			if k, ok := existingKey(cont, pp.attr.name); ok {
				delete(cont, k)
			}
			return nil
		}
		return s.applyAttr(name, cont, defs, pp.attr.name, value, top)
	}
	def := findAttr(defs, pp.attr.name)
	key, ok := existingKey(cont, pp.attr.name)
	if !ok {
		key = canonical(pp.attr.name, def)
	}
	if pp.filter == nil { // attr.sub
		switch cur := cont[key].(type) {
		case map[string]any:
			setSub(name, cur, pp.attr.sub, value)
		case []any:
			for _, x := range cur {
				if m, ok := x.(map[string]any); ok {
					setSub(name, m, pp.attr.sub, value)
				}
			}
		case nil:
			if name == "remove" {
				return nil
			}
			if def != nil && def.MultiValued {
				return errf(http.StatusBadRequest, errNoTarget, "%s has no values", pp.attr.name)
			}
			m := map[string]any{}
			setSub(name, m, pp.attr.sub, value)
			cont[key] = m
		default:
			return errf(http.StatusBadRequest, errInvalidPath, "%s has no sub-attributes", pp.attr.name)
		}
		return nil
	}
	// attr[filter] and attr[filter].sub
	arr, _ := cont[key].([]any)
	var hits []int
	for i, x := range arr {
		if m, ok := x.(map[string]any); ok && pp.filter.match(s.ev, m, def) {
			hits = append(hits, i)
		}
	}
	if name == "remove" {
		if pp.subAfter != "" {
			for _, i := range hits {
				setSub("remove", arr[i].(map[string]any), pp.subAfter, nil)
			}
			return nil
		}
		kept := arr[:0:0]
		for i, x := range arr {
			if !contains(hits, i) {
				kept = append(kept, x)
			}
		}
		if len(kept) == 0 {
			delete(cont, key)
		} else {
			cont[key] = kept
		}
		return nil
	}
	if len(hits) == 0 {
		// Entra sends replace emails[type eq "work"].value for users without a work email;
		// a lenient server creates the value the filter describes.
		c, ok := pp.filter.(*compare)
		var sv string
		var isStr bool
		if ok {
			sv, isStr = c.val.(string)
		}
		if s.cfg.Strict || !ok || c.op != "eq" || !isStr || c.path.urn != "" || c.path.sub != "" {
			return errf(http.StatusBadRequest, errNoTarget, "no value of %s matches the filter", pp.attr.name)
		}
		arr = append(arr, map[string]any{c.path.name: sv})
		hits = []int{len(arr) - 1}
	}
	for _, i := range hits {
		m := arr[i].(map[string]any)
		if pp.subAfter != "" {
			if strings.EqualFold(pp.subAfter, "primary") && value == true {
				clearPrimary(arr)
			}
			setSub("replace", m, pp.subAfter, value)
			continue
		}
		v, ok := value.(map[string]any)
		if !ok {
			return badValue("a value of %s must be an object", pp.attr.name)
		}
		if v["primary"] == true {
			clearPrimary(arr)
		}
		if name == "replace" {
			arr[i] = deepCopy(v)
		} else {
			for k, x := range v {
				m[k] = x
			}
		}
	}
	cont[key] = arr
	return nil
}

// container returns the object a path's URN points into and its attribute definitions.
func (s *Server) container(res map[string]any, urn string, create bool) (map[string]any, []*attr) {
	if urn == "" || strings.EqualFold(urn, UserURN) {
		return res, s.ss.core.Attributes
	}
	key := urn
	var defs []*attr
	if ext := s.ss.extension(urn); ext != nil {
		key, defs = ext.ID, ext.Attributes
	}
	if k, ok := existingKey(res, key); ok {
		if m, ok := res[k].(map[string]any); ok {
			return m, defs
		}
	}
	if !create {
		return nil, defs
	}
	m := map[string]any{}
	res[key] = m
	if sch, ok := res["schemas"].([]any); ok && !listHas(sch, key) {
		res["schemas"] = append(sch, key)
	}
	return m, defs
}

func existingKey(m map[string]any, name string) (string, bool) {
	if _, ok := m[name]; ok {
		return name, true
	}
	for k := range m {
		if strings.EqualFold(k, name) {
			return k, true
		}
	}
	return "", false
}

func canonical(name string, def *attr) string {
	if def != nil {
		return def.Name
	}
	return name
}

func setSub(op string, m map[string]any, sub string, value any) {
	k, ok := existingKey(m, sub)
	if !ok {
		k = sub
	}
	if op == "remove" {
		delete(m, k)
		return
	}
	m[k] = value
}

func clearPrimary(arr []any) {
	for _, x := range arr {
		if m, ok := x.(map[string]any); ok {
			if k, ok := existingKey(m, "primary"); ok {
				m[k] = false
			}
		}
	}
}

func contains(list []int, i int) bool {
	for _, x := range list {
		if x == i {
			return true
		}
	}
	return false
}

// applyAttr performs add or replace of one attribute in cont.
func (s *Server) applyAttr(op string, cont map[string]any, defs []*attr, name string, value any, top bool) *Error {
	if top && (strings.EqualFold(name, "id") || strings.EqualFold(name, "meta")) {
		return errf(http.StatusBadRequest, errMutability, "%s is read-only", name)
	}
	def := findAttr(defs, name)
	key, exists := existingKey(cont, name)
	if !exists {
		key = canonical(name, def)
	}
	cur := cont[key]
	multi := def != nil && def.MultiValued
	if _, isArr := cur.([]any); isArr {
		multi = true
	}
	if op == "add" && multi {
		vals, ok := value.([]any)
		if !ok {
			vals = []any{value}
		}
		arr, _ := cur.([]any)
		for _, v := range vals {
			if m, ok := v.(map[string]any); ok && m["primary"] == true {
				clearPrimary(arr)
			}
		}
		for _, v := range vals {
			if !hasEqual(arr, v) {
				arr = append(arr, deepCopy(v))
			}
		}
		cont[key] = arr
		return nil
	}
	if cm, ok := cur.(map[string]any); ok && !multi {
		if vm, ok := value.(map[string]any); ok {
			for k, v := range vm { // complex attributes merge, for add and replace alike
				if ek, ok := existingKey(cm, k); ok {
					k = ek
				}
				cm[k] = deepCopy(v)
			}
			return nil
		}
	}
	cont[key] = deepCopy(value)
	return nil
}

func hasEqual(arr []any, v any) bool {
	b, _ := json.Marshal(v)
	for _, x := range arr {
		if a, _ := json.Marshal(x); string(a) == string(b) {
			return true
		}
	}
	return false
}
