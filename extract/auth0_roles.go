package extract

import (
	"context"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"sync"

	"github.com/ferry-dev/ferry/internal/core"
	"github.com/segmentio/encoding/json"
	"golang.org/x/sync/errgroup"
)

// Roles of an Auth0 tenant: GET /api/v2/roles, /roles/{id}/permissions,
// /roles/{id}/users (checkpoint paging: from/take, required past 1,000 members) and
// /resource-servers. Role ids differ per tenant; the catalog names roles by name and
// permissions by (resource server identifier, scope value).

type auth0Role struct {
	ID          string `json:"id"`
	Name        string `json:"name"`
	Description string `json:"description"`
}

type auth0Permission struct {
	Resource string `json:"resource_server_identifier"`
	Name     string `json:"permission_name"`
}

type auth0ResourceServer struct {
	Identifier string `json:"identifier"`
	IsSystem   bool   `json:"is_system"`
	Scopes     []struct {
		Value string `json:"value"`
	} `json:"scopes"`
}

// pagedList reads every element of an offset-paged list endpoint answering
// {total, KEY:[...]} with include_totals, handing each page's raw elements to add.
func (a *Auth0) pagedList(ctx context.Context, path, key string, add func(json.RawMessage) error) error {
	var got int64
	for page := 0; ; page++ {
		q := url.Values{"page": {strconv.Itoa(page)}, "per_page": {"100"}, "include_totals": {"true"}}
		var raw map[string]json.RawMessage
		if err := a.api.GetJSON(ctx, path, q, &raw); err != nil {
			return fmt.Errorf("auth0: %s page %d: %w", path, page, err)
		}
		var total int64
		if err := json.Unmarshal(raw["total"], &total); err != nil {
			return fmt.Errorf("auth0: %s page %d: no total: %w", path, page, ErrHostile)
		}
		items, err := splitArray(raw[key])
		if err != nil {
			return fmt.Errorf("auth0: %s page %d: %q is not an array: %w", path, page, key, ErrHostile)
		}
		for _, it := range items {
			if err := add(it); err != nil {
				return fmt.Errorf("auth0: %s page %d: %w", path, page, err)
			}
		}
		got += int64(len(items))
		if len(items) == 0 || got >= total {
			return nil
		}
		if page > 100_000 {
			return fmt.Errorf("auth0: %s: more than 100000 pages: %w", path, ErrHostile)
		}
	}
}

// roles lists the tenant's roles once.
func (a *Auth0) roles(ctx context.Context) ([]auth0Role, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.rolesRead {
		return a.roleList, nil
	}
	var out []auth0Role
	err := a.pagedList(ctx, "roles", "roles", func(raw json.RawMessage) error {
		var r auth0Role
		if err := json.Unmarshal(raw, &r); err != nil || r.ID == "" || r.Name == "" {
			return fmt.Errorf("role without id or name: %w", ErrHostile)
		}
		out = append(out, r)
		return nil
	})
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
			ids, err := a.membersOf(ctx, r)
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

// membersOf reads the user ids of one role (checkpoint paging: from/take).
func (a *Auth0) membersOf(ctx context.Context, r auth0Role) ([]string, error) {
	var ids []string
	from := ""
	seen := map[string]bool{}
	for {
		q := url.Values{"take": {"100"}}
		if from != "" {
			q.Set("from", from)
		}
		var page struct {
			Users []struct {
				UserID json.RawMessage `json:"user_id"`
			} `json:"users"`
			Next string `json:"next"`
		}
		if err := a.api.GetJSON(ctx, "roles/"+url.PathEscape(r.ID)+"/users", q, &page); err != nil {
			return nil, fmt.Errorf("auth0: members of role %q: %w", r.Name, err)
		}
		for _, u := range page.Users {
			if id := idText(u.UserID); id != "" {
				ids = append(ids, id)
			}
		}
		if page.Next == "" || len(page.Users) == 0 {
			return ids, nil
		}
		if seen[page.Next] {
			return nil, fmt.Errorf("auth0: members of role %q: checkpoint %q came back twice: %w", r.Name, page.Next, ErrHostile)
		}
		seen[page.Next] = true
		from = page.Next
	}
}

// Roles implements core.RoleReader: roles with their permissions, and every scope of the
// tenant's own APIs (the system Management API is left out: it exists in every tenant
// under another identifier and cannot be copied).
func (a *Auth0) Roles(ctx context.Context) (*core.Catalog, error) {
	roles, err := a.roles(ctx)
	if err != nil {
		return nil, err
	}
	cat := &core.Catalog{Roles: make([]core.Role, 0, len(roles))}
	for _, r := range roles {
		role := core.Role{Name: r.Name, Description: r.Description}
		err := a.pagedList(ctx, "roles/"+url.PathEscape(r.ID)+"/permissions", "permissions", func(raw json.RawMessage) error {
			var p auth0Permission
			if err := json.Unmarshal(raw, &p); err != nil || p.Resource == "" || p.Name == "" {
				return fmt.Errorf("permission of role %q without resource or name: %w", r.Name, ErrHostile)
			}
			role.Permissions = append(role.Permissions, core.Permission{Resource: p.Resource, Scope: p.Name})
			return nil
		})
		if err != nil {
			return nil, err
		}
		cat.Roles = append(cat.Roles, role)
	}
	err = a.pagedList(ctx, "resource-servers", "resource_servers", func(raw json.RawMessage) error {
		var rs auth0ResourceServer
		if err := json.Unmarshal(raw, &rs); err != nil {
			return fmt.Errorf("resource server: %w", ErrHostile)
		}
		if rs.IsSystem {
			return nil
		}
		for _, s := range rs.Scopes {
			cat.Scopes = append(cat.Scopes, core.Permission{Resource: rs.Identifier, Scope: s.Value})
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return cat, nil
}
