package scim

import (
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"

	"github.com/segmentio/encoding/json"
)

// GroupURN is the core Group schema (RFC 7643 §4.2).
const GroupURN = "urn:ietf:params:scim:schemas:core:2.0:Group"

// Groups (RFC 7643 §4.2): displayName (required, unique here as on Entra ID and Okta,
// compared case-insensitively), externalId, and members [{value, $ref, display, type}].
// Member values must name existing users; deleting a user removes it from every group.
//
// Like real providers, a list answer does not carry very large member lists: when a group
// of the page has more members than Config.GroupListMembers and the request did not leave
// members out (excludedAttributes=members, or attributes without members), the answer is
// 400 tooMany, and the client reads members group by group (GET /Groups/{id}). A PATCH
// that adds or removes more than Config.GroupPatchMembers members at once is 400 tooMany
// too (Entra ID takes 20 per request).

type group struct {
	seq     int64
	id      string
	name    string
	ext     string
	members []string // user ids, in the order added
	created string
	mod     string
	version string
}

// groupStore is guarded by s.gmu. Lock order: s.gmu before s.mu (a group write checks its
// members under both, so a user deleted meanwhile is either refused or dropped after), and
// nothing takes s.gmu while holding s.mu.
type groupStore struct {
	byID   map[string]*group
	byName map[string]string // lower-cased displayName -> id
	order  []*group
	seq    int64
	etag   int64
}

func (s *Server) groupsInit() {
	s.grp = groupStore{byID: map[string]*group{}, byName: map[string]string{}}
}

// GroupMembers returns the userNames of a group's members, by displayName (tests).
func (s *Server) GroupMembers(name string) ([]string, bool) {
	s.gmu.RLock()
	id, ok := s.grp.byName[strings.ToLower(name)]
	var ids []string
	if ok {
		ids = append(ids, s.grp.byID[id].members...)
	}
	s.gmu.RUnlock()
	if !ok {
		return nil, false
	}
	names := make([]string, 0, len(ids))
	s.mu.RLock()
	for _, u := range ids {
		if e, ok := s.byID[u]; ok {
			names = append(names, userName(e.res))
		}
	}
	s.mu.RUnlock()
	sort.Strings(names)
	return names, true
}

// GroupNames returns every group's displayName, sorted (tests).
func (s *Server) GroupNames() []string {
	s.gmu.RLock()
	defer s.gmu.RUnlock()
	out := make([]string, 0, len(s.grp.order))
	for _, g := range s.grp.order {
		out = append(out, g.name)
	}
	sort.Strings(out)
	return out
}

func (s *Server) groupLimits() (list, patch int) {
	list = s.cfg.GroupListMembers
	if list <= 0 {
		list = 1000
	}
	return list, s.cfg.GroupPatchMembers
}

// render builds the wire form; members is left out unless withMembers.
func (g *group) render(base string, withMembers bool, userNames func(string) string) map[string]any {
	out := map[string]any{
		"schemas":     []string{GroupURN},
		"id":          g.id,
		"displayName": g.name,
		"meta": map[string]any{"resourceType": "Group", "created": g.created, "lastModified": g.mod,
			"version": g.version, "location": base + "/Groups/" + g.id},
	}
	if g.ext != "" {
		out["externalId"] = g.ext
	}
	if withMembers {
		ms := make([]any, 0, len(g.members))
		for _, m := range g.members {
			ms = append(ms, map[string]any{"value": m, "$ref": base + "/Users/" + m, "type": "User", "display": userNames(m)})
		}
		out["members"] = ms
	}
	return out
}

// wantMembers applies attributes / excludedAttributes to the members attribute.
func wantMembers(attrs, excluded []string) bool {
	isMembers := func(a string) bool {
		n, _, _ := strings.Cut(strings.TrimPrefix(strings.ToLower(a), strings.ToLower(GroupURN)+":"), ".")
		return n == "members"
	}
	for _, a := range excluded {
		if isMembers(a) {
			return false
		}
	}
	if len(attrs) == 0 {
		return true
	}
	for _, a := range attrs {
		if isMembers(a) {
			return true
		}
	}
	return false
}

func (s *Server) userNameOf(id string) string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if e, ok := s.byID[id]; ok {
		return userName(e.res)
	}
	return ""
}

func (s *Server) serveGroups(w http.ResponseWriter, r *http.Request, segs []string) {
	switch {
	case len(segs) == 1 && r.Method == http.MethodGet:
		s.listGroups(w, r)
	case len(segs) == 1 && r.Method == http.MethodPost:
		body, e := s.readObject(w, r, s.cfg.MaxBodyBytes)
		if e == nil {
			var g *group
			if g, e = s.putGroup("", body, ""); e == nil {
				w.Header().Set("Location", s.baseURL(r)+"/Groups/"+g.id)
				s.writeGroup(w, r, http.StatusCreated, g)
				return
			}
		}
		s.writeErr(w, e)
	case len(segs) == 2:
		s.handleGroup(w, r, segs[1])
	default:
		s.writeErr(w, errf(http.StatusMethodNotAllowed, "", "%s /Groups is not supported", r.Method))
	}
}

func (s *Server) writeGroup(w http.ResponseWriter, r *http.Request, status int, g *group) {
	q := r.URL.Query()
	w.Header().Set("ETag", g.version)
	s.writeJSON(w, status, g.render(s.baseURL(r), wantMembers(splitList(q.Get("attributes")), splitList(q.Get("excludedAttributes"))), s.userNameOf))
}

func (s *Server) listGroups(w http.ResponseWriter, r *http.Request) {
	q, e := s.parseListQuery(r, nil)
	if e != nil {
		s.writeErr(w, e)
		return
	}
	if q.cursor != nil {
		s.writeErr(w, errf(http.StatusBadRequest, errInvalidCursor, "/Groups pages by startIndex only"))
		return
	}
	base := s.baseURL(r)
	withMembers := wantMembers(q.attrs, q.excluded)
	limit, _ := s.groupLimits()
	s.gmu.RLock()
	var matches []*group
	for _, g := range s.grp.order {
		if q.filter == nil || s.ev.Match(q.filter, g.render(base, true, func(string) string { return "" })) {
			matches = append(matches, g)
		}
	}
	i := min(q.startIndex-1, len(matches))
	page := make([]group, 0)
	for _, g := range matches[i:min(i+q.count, len(matches))] {
		c := *g
		c.members = append([]string(nil), g.members...)
		page = append(page, c)
	}
	total := len(matches)
	s.gmu.RUnlock()
	resources := make([]any, len(page))
	for k := range page {
		if withMembers && len(page[k].members) > limit {
			s.writeErr(w, errf(http.StatusBadRequest, errTooMany, "group %s has %d members, more than a list answer carries (%d): ask with excludedAttributes=members and read the group itself",
				page[k].id, len(page[k].members), limit))
			return
		}
		resources[k] = page[k].render(base, withMembers, s.userNameOf)
	}
	s.writeJSON(w, http.StatusOK, map[string]any{
		"schemas": []string{ListURN}, "totalResults": total, "itemsPerPage": len(resources),
		"startIndex": q.startIndex, "Resources": resources,
	})
}

func (s *Server) handleGroup(w http.ResponseWriter, r *http.Request, id string) {
	switch r.Method {
	case http.MethodGet:
		s.gmu.RLock()
		g, ok := s.grp.byID[id]
		var c group
		if ok {
			c = *g
			c.members = append([]string(nil), g.members...)
		}
		s.gmu.RUnlock()
		if !ok {
			s.writeErr(w, notFound(id))
			return
		}
		s.writeGroup(w, r, http.StatusOK, &c)
	case http.MethodPut, http.MethodPatch:
		body, e := s.readObject(w, r, s.cfg.MaxBodyBytes)
		if e != nil {
			s.writeErr(w, e)
			return
		}
		var g *group
		if r.Method == http.MethodPut {
			g, e = s.putGroup(id, body, r.Header.Get("If-Match"))
		} else {
			g, e = s.patchGroup(id, body, r.Header.Get("If-Match"))
		}
		if e != nil {
			s.writeErr(w, e)
			return
		}
		s.writeGroup(w, r, http.StatusOK, g)
	case http.MethodDelete:
		s.gmu.Lock()
		g, ok := s.grp.byID[id]
		if ok {
			delete(s.grp.byID, id)
			delete(s.grp.byName, strings.ToLower(g.name))
			s.grp.order = deleteGroup(s.grp.order, g)
		}
		s.gmu.Unlock()
		if !ok {
			s.writeErr(w, notFound(id))
			return
		}
		w.WriteHeader(http.StatusNoContent)
	default:
		s.writeErr(w, errf(http.StatusMethodNotAllowed, "", "%s /Groups/{id} is not supported", r.Method))
	}
}

func deleteGroup(order []*group, g *group) []*group {
	for i, x := range order {
		if x == g {
			return append(order[:i], order[i+1:]...)
		}
	}
	return order
}

// memberValues reads [{value}] and checks that each names a user; call it with s.gmu held.
func (s *Server) memberValues(v any) ([]string, *Error) {
	if v == nil {
		return nil, nil
	}
	arr, ok := v.([]any)
	if !ok {
		arr = []any{v}
	}
	out := make([]string, 0, len(arr))
	s.mu.RLock()
	defer s.mu.RUnlock()
	for _, x := range arr {
		m, ok := x.(map[string]any)
		val, _ := m["value"].(string)
		if !ok || val == "" {
			return nil, badValue("members: each member needs a string value")
		}
		if _, ok := s.byID[val]; !ok {
			return nil, badValue("members: no user with id %q", val)
		}
		out = append(out, val)
	}
	return out, nil
}

// putGroup creates (id "") or replaces a group.
func (s *Server) putGroup(id string, body map[string]any, ifMatch string) (*group, *Error) {
	name, _ := body["displayName"].(string)
	if strings.TrimSpace(name) == "" {
		return nil, badValue("displayName is required")
	}
	ext, _ := body["externalId"].(string)
	s.gmu.Lock()
	defer s.gmu.Unlock()
	members, e := s.memberValues(body["members"])
	if e != nil {
		return nil, e
	}
	if other, taken := s.grp.byName[strings.ToLower(name)]; taken && other != id {
		return nil, errf(http.StatusConflict, errUniqueness, "displayName %q is already taken", name)
	}
	now := s.now()
	var g *group
	if id == "" {
		s.grp.seq++
		g = &group{seq: s.grp.seq, id: newID(), created: now}
		s.grp.byID[g.id] = g
		s.grp.order = append(s.grp.order, g)
	} else {
		var ok bool
		if g, ok = s.grp.byID[id]; !ok {
			return nil, notFound(id)
		}
		if !versionMatches(ifMatch, g.version) {
			return nil, errf(http.StatusPreconditionFailed, "", "version %s does not match the current version", ifMatch)
		}
		delete(s.grp.byName, strings.ToLower(g.name))
	}
	g.name, g.ext, g.members, g.mod = name, ext, dedupe(members), now
	g.version = s.groupVersion()
	s.grp.byName[strings.ToLower(name)] = g.id
	c := *g
	c.members = append([]string(nil), g.members...)
	return &c, nil
}

// groupVersion must be called with s.gmu held; groups count their own ETags so a group
// write never waits on the user lock.
func (s *Server) groupVersion() string {
	s.grp.etag++
	return `W/"g` + strconv.FormatInt(s.grp.etag, 10) + `"`
}

func dedupe(ids []string) []string {
	seen := map[string]bool{}
	out := ids[:0]
	for _, id := range ids {
		if !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	return out
}

// patchGroup applies a PatchOp: add/replace/remove of members (with a members[value eq "x"]
// filter for remove), displayName and externalId.
func (s *Server) patchGroup(id string, body map[string]any, ifMatch string) (*group, *Error) {
	if !listHas(body["schemas"], PatchURN) {
		return nil, badValue("a PATCH body lists the schema %s", PatchURN)
	}
	ops, ok := body["Operations"].([]any)
	if !ok || len(ops) == 0 {
		return nil, badValue("Operations must be a non-empty array")
	}
	_, maxPatch := s.groupLimits()
	type step struct {
		op, path string
		ids      []string
		val      any
	}
	s.gmu.Lock()
	defer s.gmu.Unlock()
	var steps []step
	touched := 0
	for i, o := range ops {
		m, ok := o.(map[string]any)
		if !ok {
			return nil, badValue("Operations[%d] is not an object", i)
		}
		op, _ := m["op"].(string)
		op = strings.ToLower(op)
		path, _ := m["path"].(string)
		st := step{op: op, path: path, val: m["value"]}
		lp := strings.ToLower(strings.TrimSpace(path))
		switch {
		case op != "add" && op != "remove" && op != "replace":
			return nil, badValue("Operations[%d]: op %q is not add, remove or replace", i, op)
		case lp == "members" && op == "remove" && m["value"] == nil:
			st.path = "members" // remove every member
		case lp == "members":
			ids, e := s.memberValues(m["value"])
			if e != nil {
				return nil, e
			}
			st.path, st.ids = "members", ids
			touched += len(ids)
		case strings.HasPrefix(lp, "members[") && op == "remove":
			if !strings.HasSuffix(lp, "]") || len(lp) < len("members[]") {
				return nil, errf(http.StatusBadRequest, errInvalidPath, "Operations[%d]: path %q", i, path)
			}
			p := strings.TrimSpace(path)
			f, err := ParseFilter(p[len("members[") : len(p)-1])
			if err != nil {
				return nil, errf(http.StatusBadRequest, errInvalidPath, "Operations[%d]: path %q: %v", i, path, err)
			}
			st.path, st.val = "filter", f
			touched++
		case lp == "displayname" || lp == "externalid":
			if _, ok := m["value"].(string); !ok {
				return nil, badValue("Operations[%d]: %s takes a string", i, path)
			}
			st.path = lp
		case lp == "":
			// RFC 7644 §3.5.2.2: a remove needs a path; a path-less add/replace is not
			// implemented here.
			return nil, errf(http.StatusBadRequest, errNoTarget, "Operations[%d]: a PATCH of a Group needs a path here", i)
		default:
			return nil, errf(http.StatusBadRequest, errInvalidPath, "Operations[%d]: path %q is not supported on a Group", i, path)
		}
		steps = append(steps, st)
	}
	if maxPatch > 0 && touched > maxPatch {
		return nil, errf(http.StatusBadRequest, errTooMany, "a PATCH may change at most %d members, not %d", maxPatch, touched)
	}
	g, ok := s.grp.byID[id]
	if !ok {
		return nil, notFound(id)
	}
	if !versionMatches(ifMatch, g.version) {
		return nil, errf(http.StatusPreconditionFailed, "", "version %s does not match the current version", ifMatch)
	}
	next := *g
	next.members = append([]string(nil), g.members...)
	for _, st := range steps {
		switch {
		case st.path == "members" && st.op == "add":
			next.members = dedupe(append(next.members, st.ids...))
		case st.path == "members" && st.op == "replace":
			next.members = dedupe(append([]string(nil), st.ids...))
		case st.path == "members" && st.op == "remove" && st.ids == nil:
			next.members = nil
		case st.path == "members":
			drop := map[string]bool{}
			for _, x := range st.ids {
				drop[x] = true
			}
			next.members = keepMembers(next.members, func(m string) bool { return !drop[m] })
		case st.path == "filter":
			f := st.val.(Filter)
			next.members = keepMembers(next.members, func(m string) bool {
				return !s.ev.Match(f, map[string]any{"value": m, "type": "User"})
			})
		case st.path == "displayname":
			n := st.val.(string)
			if other, taken := s.grp.byName[strings.ToLower(n)]; taken && other != id {
				return nil, errf(http.StatusConflict, errUniqueness, "displayName %q is already taken", n)
			}
			next.name = n
		case st.path == "externalid":
			next.ext = st.val.(string)
		}
	}
	delete(s.grp.byName, strings.ToLower(g.name))
	next.mod = s.now()
	next.version = s.groupVersion()
	*g = next
	s.grp.byName[strings.ToLower(g.name)] = g.id
	c := *g
	c.members = append([]string(nil), g.members...)
	return &c, nil
}

func keepMembers(ms []string, keep func(string) bool) []string {
	out := ms[:0]
	for _, m := range ms {
		if keep(m) {
			out = append(out, m)
		}
	}
	return out
}

// dropMember takes a deleted user out of every group (as real providers do).
func (s *Server) dropMember(userID string) {
	s.gmu.Lock()
	defer s.gmu.Unlock()
	for _, g := range s.grp.order {
		n := len(g.members)
		g.members = keepMembers(g.members, func(m string) bool { return m != userID })
		if len(g.members) != n {
			g.mod, g.version = s.now(), s.groupVersion()
		}
	}
}

// groupResourceType and groupSchema describe Groups at /ResourceTypes and /Schemas.
func groupResourceType(base string) map[string]any {
	return map[string]any{
		"schemas": []string{ResourceTypeURN}, "id": "Group", "name": "Group", "endpoint": "/Groups",
		"description": "Group", "schema": GroupURN, "schemaExtensions": []any{},
		"meta": map[string]any{"resourceType": "ResourceType", "location": base + "/ResourceTypes/Group"},
	}
}

const groupSchemaJSON = `{"id":"` + GroupURN + `","name":"Group","description":"Group",
"attributes":[
{"name":"displayName","type":"string","multiValued":false,"required":true,"caseExact":false,"mutability":"readWrite","returned":"default","uniqueness":"server"},
{"name":"members","type":"complex","multiValued":true,"required":false,"mutability":"readWrite","returned":"default","uniqueness":"none",
 "subAttributes":[
 {"name":"value","type":"string","multiValued":false,"required":false,"caseExact":false,"mutability":"immutable","returned":"default","uniqueness":"none"},
 {"name":"$ref","type":"reference","referenceTypes":["User","Group"],"multiValued":false,"required":false,"caseExact":false,"mutability":"immutable","returned":"default","uniqueness":"none"},
 {"name":"display","type":"string","multiValued":false,"required":false,"caseExact":false,"mutability":"readOnly","returned":"default","uniqueness":"none"},
 {"name":"type","type":"string","canonicalValues":["User","Group"],"multiValued":false,"required":false,"caseExact":false,"mutability":"immutable","returned":"default","uniqueness":"none"}]}]}`

func groupSchema(base string) map[string]any {
	var m map[string]any
	_ = json.Unmarshal([]byte(groupSchemaJSON), &m)
	m["schemas"] = []string{SchemaURN}
	m["meta"] = map[string]any{"resourceType": "Schema", "location": base + "/Schemas/" + GroupURN}
	return m
}

// AddGroup creates a group whose members are the users with these userNames (seeding:
// the sandbox and tests). An unknown userName is an error naming it.
func (s *Server) AddGroup(name string, userNames []string) error {
	members := make([]any, 0, len(userNames))
	for _, n := range userNames {
		id, ok := s.UserByName(n)
		if !ok {
			return fmt.Errorf("scim: group %q: no user %q", name, n)
		}
		members = append(members, map[string]any{"value": id})
	}
	if _, e := s.putGroup("", map[string]any{"displayName": name, "members": members}, ""); e != nil {
		return fmt.Errorf("scim: group %q: %s", name, e.Detail)
	}
	return nil
}
