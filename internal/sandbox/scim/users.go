package scim

import (
	"crypto/rand"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/segmentio/encoding/json"
)

func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

func (s *Server) now() string { return s.clk.Now().UTC().Format(time.RFC3339Nano) }

// nextVersion must be called with s.mu held.
func (s *Server) nextVersion() string {
	s.etag++
	return `W/"` + strconv.FormatInt(s.etag, 10) + `"`
}

// versionMatches implements If-Match: empty (no condition), "*", or a list of ETags.
func versionMatches(ifMatch, version string) bool {
	ifMatch = strings.TrimSpace(ifMatch)
	if ifMatch == "" || ifMatch == "*" {
		return true
	}
	for _, t := range strings.Split(ifMatch, ",") {
		t = strings.TrimSpace(t)
		// Weak comparison (RFC 9110 §8.8.3.2): W/"1" matches "1".
		if strings.TrimPrefix(t, "W/") == strings.TrimPrefix(version, "W/") {
			return true
		}
	}
	return false
}

func userName(res map[string]any) string {
	n, _ := res["userName"].(string)
	return n
}

// create must not hold s.mu.
func (s *Server) create(in map[string]any) (*entry, *Error) {
	res, e := s.normalize(in)
	if e != nil {
		return nil, e
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	key := strings.ToLower(userName(res))
	if _, taken := s.byName[key]; taken {
		return nil, errf(http.StatusConflict, errUniqueness, "userName %q is already taken", userName(res))
	}
	ext, _ := res["externalId"].(string)
	if _, taken := s.byExt[ext]; taken && ext != "" {
		return nil, errf(http.StatusConflict, errUniqueness, "externalId %q is already taken", ext)
	}
	s.seq++
	now := s.now()
	ent := &entry{seq: s.seq, id: newID(), version: s.nextVersion()}
	res["id"] = ent.id
	res["meta"] = map[string]any{"resourceType": "User", "created": now, "lastModified": now, "version": ent.version}
	ent.res = res
	s.byID[ent.id] = ent
	s.byName[key] = ent.id
	if ext != "" {
		s.byExt[ext] = ent.id
	}
	s.ordered = append(s.ordered, ent)
	return ent.snapshot(), nil
}

// snapshot copies the entry so that it can be rendered without the lock.
func (e *entry) snapshot() *entry {
	c := *e
	c.res = deepCopy(e.res).(map[string]any)
	return &c
}

func deepCopy(v any) any {
	switch x := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(x))
		for k, v := range x {
			m[k] = deepCopy(v)
		}
		return m
	case []any:
		a := make([]any, len(x))
		for i, v := range x {
			a[i] = deepCopy(v)
		}
		return a
	}
	return v
}

func (s *Server) get(id string) (*entry, *Error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	e, ok := s.byID[id]
	if !ok {
		return nil, notFound(id)
	}
	return e.snapshot(), nil
}

// update replaces the resource of id with next (already normalized, without id and meta),
// checking the version and userName uniqueness. Must not hold s.mu.
func (s *Server) update(id, ifMatch string, next func(cur map[string]any) (map[string]any, *Error)) (*entry, *Error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ent, ok := s.byID[id]
	if !ok {
		return nil, notFound(id)
	}
	if !versionMatches(ifMatch, ent.version) {
		return nil, errf(http.StatusPreconditionFailed, "", "version %s does not match the current version", ifMatch)
	}
	res, e := next(deepCopy(ent.res).(map[string]any))
	if e != nil {
		return nil, e
	}
	oldKey, newKey := strings.ToLower(userName(ent.res)), strings.ToLower(userName(res))
	if other, taken := s.byName[newKey]; taken && other != id {
		return nil, errf(http.StatusConflict, errUniqueness, "userName %q is already taken", userName(res))
	}
	oldExt, _ := ent.res["externalId"].(string)
	newExt, _ := res["externalId"].(string)
	if other, taken := s.byExt[newExt]; taken && newExt != "" && other != id {
		return nil, errf(http.StatusConflict, errUniqueness, "externalId %q is already taken", newExt)
	}
	meta, _ := ent.res["meta"].(map[string]any)
	res["id"] = id
	newMeta := map[string]any{"resourceType": "User", "created": meta["created"], "lastModified": meta["lastModified"], "version": ent.version}
	res["meta"] = newMeta
	if changed(ent.res, res) {
		ent.version = s.nextVersion()
		newMeta["lastModified"] = s.now()
		newMeta["version"] = ent.version
		ent.res = res
		delete(s.byName, oldKey)
		s.byName[newKey] = id
		delete(s.byExt, oldExt)
		if newExt != "" {
			s.byExt[newExt] = id
		}
	}
	return ent.snapshot(), nil
}

func changed(a, b map[string]any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) != string(y)
}

// remove deletes a user and then takes it out of every group.
func (s *Server) remove(id, ifMatch string) *Error {
	if e := s.removeUser(id, ifMatch); e != nil {
		return e
	}
	s.dropMember(id)
	return nil
}

func (s *Server) removeUser(id, ifMatch string) *Error {
	s.mu.Lock()
	defer s.mu.Unlock()
	ent, ok := s.byID[id]
	if !ok {
		return notFound(id)
	}
	if !versionMatches(ifMatch, ent.version) {
		return errf(http.StatusPreconditionFailed, "", "version %s does not match the current version", ifMatch)
	}
	delete(s.byID, id)
	delete(s.byName, strings.ToLower(userName(ent.res)))
	if ext, _ := ent.res["externalId"].(string); ext != "" {
		delete(s.byExt, ext)
	}
	i := sort.Search(len(s.ordered), func(i int) bool { return s.ordered[i].seq >= ent.seq })
	if i < len(s.ordered) && s.ordered[i] == ent {
		s.ordered = append(s.ordered[:i], s.ordered[i+1:]...)
	}
	return nil
}

// replaceWith is the PUT semantics: the body replaces every writable attribute; the
// write-only password is kept when the body has none.
func (s *Server) replaceWith(body map[string]any) func(cur map[string]any) (map[string]any, *Error) {
	return func(cur map[string]any) (map[string]any, *Error) {
		res, e := s.normalize(body)
		if e != nil {
			return nil, e
		}
		if _, ok := res["password"]; !ok {
			if pw, ok := cur["password"]; ok {
				res["password"] = pw
			}
		}
		return res, nil
	}
}

// render prepares a stored resource for a response: no password (returned: never), the
// location filled in, and the attributes / excludedAttributes projection applied.
func (s *Server) render(e *entry, base string, attrs, excluded []string) map[string]any {
	out := make(map[string]any, len(e.res))
	for k, v := range e.res {
		if k == "password" {
			continue
		}
		if ext := s.ss.extension(k); ext != nil {
			v = withoutHidden(ext.Attributes, v)
		}
		out[k] = v
	}
	if meta, ok := out["meta"].(map[string]any); ok {
		meta["location"] = base + "/Users/" + e.id
	}
	if len(attrs) > 0 {
		keep := map[string]bool{"id": true, "schemas": true, "meta": true}
		for _, a := range attrs {
			keep[strings.ToLower(s.topName(a))] = true
		}
		for k := range out {
			if !keep[strings.ToLower(k)] {
				delete(out, k)
			}
		}
	}
	for _, a := range excluded {
		n := strings.ToLower(s.topName(a))
		if n == "id" || n == "schemas" || n == "username" {
			continue // returned: always
		}
		for k := range out {
			if strings.ToLower(k) == n {
				delete(out, k)
			}
		}
	}
	return out
}

// withoutHidden copies an extension's data without the attributes its schema never returns
// (a write-only PIN): a real server accepts them on write and leaves them out of reads.
func withoutHidden(defs []*attr, v any) any {
	m, ok := v.(map[string]any)
	if !ok {
		return v
	}
	var out map[string]any
	for k := range m {
		if a := findAttr(defs, k); a != nil && a.hidden() {
			if out == nil {
				out = make(map[string]any, len(m))
				for k2, v2 := range m {
					out[k2] = v2
				}
			}
			delete(out, k)
		}
	}
	if out == nil {
		return m
	}
	return out
}

// topName maps "name.givenName" or "urn:...:User:userName" to the top-level key it lives
// under: "name", "userName", or an extension's URN.
func (s *Server) topName(a string) string {
	a = strings.TrimSpace(a)
	if strings.HasPrefix(strings.ToLower(a), strings.ToLower(UserURN)+":") {
		a = a[len(UserURN)+1:]
	} else if strings.HasPrefix(strings.ToLower(a), "urn:") {
		for _, ext := range s.ss.ext {
			if strings.EqualFold(a, ext.ID) || strings.HasPrefix(strings.ToLower(a), strings.ToLower(ext.ID)+":") {
				return ext.ID
			}
		}
		return a
	}
	name, _, _ := strings.Cut(a, ".")
	return name
}

func splitList(v string) []string {
	var out []string
	for _, p := range strings.Split(v, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func (s *Server) writeResource(w http.ResponseWriter, r *http.Request, status int, e *entry) {
	q := r.URL.Query()
	w.Header().Set("ETag", e.version)
	if status == http.StatusCreated {
		w.Header().Set("Location", s.baseURL(r)+"/Users/"+e.id)
	}
	s.writeJSON(w, status, s.render(e, s.baseURL(r), splitList(q.Get("attributes")), splitList(q.Get("excludedAttributes"))))
}

func (s *Server) handleCreate(w http.ResponseWriter, r *http.Request) {
	body, e := s.readObject(w, r, s.cfg.MaxBodyBytes)
	if e != nil {
		s.writeErr(w, e)
		return
	}
	ent, e := s.create(body)
	if e != nil {
		s.writeErr(w, e)
		return
	}
	s.writeResource(w, r, http.StatusCreated, ent)
}

func (s *Server) handleUser(w http.ResponseWriter, r *http.Request, id string) {
	ifMatch := r.Header.Get("If-Match")
	switch r.Method {
	case http.MethodGet:
		ent, e := s.get(id)
		if e != nil {
			s.writeErr(w, e)
			return
		}
		if inm := r.Header.Get("If-None-Match"); inm != "" && versionMatches(inm, ent.version) {
			w.Header().Set("ETag", ent.version)
			w.WriteHeader(http.StatusNotModified)
			return
		}
		s.writeResource(w, r, http.StatusOK, ent)
	case http.MethodPut:
		body, e := s.readObject(w, r, s.cfg.MaxBodyBytes)
		if e != nil {
			s.writeErr(w, e)
			return
		}
		ent, e := s.update(id, ifMatch, s.replaceWith(body))
		if e != nil {
			s.writeErr(w, e)
			return
		}
		s.writeResource(w, r, http.StatusOK, ent)
	case http.MethodPatch:
		body, e := s.readObject(w, r, s.cfg.MaxBodyBytes)
		if e != nil {
			s.writeErr(w, e)
			return
		}
		ent, e := s.update(id, ifMatch, s.patchWith(body))
		if e != nil {
			s.writeErr(w, e)
			return
		}
		s.writeResource(w, r, http.StatusOK, ent)
	case http.MethodDelete:
		if e := s.remove(id, ifMatch); e != nil {
			s.writeErr(w, e)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	default:
		s.writeErr(w, errf(http.StatusMethodNotAllowed, "", "%s /Users/{id} is not supported", r.Method))
	}
}
