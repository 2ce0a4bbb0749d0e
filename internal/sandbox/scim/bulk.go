package scim

import (
	"net/http"
	"strconv"
	"strings"
)

// handleBulk runs a BulkRequest (RFC 7644 §3.7). Limits come from ServiceProviderConfig;
// a request over maxPayloadSize or maxOperations is refused whole with 413.
func (s *Server) handleBulk(w http.ResponseWriter, r *http.Request) {
	b, e := readBody(w, r, s.cfg.BulkMaxPayload)
	if e != nil {
		if e.Status == http.StatusRequestEntityTooLarge {
			e.Detail = "The size of the bulk operation exceeds the maxPayloadSize (" + strconv.Itoa(s.cfg.BulkMaxPayload) + ")."
		}
		s.writeErr(w, e)
		return
	}
	body, e := decodeObject(b)
	if e != nil {
		s.writeErr(w, e)
		return
	}
	if sch, _ := getCI(body, "schemas"); s.cfg.Strict && !listHas(sch, BulkReqURN) {
		s.writeErr(w, errf(http.StatusBadRequest, errInvalidSyntax, "schemas must list %s", BulkReqURN))
		return
	}
	rawOps, _ := getCI(body, "Operations")
	ops, ok := rawOps.([]any)
	if !ok {
		s.writeErr(w, errf(http.StatusBadRequest, errInvalidSyntax, "Operations must be an array"))
		return
	}
	if len(ops) > s.cfg.BulkMaxOperations {
		s.writeErr(w, errf(http.StatusRequestEntityTooLarge, "",
			"The number of operations (%d) exceeds the maxOperations (%d).", len(ops), s.cfg.BulkMaxOperations))
		return
	}
	failOn := 0
	if v, ok := getCI(body, "failOnErrors"); ok && v != nil {
		f, isNum := v.(float64)
		if !isNum || f < 0 || f != float64(int(f)) {
			s.writeErr(w, badValue("failOnErrors must be a non-negative integer"))
			return
		}
		failOn = int(f)
	}
	base := s.baseURL(r)
	ids := map[string]string{} // bulkId -> created id
	seen := map[string]bool{}  // bulkIds declared
	results := make([]any, 0, len(ops))
	errorsSeen := 0
	for _, o := range ops {
		if failOn > 0 && errorsSeen >= failOn {
			break
		}
		op, _ := o.(map[string]any)
		res := s.bulkOp(op, ids, seen, base)
		if st, _ := strconv.Atoi(res["status"].(string)); st >= 400 {
			errorsSeen++
		}
		results = append(results, res)
	}
	s.writeJSON(w, http.StatusOK, map[string]any{"schemas": []string{BulkRespURN}, "Operations": results})
}

func (s *Server) bulkOp(op map[string]any, ids map[string]string, seen map[string]bool, base string) map[string]any {
	out := map[string]any{}
	fail := func(e *Error) map[string]any {
		out["status"] = strconv.Itoa(e.Status)
		out["response"] = e.body()
		return out
	}
	if op == nil {
		return fail(errf(http.StatusBadRequest, errInvalidSyntax, "operation is not an object"))
	}
	str := func(k string) string {
		v, _ := getCI(op, k)
		x, _ := v.(string)
		return x
	}
	method, path, bulkID, version := strings.ToUpper(str("method")), str("path"), str("bulkId"), str("version")
	out["method"] = method
	if bulkID != "" {
		out["bulkId"] = bulkID
	}
	data, _ := getCI(op, "data")
	dm, _ := data.(map[string]any)
	if dm != nil {
		if e := resolveRefs(dm, ids); e != nil {
			return fail(e)
		}
	}
	segs := strings.Split(strings.Trim(path, "/"), "/")
	if segs[0] != "Users" || len(segs) > 2 {
		return fail(errf(http.StatusNotFound, errInvalidPath, "no bulk endpoint at %q", path))
	}
	var id string
	if len(segs) == 2 {
		id = segs[1]
		if strings.HasPrefix(id, "bulkId:") {
			got, ok := ids[strings.TrimPrefix(id, "bulkId:")]
			if !ok {
				return fail(errf(http.StatusConflict, errInvalidValue, "bulkId %q is not resolved", strings.TrimPrefix(id, "bulkId:")))
			}
			id = got
		}
	}
	switch {
	case method == http.MethodPost && len(segs) == 1:
		if bulkID == "" {
			return fail(badValue("POST operations need a bulkId"))
		}
		if seen[bulkID] {
			return fail(badValue("bulkId %q is used twice", bulkID))
		}
		seen[bulkID] = true
		if dm == nil {
			return fail(badValue("POST needs a data object"))
		}
		ent, e := s.create(dm)
		if e != nil {
			return fail(e)
		}
		ids[bulkID] = ent.id
		out["location"], out["version"], out["status"] = base+"/Users/"+ent.id, ent.version, "201"
	case (method == http.MethodPut || method == http.MethodPatch) && id != "":
		if dm == nil {
			return fail(badValue("%s needs a data object", method))
		}
		next := s.replaceWith(dm)
		if method == http.MethodPatch {
			next = s.patchWith(dm)
		}
		ent, e := s.update(id, version, next)
		if e != nil {
			return fail(e)
		}
		out["location"], out["version"], out["status"] = base+"/Users/"+ent.id, ent.version, "200"
	case method == http.MethodDelete && id != "":
		if e := s.remove(id, version); e != nil {
			return fail(e)
		}
		out["location"], out["status"] = base+"/Users/"+id, "204"
	default:
		return fail(errf(http.StatusBadRequest, errInvalidSyntax, "%s %q is not a bulk operation", method, path))
	}
	return out
}

// resolveRefs replaces "bulkId:x" string values with the id the operation that declared x
// created (RFC 7644 §3.7.2).
func resolveRefs(v any, ids map[string]string) *Error {
	switch x := v.(type) {
	case map[string]any:
		for k, val := range x {
			if s, ok := val.(string); ok && strings.HasPrefix(s, "bulkId:") {
				id, ok := ids[strings.TrimPrefix(s, "bulkId:")]
				if !ok {
					return errf(http.StatusConflict, errInvalidValue, "bulkId %q is not resolved", strings.TrimPrefix(s, "bulkId:"))
				}
				x[k] = id
				continue
			}
			if e := resolveRefs(val, ids); e != nil {
				return e
			}
		}
	case []any:
		for i, val := range x {
			if s, ok := val.(string); ok && strings.HasPrefix(s, "bulkId:") {
				id, ok := ids[strings.TrimPrefix(s, "bulkId:")]
				if !ok {
					return errf(http.StatusConflict, errInvalidValue, "bulkId %q is not resolved", strings.TrimPrefix(s, "bulkId:"))
				}
				x[i] = id
				continue
			}
			if e := resolveRefs(val, ids); e != nil {
				return e
			}
		}
	}
	return nil
}
