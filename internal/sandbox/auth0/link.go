package auth0

import (
	"bytes"
	"net/http"
	"strings"

	"github.com/segmentio/encoding/json"
)

// linkProfileFields are the secondary's root fields kept as the linked identity's
// profileData (Management API "Link a User Account", response example: email,
// email_verified, name, username, given_name, phone_number, phone_verified, family_name);
// nickname and picture are kept too, as Auth0's account-linking docs show them there.
var linkProfileFields = []string{"email", "email_verified", "name", "username", "given_name",
	"family_name", "nickname", "picture", "phone_number", "phone_verified"}

// handleLinkIdentity is POST /api/v2/users/{id}/identities with a Management API token:
// body {provider, user_id, connection_id?} (LinkUserIdentityRequestContent:
// additionalProperties false; connection_id ^con_[A-Za-z0-9]{16}$; user_id a string or an
// integer; link_with, the other form, needs the primary's own JWT, which the sandbox never
// issues). The secondary user provider|user_id stops being a user of its own, its identity
// with its profile as profileData joins the primary's identities, and the answer is 201 with
// the primary's new identities array. Its metadata is not merged (the docs: only the
// primary's metadata is kept).
func (s *Server) handleLinkIdentity(w http.ResponseWriter, r *http.Request) {
	var raw map[string]json.RawMessage
	if !readJSON(w, r, &raw) {
		return
	}
	for k := range raw {
		switch k {
		case "provider", "user_id", "connection_id":
		case "link_with":
			badBody(w, "Payload validation error: link_with needs the primary user's own token; send provider and user_id.")
			return
		default:
			badBody(w, "Payload validation error: 'Additional properties not allowed: "+k+"'.")
			return
		}
	}
	var provider, connID string
	if json.Unmarshal(raw["provider"], &provider) != nil || provider == "" {
		badBody(w, "Payload validation error: 'Missing required property: provider'.")
		return
	}
	userID := strings.Trim(string(bytes.TrimSpace(raw["user_id"])), `"`)
	if userID == "" {
		badBody(w, "Payload validation error: 'Missing required property: user_id'.")
		return
	}
	if len(raw["connection_id"]) > 0 {
		if json.Unmarshal(raw["connection_id"], &connID) != nil {
			badBody(w, "Payload validation error: 'Expected type string' on property connection_id.")
			return
		}
		if badConnID(w, connID) {
			return
		}
	}
	primaryID, secondaryID := r.PathValue("id"), provider+"|"+userID
	if primaryID == secondaryID {
		badBody(w, "Main identity and the new one are the same.")
		return
	}

	s.store.mu.Lock()
	p, sec := s.store.byID[primaryID], s.store.byID[secondaryID]
	switch {
	case p == nil:
		s.store.mu.Unlock()
		writeError(w, http.StatusNotFound, "inexistent_user", msgUserMissing)
		return
	case sec == nil:
		s.store.mu.Unlock()
		writeError(w, http.StatusBadRequest, "inexistent_user", "The user to link ("+secondaryID+") does not exist.")
		return
	case connID != "" && s.connByID(connID) == nil:
		s.store.mu.Unlock()
		writeError(w, http.StatusNotFound, "inexistent_connection", "The connection does not exist.")
		return
	case connID != "" && s.connByID(connID).Name != sec.connection:
		s.store.mu.Unlock()
		badBody(w, "The user "+secondaryID+" is not in the connection "+connID+".")
		return
	}
	var prof, secProf map[string]json.RawMessage
	if json.Unmarshal(p.raw, &prof) != nil || json.Unmarshal(sec.raw, &secProf) != nil {
		s.store.mu.Unlock()
		writeError(w, http.StatusInternalServerError, "", "stored profile unreadable")
		return
	}
	var idents, secIdents []map[string]json.RawMessage
	_ = json.Unmarshal(prof["identities"], &idents)
	_ = json.Unmarshal(secProf["identities"], &secIdents)
	data := map[string]json.RawMessage{}
	for _, f := range linkProfileFields {
		if v, ok := secProf[f]; ok {
			data[f] = v
		}
	}
	// The secondary's own identities come along: its primary one with its profile, any it
	// had linked itself as they were.
	for k, id := range secIdents {
		if k == 0 {
			pd, _ := marshal(data)
			id["profileData"] = pd
		}
		idents = append(idents, id)
	}
	prof["identities"], _ = marshal(idents)
	prof["updated_at"], _ = marshal(formatTime(s.clock.Now()))
	b, err := marshal(prof)
	var nu *user
	if err == nil {
		nu, _, err = newUser(b)
	}
	if err != nil {
		s.store.mu.Unlock()
		writeError(w, http.StatusInternalServerError, "", "linked profile could not be stored")
		return
	}
	nu.passwordHash, nu.mfaFactors = p.passwordHash, p.mfaFactors
	s.store.putLocked(nu)
	delete(s.store.byID, secondaryID)
	s.store.unindexLocked(sec)
	s.store.resortLocked()
	s.store.mu.Unlock()
	s.cat.unassignUser(secondaryID)
	writeJSON(w, http.StatusCreated, idents)
}
