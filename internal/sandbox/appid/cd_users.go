package appid

import (
	"net/http"
	"strings"
	"time"

	"github.com/segmentio/encoding/json"
)

// The Cloud Directory user endpoints (IBM/appid-go-sdk appidmanagementv4, see FACTS.md):
//
//	GET /cloud_directory/Users?startIndex=&count=&query=  ListCloudDirectoryUsers -> UsersList
//	GET /cloud_directory/Users/{userId}                   GetCloudDirectoryUser   -> GetUser
//	PUT /cloud_directory/Users/{userId}                   UpdateCloudDirectoryUser -> GetUser
//
// A Cloud Directory user also has an App ID profile, a different record with its own id
// whose one identity is {provider: cloud_directory, id: <the Cloud Directory user's id>}:
// that is where its custom attributes and roles live, and GET /users?email= finds it (App
// ID docs cd-users.md, "Viewing user information" and "Deleting users").

// cdUserFields are the members of the SDK's GetUser model: an answer carries no other.
// What else an imported scimUser held (phone numbers, addresses, ...) is kept for the
// export, but this API does not show it.
var cdUserFields = []string{"displayName", "active", "lockedUntil", "emails", "meta", "schemas", "name", "userName", "id", "status"}

// cdUserPut are the members of UpdateCloudDirectoryUserOptions' body. There is no name and
// no password hash: a PUT can change neither (password is a new clear-text password).
var cdUserPut = []string{"emails", "status", "displayName", "userName", "password", "active", "lockedUntil"}

// getUserLocked renders u as the SDK's GetUser.
func (s *Server) getUserLocked(u *cdUser) map[string]any {
	out := make(map[string]any, len(cdUserFields))
	for _, k := range cdUserFields {
		if v, ok := u.scimUser[k]; ok {
			out[k] = v
		}
	}
	out["id"] = u.id
	if _, ok := out["active"]; !ok {
		out["active"] = true
	}
	if _, ok := out["status"]; !ok {
		out["status"] = "PENDING" // the import example in cd-users.md imports users as PENDING
	}
	if _, ok := out["emails"]; !ok {
		out["emails"] = []any{}
	}
	out["meta"] = map[string]any{"created": u.created, "lastModified": u.modified, "resourceType": "User",
		"location": "/v1/" + s.cfg.TenantID + "/Users/" + u.id}
	b, _ := json.Marshal(out) // copy out under the lock
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	return m
}

// cdMatches reports whether a list query finds u: App ID searches Cloud Directory users by
// their e-mail or userName, exactly (case aside); an empty query lists every user.
func cdMatches(u *cdUser, query string) bool {
	if query == "" {
		return true
	}
	if un, _ := u.scimUser["userName"].(string); strings.EqualFold(un, query) {
		return true
	}
	es, _ := u.scimUser["emails"].([]any)
	for _, e := range es {
		m, _ := e.(map[string]any)
		if v, _ := m["value"].(string); strings.EqualFold(v, query) {
			return true
		}
	}
	return false
}

func (s *Server) handleCDUsers(w http.ResponseWriter, r *http.Request) {
	max := s.cfg.Limits.CDPerRequest
	start, count, err := paging(r, max, max)
	if err != nil {
		writeErr(w, http.StatusBadRequest, "INVALID_INPUT", err.Error())
		return
	}
	query := r.URL.Query().Get("query")
	s.mu.Lock()
	var hits []*cdUser
	for _, u := range s.cdOrder {
		if s.cd[u.id] == u && cdMatches(u, query) {
			hits = append(hits, u)
		}
	}
	lo, hi := window(len(hits), start, count)
	res := make([]any, 0, hi-lo)
	for _, u := range hits[lo:hi] {
		res = append(res, s.getUserLocked(u))
	}
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{"totalResults": len(hits), "itemsPerPage": len(res), "Resources": res})
}

func (s *Server) handleCDUser(w http.ResponseWriter, r *http.Request, id string) {
	var body map[string]json.RawMessage
	if r.Method == http.MethodPut && !s.readJSON(w, r, &body) {
		return
	}
	if r.Method == http.MethodPut {
		// emails is required (UpdateCloudDirectoryUserOptions: validate:"required").
		var emails []map[string]any
		if err := json.Unmarshal(body["emails"], &emails); err != nil || len(emails) == 0 {
			writeErr(w, http.StatusBadRequest, "INVALID_INPUT", "emails is required")
			return
		}
		if a, ok := body["active"]; ok && string(a) != "true" && string(a) != "false" {
			writeErr(w, http.StatusBadRequest, "INVALID_INPUT", "active must be a boolean")
			return
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	u, ok := s.cd[id]
	if !ok {
		writeErr(w, http.StatusNotFound, "USER_NOT_FOUND", "user not found")
		return
	}
	if r.Method == http.MethodPut {
		next := make(map[string]any, len(u.scimUser))
		for k, v := range u.scimUser {
			next[k] = v
		}
		for _, k := range cdUserPut {
			raw, ok := body[k]
			if !ok || k == "password" {
				continue // a new password is not a hash: the sandbox keeps the stored one
			}
			var v any
			_ = json.Unmarshal(raw, &v)
			next[k] = v
		}
		key := identityKey(next)
		if key == "" {
			writeErr(w, http.StatusBadRequest, "INVALID_INPUT", "the user needs an email or a userName")
			return
		}
		if other, taken := s.cdIndex[key]; taken && other != u.id {
			writeErr(w, http.StatusConflict, "USER_CONFLICT", "another user already exists with this email or userName")
			return
		}
		delete(s.cdIndex, u.key)
		u.scimUser, u.key = next, key
		s.cdIndex[key] = u.id
		u.modified = s.clk.Now().UTC().Format(time.RFC3339Nano)
		if u.profile != nil {
			u.profile.email = cdPrimaryEmail(next)
			u.profile.name = cdDisplayName(next)
		}
	}
	writeJSON(w, http.StatusOK, s.getUserLocked(u))
}

// cdPrimaryEmail is the e-mail a Cloud Directory user's profile shows.
func cdPrimaryEmail(su map[string]any) string {
	es, _ := su["emails"].([]any)
	first := ""
	for _, e := range es {
		m, _ := e.(map[string]any)
		v, _ := m["value"].(string)
		if m["primary"] == true && v != "" {
			return v
		}
		if first == "" {
			first = v
		}
	}
	return first
}

// cdDisplayName is the name a Cloud Directory user's profile shows: name.formatted, else
// displayName (the docs' example profile has both, equal).
func cdDisplayName(su map[string]any) string {
	if n, ok := su["name"].(map[string]any); ok {
		if f, _ := n["formatted"].(string); f != "" {
			return f
		}
	}
	d, _ := su["displayName"].(string)
	return d
}

// newCDProfileLocked creates the App ID profile of a Cloud Directory user: it holds the
// user's attributes and roles, and its identity points at the Cloud Directory record.
func (s *Server) newCDProfileLocked(u *cdUser, attrs json.RawMessage, roleIDs []string) {
	idp, _ := json.Marshal(map[string]any{"provider": "cloud_directory", "id": u.id, "idpUserInfo": u.scimUser})
	p := &profile{id: newGUID(), name: cdDisplayName(u.scimUser), email: cdPrimaryEmail(u.scimUser),
		identities: []json.RawMessage{idp}, idKeys: []string{"cloud_directory\x00" + u.id},
		attributes: attrs, roles: roleIDs, cd: u}
	u.profile = p
	s.cdProfiles[p.id] = p
}

// profileLocked finds a profile by id: an imported profile or a Cloud Directory user's.
func (s *Server) profileLocked(id string) (*profile, bool) {
	if p, ok := s.profiles[id]; ok {
		return p, true
	}
	p, ok := s.cdProfiles[id]
	return p, ok
}

// searchCDLocked adds the profiles of Cloud Directory users that a search by e-mail or
// identity id finds.
func (s *Server) searchCDLocked(hits []*profile, email, idpID string) []*profile {
	for _, u := range s.cdOrder {
		p := u.profile
		if p == nil || s.cd[u.id] != u {
			continue
		}
		if email != "" && !strings.EqualFold(p.email, email) {
			continue
		}
		if idpID != "" && idpID != u.id {
			continue
		}
		hits = append(hits, p)
	}
	return hits
}
