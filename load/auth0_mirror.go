package load

import (
	"context"
	"fmt"
	"net/http"
	"net/url"

	"github.com/ferry-dev/ferry/internal/core"
	"github.com/ferry-dev/ferry/internal/httpx"
)

// Mirror mode on Auth0: the users of the sink's database connection, listed by the
// Auth0 Source scoped to it (extract/list.go), and
//
//	remove  DELETE /api/v2/users/{id} (204; a 404 means already gone)

var (
	_ core.Mirrored = (*Auth0)(nil)
	_ core.Remover  = (*Auth0)(nil)
)

// MirrorScope implements core.Mirrored: the Source lists the sink's connection by name.
func (s *Auth0) MirrorScope() (url.Values, error) {
	if !s.connNamed && s.cfg.ConnectionID != "" {
		// The name defaulted while the id says which connection: listing by the default
		// name could match the users of another connection.
		return nil, fmt.Errorf("auth0: mirror mode lists the connection by name: add ?connection=NAME for connection_id %s: %w", s.cfg.ConnectionID, core.ErrUsage)
	}
	return url.Values{"connection": {s.cfg.Connection}}, nil
}

// RemoveUsers implements core.Remover: DELETE /api/v2/users/{id}, two at a time (the
// tenant's shared limiter paces them within the write-users budget).
func (s *Auth0) RemoveUsers(ctx context.Context, users []core.TargetUser) ([]error, error) {
	return eachUser(ctx, users, 2, func(ctx context.Context, u core.TargetUser) error {
		_, err := s.api.c.Do(ctx, &httpx.Request{Method: http.MethodDelete, Path: "users/" + url.PathEscape(u.ID),
			AllowStatus: []int{http.StatusNotFound}})
		if err != nil {
			return fmt.Errorf("auth0: delete user %s: %w", u.ID, err)
		}
		return nil
	})
}
