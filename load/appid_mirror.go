package load

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"

	"github.com/ferry-dev/ferry/internal/core"
	"github.com/ferry-dev/ferry/internal/httpx"
)

// Mirror mode on App ID: the instance's user profiles.
//
//	list    GET /users/export?startIndex=&count=50 (every profile, whatever its identity
//	        provider), read for id and email only
//	remove  DELETE /users/{id} (204; a 404 means already gone)
//
// A profile is matched by its email, the name the App ID decoder derives userName from.
// A profile without an email (App ID issues new ids on import, so the id matches nothing
// in the source) cannot be matched and is never removed.
//
// Cloud Directory targets are not mirrored: deleting a profile leaves the Cloud Directory
// user, and deleting that user is a different API this sink does not speak.

var (
	_ core.Lister  = (*AppID)(nil)
	_ core.Remover = (*AppID)(nil)
)

const appIDListPage = 50

// ListUsers implements core.Lister.
func (a *AppID) ListUsers(ctx context.Context, fn func(core.TargetUser) error) error {
	if a.cd {
		return fmt.Errorf("appid: mirror mode removes profiles, not Cloud Directory users: use a profiles target (without cloud_directory=true): %w", core.ErrUsage)
	}
	seen := newIDSet()
	for start := 0; ; {
		var page struct {
			TotalResults *int `json:"totalResults"`
			Users        []struct {
				ID    string `json:"id"`
				Email string `json:"email"`
			} `json:"users"`
		}
		q := url.Values{"startIndex": {strconv.Itoa(start)}, "count": {strconv.Itoa(appIDListPage)}}
		if err := a.c.GetJSON(ctx, "users/export", q, &page); err != nil {
			return fmt.Errorf("appid: list users at %d: %w", start, err)
		}
		fresh := 0
		for _, u := range page.Users {
			if u.ID != "" && seen.add(u.ID) {
				fresh++
			}
			if err := fn(core.TargetUser{ID: u.ID, UserName: u.Email, Email: u.Email}); err != nil {
				return err
			}
		}
		if len(page.Users) > 0 && fresh == 0 {
			return fmt.Errorf("appid: list users at %d: a page holds no user not listed already (paging ignored?)", start)
		}
		start += len(page.Users)
		// An empty page is the end; a short one too unless the total says otherwise (an
		// instance that caps count below what was asked).
		if len(page.Users) == 0 || len(page.Users) < appIDListPage && (page.TotalResults == nil || start >= *page.TotalResults) {
			return nil
		}
	}
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
