package extract

import (
	"context"
	"slices"
	"sync"

	"github.com/ferry-dev/ferry/internal/auth0api"
	"github.com/ferry-dev/ferry/internal/core"
	"golang.org/x/sync/errgroup"
)

// The tenant's catalog and each user's roles, read through auth0api (the same lister the
// Auth0 sink reads its target's catalog with).

// roles lists the tenant's roles once.
func (a *Auth0) roles(ctx context.Context) ([]auth0api.Role, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.rolesRead {
		return a.roleList, nil
	}
	out, err := a.catalog.Roles(ctx)
	if err != nil {
		return nil, err
	}
	a.roleList, a.rolesRead = out, true
	return out, nil
}

// roleMembers maps each user id to the names of its roles, walking every role's members
// (a few roles at a time: each walk is a chain of checkpoints). The map costs a few dozen
// bytes per role assignment, the price of not asking once per user.
func (a *Auth0) roleMembers(ctx context.Context) (map[string][]string, error) {
	roles, err := a.roles(ctx)
	if err != nil {
		return nil, err
	}
	var mu sync.Mutex
	members := make(map[string][]string)
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(a.window)
	for _, r := range roles {
		g.Go(func() error {
			ids, err := a.catalog.Members(ctx, r)
			if err != nil {
				return err
			}
			mu.Lock()
			defer mu.Unlock()
			for _, id := range ids {
				members[id] = append(members[id], r.Name)
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	// Walks finish in any order: list each user's roles in the tenant's role order.
	order := make(map[string]int, len(roles))
	for i, r := range roles {
		order[r.Name] = i
	}
	for _, names := range members {
		slices.SortFunc(names, func(x, y string) int { return order[x] - order[y] })
	}
	return members, nil
}

// Roles implements core.RoleReader: roles with their permissions, and every scope of the
// tenant's own APIs.
func (a *Auth0) Roles(ctx context.Context) (*core.Catalog, error) {
	cat, _, err := a.catalog.Catalog(ctx)
	return cat, err
}
