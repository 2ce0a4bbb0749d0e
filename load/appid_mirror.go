package load

import (
	"context"
	"fmt"
	"net/http"
	"net/url"

	"github.com/ferry-dev/ferry/internal/core"
	"github.com/ferry-dev/ferry/internal/httpx"
)

// Mirror mode on App ID: the instance's user profiles.
//
//	list    the App ID Source for the same endpoint (extract/list.go): users/export,
//	        every profile whatever its identity provider, matched by email
//	remove  DELETE /users/{id} (204; a 404 means already gone)
//
// A profile is matched by its email, the name the App ID decoder derives userName from.
// A profile without an email (App ID issues new ids on import, so the id matches nothing
// in the source) cannot be matched and is never removed.
//
// Cloud Directory targets are not mirrored: deleting a profile leaves the Cloud Directory
// user, and deleting that user is a different API this sink does not speak.

var (
	_ core.Mirrored = (*AppID)(nil)
	_ core.Remover  = (*AppID)(nil)
)

// MirrorScope implements core.Mirrored: the App ID Source for the same endpoint lists
// the instance's profiles. A Cloud Directory sink is refused (see above), before mirror
// mode reads anything.
func (a *AppID) MirrorScope() (url.Values, error) {
	if a.cd {
		return nil, fmt.Errorf("appid: mirror mode removes profiles, not Cloud Directory users: use a profiles target (without cloud_directory=true): %w", core.ErrUsage)
	}
	return nil, nil
}

// RemoveUsers implements core.Remover: DELETE /users/{id}, a few at a time (the
// instance's shared limiter keeps them under 50 requests/s).
func (a *AppID) RemoveUsers(ctx context.Context, users []core.TargetUser) ([]error, error) {
	return eachUser(ctx, users, 4, func(ctx context.Context, u core.TargetUser) error {
		_, err := a.c.Do(ctx, &httpx.Request{Method: http.MethodDelete, Path: "users/" + url.PathEscape(u.ID),
			AllowStatus: []int{http.StatusNotFound}})
		if err != nil {
			return fmt.Errorf("appid: delete user %s: %w", u.ID, err)
		}
		return nil
	})
}
