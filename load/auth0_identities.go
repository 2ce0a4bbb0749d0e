package load

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/ferry-dev/ferry/internal/core"
	"github.com/ferry-dev/ferry/internal/httpx"
	"github.com/ferry-dev/ferry/schemas"
	"github.com/segmentio/encoding/json"
)

// Linked identities. An import item cannot carry identities, so a user's secondary
// identities (identities[1:]) go one of three ways:
//
//   - with unlink (?unlink=true): each becomes a user of its own, built from its
//     profileData and without metadata, exactly what Auth0's unlink produces (seed doc
//     "ユーザーアカウントのリンクを解除する": the secondary account gets no metadata);
//   - without it, a database identity (provider auth0) of the target connection is
//     imported as its own user and linked back to its primary after the job
//     (POST /api/v2/users/{id}/identities {provider, connection_id, user_id});
//   - any other identity (google-oauth2, ...) cannot be recreated: Auth0 creates social
//     identities only when the user logs in. The user is rejected, before anything is
//     written, with a reason naming the identity, rather than imported without it.
//
// A secondary identity whose email is its primary's (common for a linked social login)
// cannot be its own user in the same database connection: its user is rejected too.

type identity struct {
	Connection  string                     `json:"connection"`
	Provider    string                     `json:"provider"`
	UserID      json.RawMessage            `json:"user_id"`
	ProfileData map[string]json.RawMessage `json:"profileData"`
}

// identityUnits builds the import items of u's secondary identities, or says why u cannot
// be imported.
func (s *Auth0) identityUnits(u *schemas.User) ([]*unit, string) {
	if u == nil || u.Ferry == nil || len(u.Ferry.Identities) < 2 {
		return nil, ""
	}
	var out []*unit
	for k, raw := range u.Ferry.Identities[1:] {
		var id identity
		if err := json.Unmarshal(raw, &id); err != nil {
			return nil, fmt.Sprintf("identities[%d] is not an identity object: %v", k+1, err)
		}
		uid := rawID(id.UserID)
		name := id.Provider + "|" + uid
		if uid == "" || id.Provider == "" {
			return nil, fmt.Sprintf("identities[%d] has no provider or user_id", k+1)
		}
		if !s.cfg.Unlink && (id.Provider != "auth0" || (id.Connection != "" && id.Connection != s.cfg.Connection)) {
			return nil, fmt.Sprintf("linked identity %s (connection %q) cannot be recreated by a bulk import "+
				"(only identities of the database connection %q can be imported and linked back); "+
				"use ?unlink=true to import it as a user of its own, or remove the link in the source",
				name, id.Connection, s.cfg.Connection)
		}
		item, email, why := unlinkedItem(&id, uid)
		if why != "" {
			return nil, fmt.Sprintf("identity %s: %s", name, why)
		}
		out = append(out, &unit{data: item, email: email, key: strings.ToLower(email), userID: uid,
			identity: name, relink: !s.cfg.Unlink})
	}
	return out, ""
}

// rawID reads an id given as a JSON string or number as text (Auth0 user_id may be a
// number in real answers; so may a SCIM id).
func rawID(v json.RawMessage) string {
	var s string
	if json.Unmarshal(v, &s) == nil {
		return s
	}
	var n json.Number
	if json.Unmarshal(v, &n) == nil {
		return n.String()
	}
	return ""
}

// unlinkedItem is the import item of a secondary identity: its profileData fields that the
// import schema allows, with the right types, and no metadata.
func unlinkedItem(id *identity, uid string) ([]byte, string, string) {
	m := map[string]any{"user_id": uid}
	var email string
	if v, ok := id.ProfileData["email"]; ok {
		_ = json.Unmarshal(v, &email)
	}
	if email == "" {
		return nil, "", "its profile has no email, which an import item requires"
	}
	m["email"] = email
	for _, k := range []string{"username", "given_name", "family_name", "name", "nickname", "picture"} {
		var s string
		if v, ok := id.ProfileData[k]; ok && json.Unmarshal(v, &s) == nil && s != "" {
			m[k] = s
		}
	}
	var verified bool
	if v, ok := id.ProfileData["email_verified"]; ok && json.Unmarshal(v, &verified) == nil {
		m["email_verified"] = verified
	}
	b, err := json.Marshal(m)
	if err != nil {
		return nil, "", err.Error()
	}
	return b, email, ""
}

// relink links the database identities imported as users back to their primary users.
func (s *Auth0) relink(ctx context.Context, connID string, groups []*userGroup) error {
	var todo []*userGroup
	var need []*userGroup
	for _, g := range groups {
		has := false
		for _, u := range g.units[1:] {
			has = has || (u.relink && written(u.out))
		}
		if !has || !written(g.units[0].out) {
			continue
		}
		todo = append(todo, g)
		for _, u := range g.units {
			if u.targetID == "" {
				// Look the unit up as a group of its own.
				need = append(need, &userGroup{units: []*unit{u}})
			}
		}
	}
	if err := s.resolveIDs(ctx, need); err != nil {
		return err
	}
	for _, g := range todo {
		p := g.units[0]
		for _, u := range g.units[1:] {
			if !u.relink || !written(u.out) {
				continue
			}
			if p.targetID == "" || u.targetID == "" {
				u.out, u.reason = core.Rejected, "imported, but its id could not be found to link it back"
				continue
			}
			body := map[string]string{"provider": "auth0", "connection_id": connID,
				"user_id": strings.TrimPrefix(u.targetID, "auth0|")}
			_, err := s.api.c.DoJSON(ctx, &httpx.Request{Method: http.MethodPost,
				Path: "users/" + url.PathEscape(p.targetID) + "/identities"}, body, nil)
			var se *httpx.StatusError
			switch {
			case err == nil:
			case errors.As(err, &se) && se.Status >= 400 && se.Status < 500 &&
				se.Status != http.StatusUnauthorized && se.Status != http.StatusForbidden:
				u.out, u.reason = core.Rejected, fmt.Sprintf("imported as the user %s, but linking it back failed: %d %s", u.targetID, se.Status, se.Body)
			case errors.Is(err, httpx.ErrUnauthorized) || errors.Is(err, httpx.ErrForbidden) || ctx.Err() != nil:
				return fmt.Errorf("auth0: link identity %s to %s: %w", u.identity, p.targetID, err)
			default:
				// A lost answer: the link may exist. Rejecting says so; a rerun settles it.
				u.out, u.reason = core.Rejected, fmt.Sprintf("imported as the user %s, but linking it back failed (it may have succeeded): %v", u.targetID, err)
			}
		}
	}
	return nil
}

func written(o core.Outcome) bool { return o == core.Created || o == core.Updated }
