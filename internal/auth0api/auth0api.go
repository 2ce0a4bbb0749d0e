// Package auth0api reads an Auth0 tenant's roles catalog through the Management API v2: the
// one place the Source (a tenant's catalog and its users' roles) and the Sink (the target's
// catalog, before creating what is missing) list roles, their permissions, their members
// and the resource servers with their scopes.
//
//	GET /roles?page&per_page&include_totals            {start,limit,total,roles:[{id,name,description}]}
//	GET /roles/{id}/permissions?page&per_page&...      {...,permissions:[{resource_server_identifier,permission_name}]}
//	GET /roles/{id}/users?take&from                    {users:[{user_id}],next}   (checkpoint paging)
//	GET /resource-servers?page&per_page&...            {...,resource_servers:[{id,identifier,is_system,scopes:[{value}]}]}
//
// https://auth0.com/docs/api/management/v2/roles/get-roles,
// https://auth0.com/docs/api/management/v2/roles/get-role-user (checkpoint pagination,
// required past 1,000 members), https://auth0.com/docs/api/management/v2/resource-servers.
// Role and resource server ids differ per tenant: the catalog names roles by name and
// permissions by (resource server identifier, scope value).
package auth0api

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/ferry-dev/ferry/internal/core"
	"github.com/ferry-dev/ferry/internal/httpx"
	"github.com/ferry-dev/ferry/internal/jsonstream"
	"github.com/segmentio/encoding/json"
)

// Role is a role as Auth0 lists it.
type Role struct {
	ID          string `json:"id"`
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
}

// Permission is one scope a role grants.
type Permission struct {
	Resource string `json:"resource_server_identifier"`
	Name     string `json:"permission_name"`
}

// Scope is one scope a resource server defines.
type Scope struct {
	Value       string `json:"value"`
	Description string `json:"description,omitempty"`
}

// ResourceServer is an API of the tenant.
type ResourceServer struct {
	ID         string  `json:"id,omitempty"`
	Name       string  `json:"name,omitempty"`
	Identifier string  `json:"identifier"`
	IsSystem   bool    `json:"is_system,omitempty"`
	Scopes     []Scope `json:"scopes"`
}

// Page sizes of list calls: Auth0 documents per_page ≤ 100, the general pagination docs
// say 50 on the public cloud. 100 is tried first; a 400 naming per_page drops to 50.
const (
	perPageMax      = 100
	perPageFallback = 50
	// maxPages bounds a list whose answers never say it ended.
	maxPages = 100_000
)

// Lister lists a tenant's catalog through c, which carries the token and the pacing.
type Lister struct {
	c       *httpx.Client
	perPage atomic.Int32 // 0: perPageMax
}

// New returns a Lister over the Management API client c.
func New(c *httpx.Client) *Lister { return &Lister{c: c} }

// PageSize is the per_page the tenant accepts, as far as the lister has learnt it.
func (l *Lister) PageSize() int {
	if n := l.perPage.Load(); n > 0 {
		return int(n)
	}
	return perPageMax
}

// List reads every element of an offset-paged list endpoint. Auth0 answers
// {start,limit,total,KEY:[...]} with include_totals, a bare array without (older tenants,
// some proxies); the list ends at total, or at a short page when there is none. An answer
// that cannot end a naive reader's loop (the same page again, KEY not an array) is
// core.ErrHostile.
func List[T any](ctx context.Context, l *Lister, path, key string, q url.Values) ([]T, error) {
	var out []T
	var prev []byte
	for page := 0; page < maxPages; page++ {
		raw, items, total, err := listPage[T](ctx, l, path, key, q, page)
		if err != nil {
			return nil, fmt.Errorf("auth0: GET %s page %d: %w", path, page, err)
		}
		if len(items) > 0 && bytes.Equal(raw, prev) {
			return nil, fmt.Errorf("auth0: GET %s page %d: the same page as page %d: %w", path, page, page-1, core.ErrHostile)
		}
		prev = raw
		out = append(out, items...)
		if len(items) == 0 || (total >= 0 && len(out) >= total) || (total < 0 && len(items) < l.PageSize()) {
			return out, nil
		}
	}
	return nil, fmt.Errorf("auth0: GET %s: more than %d pages: %w", path, maxPages, core.ErrHostile)
}

// Page reads one page of a list (the filters of q, and page, per_page, include_totals): its
// elements and the total, -1 when the answer gives none.
func Page[T any](ctx context.Context, l *Lister, path, key string, q url.Values, page int) ([]T, int, error) {
	_, items, total, err := listPage[T](ctx, l, path, key, q, page)
	return items, total, err
}

// listPage reads one page; raw is its elements' bytes, for telling pages apart.
func listPage[T any](ctx context.Context, l *Lister, path, key string, filters url.Values, page int) ([]byte, []T, int, error) {
	for {
		size := l.PageSize()
		q := url.Values{}
		for k, v := range filters {
			q[k] = v
		}
		q.Set("page", strconv.Itoa(page))
		q.Set("per_page", strconv.Itoa(size))
		q.Set("include_totals", "true")
		var raw json.RawMessage
		err := l.c.GetJSON(ctx, path, q, &raw)
		var se *httpx.StatusError
		if err != nil && size > perPageFallback && errors.As(err, &se) && se.Status == http.StatusBadRequest && strings.Contains(se.Body, "per_page") {
			l.perPage.Store(perPageFallback)
			continue
		}
		if err != nil {
			return nil, nil, 0, err
		}
		total := -1
		elems := bytes.TrimSpace(raw)
		if len(elems) == 0 || elems[0] != '[' {
			var env map[string]json.RawMessage
			if err := json.Unmarshal(raw, &env); err != nil {
				return nil, nil, 0, fmt.Errorf("not a JSON object or array: %w", core.ErrHostile)
			}
			if v, ok := env["total"]; ok {
				if err := json.Unmarshal(v, &total); err != nil || total < 0 {
					return nil, nil, 0, fmt.Errorf("total %.40s is not a count: %w", v, core.ErrHostile)
				}
			}
			elems = bytes.TrimSpace(env[key])
		}
		if len(elems) == 0 || bytes.Equal(elems, []byte("null")) {
			return nil, nil, total, nil
		}
		if elems[0] != '[' {
			return nil, nil, 0, fmt.Errorf("%q is not an array: %w", key, core.ErrHostile)
		}
		var items []T
		if err := json.Unmarshal(elems, &items); err != nil {
			return nil, nil, 0, fmt.Errorf("%s: %v: %w", key, err, core.ErrHostile)
		}
		return elems, items, total, nil
	}
}

// Roles lists the tenant's roles; one without an id or a name is core.ErrHostile (it could
// be neither matched nor copied).
func (l *Lister) Roles(ctx context.Context) ([]Role, error) {
	roles, err := List[Role](ctx, l, "roles", "roles", nil)
	if err != nil {
		return nil, err
	}
	for i, r := range roles {
		if r.ID == "" || r.Name == "" {
			return nil, fmt.Errorf("auth0: GET roles: role %d has no id or name: %w", i, core.ErrHostile)
		}
	}
	return roles, nil
}

// Permissions lists what role grants.
func (l *Lister) Permissions(ctx context.Context, role Role) ([]core.Permission, error) {
	perms, err := List[Permission](ctx, l, "roles/"+url.PathEscape(role.ID)+"/permissions", "permissions", nil)
	if err != nil {
		return nil, fmt.Errorf("permissions of role %q: %w", role.Name, err)
	}
	out := make([]core.Permission, 0, len(perms))
	for _, p := range perms {
		if p.Resource == "" || p.Name == "" {
			return nil, fmt.Errorf("auth0: permission of role %q without resource or name: %w", role.Name, core.ErrHostile)
		}
		out = append(out, core.Permission{Resource: p.Resource, Scope: p.Name})
	}
	return out, nil
}

// ResourceServers lists the tenant's APIs.
func (l *Lister) ResourceServers(ctx context.Context) ([]ResourceServer, error) {
	return List[ResourceServer](ctx, l, "resource-servers", "resource_servers", nil)
}

// Catalog reads the roles with their permissions, and every scope of the tenant's own APIs.
// The system Management API is left out: it exists in every tenant under another
// identifier and cannot be copied. It also returns each role's id in this tenant.
func (l *Lister) Catalog(ctx context.Context) (*core.Catalog, map[string]string, error) {
	roles, err := l.Roles(ctx)
	if err != nil {
		return nil, nil, err
	}
	cat := &core.Catalog{Roles: make([]core.Role, 0, len(roles))}
	ids := make(map[string]string, len(roles))
	for _, r := range roles {
		perms, err := l.Permissions(ctx, r)
		if err != nil {
			return nil, nil, err
		}
		cat.Roles = append(cat.Roles, core.Role{Name: r.Name, Description: r.Description, Permissions: perms})
		ids[r.Name] = r.ID
	}
	servers, err := l.ResourceServers(ctx)
	if err != nil {
		return nil, nil, err
	}
	for _, s := range servers {
		if s.IsSystem {
			continue
		}
		for _, sc := range s.Scopes {
			cat.Scopes = append(cat.Scopes, core.Permission{Resource: s.Identifier, Scope: sc.Value})
		}
	}
	return cat, ids, nil
}

// Members reads the user ids of one role, by checkpoint (from/take): offset paging stops at
// 1,000 members. A checkpoint that comes back is core.ErrHostile.
func (l *Lister) Members(ctx context.Context, role Role) ([]string, error) {
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
		if err := l.c.GetJSON(ctx, "roles/"+url.PathEscape(role.ID)+"/users", q, &page); err != nil {
			return nil, fmt.Errorf("auth0: members of role %q: %w", role.Name, err)
		}
		for _, u := range page.Users {
			if id := jsonstream.IDText(u.UserID); id != "" {
				ids = append(ids, id)
			}
		}
		if page.Next == "" || len(page.Users) == 0 {
			return ids, nil
		}
		if seen[page.Next] {
			return nil, fmt.Errorf("auth0: members of role %q: checkpoint %q came back twice: %w", role.Name, page.Next, core.ErrHostile)
		}
		seen[page.Next] = true
		from = page.Next
	}
}
