package appid

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/segmentio/encoding/json"
)

// profile is an App ID user profile.
type profile struct {
	id      string
	name    string
	email   string
	picture string
	// gender, locale and preferred_username are optional profile fields of the export item
	// (ExportUserProfileUsersItem in IBM's SDK, FACTS.md json.export.item): an import keeps them.
	gender, locale, preferredUsername string
	identities                        []json.RawMessage // opaque: providers nest idpUserInfo differently
	idKeys                            []string          // provider \x00 id of each identity
	attributes                        json.RawMessage   // a JSON object
	roles                             []string          // role ids
	cd                                *cdUser           // the Cloud Directory user, for its profile
}

// exportedUser is the users/export item and the users/import item.
type exportedUser struct {
	ID         string            `json:"id"`
	Name       string            `json:"name,omitempty"`
	Email      string            `json:"email,omitempty"`
	Picture    string            `json:"picture,omitempty"`
	Gender     string            `json:"gender,omitempty"`
	Locale     string            `json:"locale,omitempty"`
	PrefUser   string            `json:"preferred_username,omitempty"`
	Identities []json.RawMessage `json:"identities"`
	Attributes json.RawMessage   `json:"attributes"`
	Roles      []string          `json:"roles"`
}

// FailReason is one refused user of an import. A profile import reports
// {originalId, idp, error} and a Cloud Directory import {originalId, id, email, userName,
// error} (IBM/appid-go-sdk: ImportProfilesResponseFailReasonsItem, ImportResponseFailReasonsItem;
// see FACTS.md), so each field but originalId and error is left out where its import has none.
type FailReason struct {
	OriginalID string `json:"originalId"`
	IDP        string `json:"idp,omitempty"`
	ID         string `json:"id,omitempty"`
	Email      string `json:"email,omitempty"`
	UserName   string `json:"userName,omitempty"`
	Error      string `json:"error"`
}

// ImportResult is the answer of users/import and cloud_directory/import.
type ImportResult struct {
	Added       int          `json:"added"`
	Failed      int          `json:"failed"`
	FailReasons []FailReason `json:"failReasons"`
}

// roleNamesLocked maps role ids to names.
func (s *Server) roleNamesLocked(ids []string) []string {
	out := make([]string, 0, len(ids))
	for _, id := range ids {
		if r, ok := s.roles[id]; ok {
			out = append(out, r.Name)
		}
	}
	return out
}

// roleIDsLocked maps role names (exact spelling) to ids.
func (s *Server) roleIDsLocked(names []string) ([]string, error) {
	out := make([]string, 0, len(names))
	for _, n := range names {
		var id string
		for _, r := range s.roleSeq {
			if r.Name == n {
				id = r.ID
			}
		}
		if id == "" {
			return nil, fmt.Errorf("role %q does not exist in this instance", n)
		}
		out = append(out, id)
	}
	return out, nil
}

func (s *Server) exportLocked(p *profile) exportedUser {
	attrs := p.attributes
	if len(attrs) == 0 {
		attrs = json.RawMessage(`{}`)
	}
	return exportedUser{ID: p.id, Name: p.name, Email: p.email, Picture: p.picture,
		Gender: p.gender, Locale: p.locale, PrefUser: p.preferredUsername,
		Identities: p.identities, Attributes: attrs, Roles: s.roleNamesLocked(p.roles)}
}

// importProfiles adds users in the export item shape. A user fails (and the rest go on)
// when the item is malformed, has no identity, an identity already in the instance or
// twice in the batch, a role the instance lacks, or the instance is full.
func (s *Server) importProfiles(items []json.RawMessage) ImportResult {
	s.mu.Lock()
	defer s.mu.Unlock()
	res := ImportResult{FailReasons: []FailReason{}}
	fail := func(orig, idp, format string, args ...any) {
		res.Failed++
		res.FailReasons = append(res.FailReasons, FailReason{OriginalID: orig, IDP: idp, Error: fmt.Sprintf(format, args...)})
	}
	for i, raw := range items {
		var u exportedUser
		if err := json.Unmarshal(raw, &u); err != nil {
			fail("", "", "user %d is not a valid user object: %v", i, err)
			continue
		}
		if len(u.Identities) == 0 {
			fail(u.ID, "", "user has no identities")
			continue
		}
		keys := make([]string, 0, len(u.Identities))
		idp, bad := "", ""
		for j, ident := range u.Identities {
			var id struct {
				Provider string          `json:"provider"`
				ID       json.RawMessage `json:"id"`
			}
			if err := json.Unmarshal(ident, &id); err != nil || id.Provider == "" || len(id.ID) == 0 {
				bad = fmt.Sprintf("identity %d needs a provider and an id", j)
				break
			}
			idStr := strings.Trim(string(id.ID), `"`)
			if j == 0 {
				idp = id.Provider
			}
			keys = append(keys, id.Provider+"\x00"+idStr)
		}
		if bad != "" {
			fail(u.ID, idp, "%s", bad)
			continue
		}
		dup := ""
		for _, k := range keys {
			if _, taken := s.idpIndex[k]; taken {
				dup = k
			}
		}
		if dup != "" {
			fail(u.ID, idp, "user already exists: identity %s is taken", strings.Replace(dup, "\x00", "/", 1))
			continue
		}
		if len(u.Attributes) > 0 && string(u.Attributes) != "null" && u.Attributes[0] != '{' {
			fail(u.ID, idp, "attributes must be an object")
			continue
		}
		roleIDs, err := s.roleIDsLocked(u.Roles)
		if err != nil {
			fail(u.ID, idp, "%v", err)
			continue
		}
		if len(s.profiles)+len(s.cd) >= s.cfg.Limits.MaxUsers {
			fail(u.ID, idp, "the instance has reached its limit of %d users", s.cfg.Limits.MaxUsers)
			continue
		}
		p := &profile{id: newGUID(), name: u.Name, email: u.Email, picture: u.Picture,
			gender: u.Gender, locale: u.Locale, preferredUsername: u.PrefUser,
			identities: u.Identities, idKeys: keys, attributes: u.Attributes, roles: roleIDs}
		if string(p.attributes) == "null" {
			p.attributes = nil
		}
		s.profiles[p.id] = p
		s.order = append(s.order, p)
		for _, k := range keys {
			s.idpIndex[k] = p.id
		}
		res.Added++
	}
	return res
}

// paging reads startIndex (0-based) and count, capping count at max.
func paging(r *http.Request, def, max int) (start, count int, err error) {
	q := r.URL.Query()
	start, count = 0, def
	if v := q.Get("startIndex"); v != "" {
		if start, err = strconv.Atoi(v); err != nil || start < 0 {
			return 0, 0, fmt.Errorf("startIndex %q must be a non-negative integer", v)
		}
	}
	if v := q.Get("count"); v != "" {
		if count, err = strconv.Atoi(v); err != nil || count < 0 {
			return 0, 0, fmt.Errorf("count %q must be a non-negative integer", v)
		}
	}
	return start, min(count, max), nil
}

func window(total, start, count int) (int, int) {
	lo := min(start, total)
	return lo, min(lo+count, total)
}

func (s *Server) handleExport(w http.ResponseWriter, r *http.Request) {
	max := s.cfg.Limits.ExportMaxCount
	start, count, err := paging(r, max, max)
	if err != nil {
		writeErr(w, http.StatusBadRequest, "INVALID_INPUT", err.Error())
		return
	}
	s.mu.Lock()
	lo, hi := window(len(s.order), start, count)
	users := make([]exportedUser, 0, hi-lo)
	for _, p := range s.order[lo:hi] {
		users = append(users, s.exportLocked(p))
	}
	total := len(s.order)
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{
		"itemsPerPage": len(users), "totalResults": total,
		"requestOptions": map[string]int{"startIndex": start, "count": count},
		"users":          users,
	})
}

func (s *Server) handleImport(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Users *[]json.RawMessage `json:"users"`
	}
	if !s.readJSON(w, r, &body) {
		return
	}
	if body.Users == nil {
		writeErr(w, http.StatusBadRequest, "INVALID_INPUT", "users is required")
		return
	}
	writeJSON(w, http.StatusOK, s.importProfiles(*body.Users))
}

// handleSearch is GET /users?email=&dataScope=index|full&startIndex=&count=.
func (s *Server) handleSearch(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	// dataScope is required (UsersSearchUserProfileOptions in IBM's SDK, FACTS.md).
	scope := q.Get("dataScope")
	if scope != "index" && scope != "full" {
		writeErr(w, http.StatusBadRequest, "INVALID_INPUT", "dataScope must be index or full")
		return
	}
	max := s.cfg.Limits.SearchMaxCount
	start, count, err := paging(r, min(20, max), max)
	if err != nil {
		writeErr(w, http.StatusBadRequest, "INVALID_INPUT", err.Error())
		return
	}
	email, idpID := q.Get("email"), q.Get("id")
	s.mu.Lock()
	var hits []*profile
	for _, p := range s.order {
		if email != "" && !strings.EqualFold(p.email, email) {
			continue
		}
		if idpID != "" {
			found := false
			for _, k := range p.idKeys {
				if _, id, _ := strings.Cut(k, "\x00"); id == idpID {
					found = true
				}
			}
			if !found {
				continue
			}
		}
		hits = append(hits, p)
	}
	hits = s.searchCDLocked(hits, email, idpID)
	lo, hi := window(len(hits), start, count)
	users := make([]any, 0, hi-lo)
	for _, p := range hits[lo:hi] {
		if scope == "full" {
			users = append(users, s.exportLocked(p))
			continue
		}
		idp, _, _ := strings.Cut(p.idKeys[0], "\x00")
		users = append(users, map[string]string{"id": p.id, "idp": idp, "email": p.email})
	}
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{
		"totalResults": len(hits), "itemsPerPage": len(users),
		"requestOptions": map[string]int{"startIndex": start, "count": count},
		"users":          users,
	})
}

func (s *Server) handleProfile(w http.ResponseWriter, r *http.Request, id string) {
	var body struct {
		Attributes json.RawMessage `json:"attributes"`
	}
	if r.Method == http.MethodPut {
		if !s.readJSON(w, r, &body) {
			return
		}
		if len(body.Attributes) == 0 || body.Attributes[0] != '{' {
			writeErr(w, http.StatusBadRequest, "INVALID_INPUT", "attributes must be an object")
			return
		}
	}
	s.mu.Lock()
	p, ok := s.profileLocked(id)
	if !ok {
		s.mu.Unlock()
		writeErr(w, http.StatusNotFound, "USER_NOT_FOUND", "user not found")
		return
	}
	if r.Method == http.MethodPut {
		p.attributes = append(json.RawMessage(nil), body.Attributes...)
	}
	out := s.exportLocked(p)
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{
		"id": out.ID, "name": out.Name, "email": out.Email, "picture": out.Picture,
		"identities": out.Identities, "attributes": out.Attributes,
	})
}

func (s *Server) handleUserRoles(w http.ResponseWriter, r *http.Request, id string) {
	var body struct {
		Roles struct {
			IDs []string `json:"ids"`
		} `json:"roles"`
	}
	if r.Method == http.MethodPut && !s.readJSON(w, r, &body) {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.profileLocked(id)
	if !ok {
		writeErr(w, http.StatusNotFound, "USER_NOT_FOUND", "user not found")
		return
	}
	if r.Method == http.MethodPut {
		for _, rid := range body.Roles.IDs {
			if _, ok := s.roles[rid]; !ok {
				writeErr(w, http.StatusBadRequest, "INVALID_INPUT", fmt.Sprintf("role %q not found", rid))
				return
			}
		}
		p.roles = append([]string{}, body.Roles.IDs...)
	}
	out := make([]map[string]string, 0, len(p.roles))
	for _, rid := range p.roles {
		out = append(out, map[string]string{"id": rid, "name": s.roles[rid].Name})
	}
	writeJSON(w, http.StatusOK, map[string]any{"roles": out})
}

func (s *Server) handleDeleteUser(w http.ResponseWriter, id string) {
	s.mu.Lock()
	p, ok := s.profiles[id]
	if ok {
		delete(s.profiles, id)
		for _, k := range p.idKeys {
			delete(s.idpIndex, k)
		}
		for i, x := range s.order {
			if x == p {
				s.order = append(s.order[:i], s.order[i+1:]...)
				break
			}
		}
	}
	s.mu.Unlock()
	if !ok {
		writeErr(w, http.StatusNotFound, "USER_NOT_FOUND", "user not found")
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
