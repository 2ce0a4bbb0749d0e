package extract

import (
	"context"
	"fmt"
	"strings"

	"github.com/ferry-dev/ferry/internal/core"
	"github.com/ferry-dev/ferry/internal/jsonstream"
	"github.com/segmentio/encoding/json"
)

// Mirror mode lists a target through the Source for the same endpoint (core.Lister): the
// same paging, with its defences against servers that page wrong, reading only what
// matches a user against the source: no roles or groups, and only the matching fields
// where the provider projects (Auth0 fields=, SCIM attributes=). Each provider names its
// users here the way its decoder derives userName, so that a target user and the source
// user it came from meet under one name.

var (
	_ core.Lister = (*Auth0)(nil)
	_ core.Lister = (*AppID)(nil)
	_ core.Lister = (*SCIM)(nil)
)

// auth0KeyFields are what matching an Auth0 user needs (identities: the connection filter).
var auth0KeyFields = []string{"user_id", "email", "username", "identities"}

// ListUsers implements core.Lister: the users of the endpoint's database connection
// (identities[0] in it; users merely linked to it belong to another connection and are
// not listed), named username, else email, else user_id.
func (a *Auth0) ListUsers(ctx context.Context, fn func(core.TargetUser) error) error {
	if a.conn == "" {
		// Every user of the tenant would be listed, those of social and enterprise
		// connections too: mirror mode must never see them as gone.
		return fmt.Errorf("auth0: listing a target's users needs ?connection=NAME (the database connection it writes to): %w", core.ErrUsage)
	}
	a.keys = true
	return a.Users(ctx, func(r core.Record) error {
		if r.Err != nil {
			return fmt.Errorf("auth0: list users: %s: %w", r.Ref, r.Err)
		}
		var p struct {
			UserID   json.RawMessage `json:"user_id"`
			Email    string          `json:"email"`
			Username string          `json:"username"`
		}
		if err := json.Unmarshal(r.Data, &p); err != nil {
			return fmt.Errorf("auth0: list users: %s: %w", r.Ref, err)
		}
		id := jsonstream.IDText(p.UserID)
		name := p.Username
		if name == "" {
			name = p.Email
		}
		if name == "" {
			name = id
		}
		return fn(core.TargetUser{ID: id, UserName: name, Email: p.Email})
	})
}

// ListUsers implements core.Lister: the instance's profiles (users/export lists them
// whatever their identity provider), named by email. A profile without one cannot be
// matched (App ID issues new ids on import, so its id matches nothing in a source) and is
// listed without a name, which mirror mode never removes.
func (a *AppID) ListUsers(ctx context.Context, fn func(core.TargetUser) error) error {
	if a.cd {
		return fmt.Errorf("appid: mirror mode removes profiles, not Cloud Directory users: use a profiles target (without cloud_directory=true): %w", core.ErrUsage)
	}
	return a.Users(ctx, func(r core.Record) error {
		var p struct {
			ID    json.RawMessage `json:"id"`
			Email string          `json:"email"`
		}
		if err := json.Unmarshal(r.Data, &p); err != nil {
			return fmt.Errorf("appid: list users: %s: %w", r.Ref, err)
		}
		return fn(core.TargetUser{ID: jsonstream.IDText(p.ID), UserName: p.Email, Email: p.Email})
	})
}

// ListUsers implements core.Lister: the provider's Users, named by userName alone (the
// key SCIM clients identify users by: an email shared by a renamed user must not keep
// its stale account alive), with active=false read also as the string "false".
func (s *SCIM) ListUsers(ctx context.Context, fn func(core.TargetUser) error) error {
	s.keys = true
	return s.Users(ctx, func(r core.Record) error {
		var p struct {
			ID       json.RawMessage `json:"id"`
			UserName string          `json:"userName"`
			Active   json.RawMessage `json:"active"`
		}
		if err := json.Unmarshal(r.Data, &p); err != nil {
			return fmt.Errorf("scim: list users: %s: %w", r.Ref, err)
		}
		inactive := strings.EqualFold(strings.Trim(strings.TrimSpace(string(p.Active)), `"`), "false")
		return fn(core.TargetUser{ID: jsonstream.IDText(p.ID), UserName: p.UserName, Inactive: inactive})
	})
}
