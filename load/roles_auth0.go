package load

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"

	"github.com/ferry-dev/ferry/internal/auth0api"
	"github.com/ferry-dev/ferry/internal/core"
	"github.com/ferry-dev/ferry/internal/httpx"
)

// Auth0 roles, permissions and resource servers (Management API v2):
//
//	GET  /roles?page&per_page&include_totals     {start,limit,total,roles:[{id,name,description}]}
//	GET  /roles/{id}/permissions                 {...,permissions:[{resource_server_identifier,permission_name}]}
//	POST /roles {name,description}; POST /roles/{id}/permissions {permissions:[...]} (adds)
//	POST /roles/{id}/users {users:[user_id...]}  (adds; the request is all or nothing)
//	GET  /resource-servers                       {...,resource_servers:[{id,identifier,is_system,scopes:[{value,description}]}]}
//	PATCH /resource-servers/{id} {scopes:[...]}  (replaces the whole list: read, union, write)
//	POST /resource-servers {name,identifier,scopes}
//
// Role and resource server ids differ per tenant: roles are matched by name, resource
// servers by identifier, scopes by value.

// auth0API is the Management API client shared by the sink's parts; its catalog lister is
// the one the Auth0 source reads with.
type auth0API struct {
	c *httpx.Client
	*auth0api.Lister

	roleMu  sync.Mutex
	roleIDs map[string]string // role name -> id in this tenant
}

func newAuth0API(c *httpx.Client) *auth0API { return &auth0API{c: c, Lister: auth0api.New(c)} }

type (
	auth0Role   = auth0api.Role
	auth0Perm   = auth0api.Permission
	auth0Scope  = auth0api.Scope
	auth0Server = auth0api.ResourceServer
)

func firstByte(b []byte) byte {
	for _, c := range b {
		if c != ' ' && c != '\n' && c != '\r' && c != '\t' {
			return c
		}
	}
	return 0
}

// Catalog reads the tenant's roles with their permissions, and every scope of its APIs,
// and keeps the roles' ids for assigning them.
func (a *auth0API) Catalog(ctx context.Context) (*core.Catalog, error) {
	cat, ids, err := a.Lister.Catalog(ctx)
	if err != nil {
		return nil, fmt.Errorf("auth0: read the roles catalog: %w", err)
	}
	a.roleMu.Lock()
	a.roleIDs = ids
	a.roleMu.Unlock()
	return cat, nil
}

// CreateCatalog creates the scopes of missing (on their resource servers, creating a
// server that does not exist), then its roles, then adds each role's permissions.
func (a *auth0API) CreateCatalog(ctx context.Context, missing *core.Catalog) error {
	want := map[string][]string{} // resource identifier -> scopes
	add := func(p core.Permission) {
		if !slices.Contains(want[p.Resource], p.Scope) {
			want[p.Resource] = append(want[p.Resource], p.Scope)
		}
	}
	for _, p := range missing.Scopes {
		add(p)
	}
	for _, r := range missing.Roles {
		for _, p := range r.Permissions {
			add(p)
		}
	}
	for _, res := range sortedKeys(want) {
		if err := a.ensureScopes(ctx, res, want[res]); err != nil {
			return err
		}
	}
	for _, r := range missing.Roles {
		id, err := a.ensureRole(ctx, r)
		if err != nil {
			return err
		}
		if len(r.Permissions) == 0 {
			continue
		}
		body := struct {
			Permissions []auth0Perm `json:"permissions"`
		}{}
		for _, p := range r.Permissions {
			body.Permissions = append(body.Permissions, auth0Perm{Resource: p.Resource, Name: p.Scope})
		}
		// Adding a permission a role has is a no-op: safe to resend.
		if _, err := a.c.DoJSON(ctx, &httpx.Request{Method: http.MethodPost, Path: "roles/" + url.PathEscape(id) + "/permissions", Idempotent: true}, body, nil); err != nil {
			return fmt.Errorf("auth0: add permissions to role %q: %w", r.Name, err)
		}
	}
	return nil
}

// ensureScopes makes the resource server identified by res define every scope of scopes.
// PATCH replaces the whole scope list, so the list sent is what the server has plus what
// is new, and the result is read back: a scope someone added between our read and write
// would otherwise be dropped, which is retried rather than accepted.
func (a *auth0API) ensureScopes(ctx context.Context, res string, scopes []string) error {
	for attempt := 0; attempt < 3; attempt++ {
		srv, err := a.server(ctx, res)
		if err != nil {
			return err
		}
		if srv == nil {
			created, err := a.createServer(ctx, res, scopes)
			if err != nil {
				return err
			}
			if created {
				return nil
			}
			continue // someone else created it meanwhile: union into theirs
		}
		have := map[string]bool{}
		for _, s := range srv.Scopes {
			have[s.Value] = true
		}
		union := slices.Clone(srv.Scopes)
		for _, s := range scopes {
			if !have[s] {
				union = append(union, auth0Scope{Value: s, Description: s})
			}
		}
		if len(union) == len(srv.Scopes) {
			return nil
		}
		if srv.IsSystem {
			return fmt.Errorf("auth0: resource server %s is a system API: its scopes cannot be changed", res)
		}
		body := map[string]any{"scopes": union}
		if _, err := a.c.DoJSON(ctx, &httpx.Request{Method: http.MethodPatch, Path: "resource-servers/" + url.PathEscape(srv.ID)}, body, nil); err != nil {
			return fmt.Errorf("auth0: add scopes to resource server %s: %w", res, err)
		}
		after, err := a.server(ctx, res)
		if err != nil {
			return err
		}
		if after != nil && hasScopes(after, union) {
			return nil
		}
	}
	return fmt.Errorf("auth0: resource server %s: its scopes kept changing while ferry added some; nothing dropped, try again", res)
}

func hasScopes(s *auth0Server, want []auth0Scope) bool {
	have := map[string]bool{}
	for _, sc := range s.Scopes {
		have[sc.Value] = true
	}
	for _, w := range want {
		if !have[w.Value] {
			return false
		}
	}
	return true
}

func (a *auth0API) server(ctx context.Context, identifier string) (*auth0Server, error) {
	servers, err := a.ResourceServers(ctx)
	if err != nil {
		return nil, fmt.Errorf("auth0: read resource servers: %w", err)
	}
	for i := range servers {
		if servers[i].Identifier == identifier {
			return &servers[i], nil
		}
	}
	return nil, nil
}

// createServer creates a resource server; false if one with that identifier appeared
// meanwhile (409).
func (a *auth0API) createServer(ctx context.Context, identifier string, scopes []string) (bool, error) {
	body := auth0Server{Name: serverName(identifier), Identifier: identifier}
	for _, s := range scopes {
		body.Scopes = append(body.Scopes, auth0Scope{Value: s, Description: s})
	}
	resp, err := a.c.DoJSON(ctx, &httpx.Request{Method: http.MethodPost, Path: "resource-servers", Idempotent: true,
		AllowStatus: []int{http.StatusConflict}}, body, nil)
	if err != nil {
		return false, fmt.Errorf("auth0: create resource server %s: %w", identifier, err)
	}
	return resp.Status != http.StatusConflict, nil
}

// serverName derives a display name from an API identifier (usually a URL).
func serverName(identifier string) string {
	n := strings.TrimSuffix(strings.TrimPrefix(strings.TrimPrefix(identifier, "https://"), "http://"), "/")
	if n == "" {
		return identifier
	}
	return n
}

// ensureRole returns the id of the role named r.Name, creating it if needed.
func (a *auth0API) ensureRole(ctx context.Context, r core.Role) (string, error) {
	if id, err := a.roleID(ctx, r.Name, true); err != nil || id != "" {
		return id, err
	}
	var created auth0Role
	resp, err := a.c.DoJSON(ctx, &httpx.Request{Method: http.MethodPost, Path: "roles", Idempotent: true,
		AllowStatus: []int{http.StatusConflict}}, auth0Role{Name: r.Name, Description: r.Description}, &created)
	if err != nil {
		return "", fmt.Errorf("auth0: create role %q: %w", r.Name, err)
	}
	if resp.Status == http.StatusConflict || created.ID == "" {
		// Created by a retry of ours or by someone else: look it up.
		id, err := a.roleID(ctx, r.Name, true)
		if err == nil && id == "" {
			err = fmt.Errorf("auth0: create role %q: the tenant says it exists but does not list it", r.Name)
		}
		return id, err
	}
	a.roleMu.Lock()
	if a.roleIDs == nil {
		a.roleIDs = map[string]string{}
	}
	a.roleIDs[r.Name] = created.ID
	a.roleMu.Unlock()
	return created.ID, nil
}

// roleID maps a role name to its id in this tenant ("" if none). The map is read once and
// read again on a miss when refresh is set.
func (a *auth0API) roleID(ctx context.Context, name string, refresh bool) (string, error) {
	a.roleMu.Lock()
	defer a.roleMu.Unlock()
	if id, ok := a.roleIDs[name]; ok {
		return id, nil
	}
	if a.roleIDs != nil && !refresh {
		return "", nil
	}
	roles, err := a.Roles(ctx)
	if err != nil {
		return "", fmt.Errorf("auth0: read roles: %w", err)
	}
	a.roleIDs = make(map[string]string, len(roles))
	for _, r := range roles {
		a.roleIDs[r.Name] = r.ID
	}
	return a.roleIDs[name], nil
}

// assignChunk bounds the user ids of one POST /roles/{id}/users. The API documents no
// maximum beyond the 1 MB payload cap; 1,000 ids (~35 KB) stays far below it.
const assignChunk = 1000

// assignRole adds users to a role and returns, per user id that could not be assigned,
// why. A request naming one unknown user fails whole, so a failed chunk is split until
// the culprits are alone. Fatal errors (auth, network exhausted) are returned.
func (a *auth0API) assignRole(ctx context.Context, roleID string, users []string) (map[string]string, error) {
	failed := map[string]string{}
	var do func(ids []string) error
	do = func(ids []string) error {
		if len(ids) == 0 {
			return nil
		}
		if len(ids) > assignChunk {
			if err := do(ids[:assignChunk]); err != nil {
				return err
			}
			return do(ids[assignChunk:])
		}
		body := map[string][]string{"users": ids}
		// Assigning a role a user has is a no-op: safe to resend after a lost answer.
		_, err := a.c.DoJSON(ctx, &httpx.Request{Method: http.MethodPost, Path: "roles/" + url.PathEscape(roleID) + "/users", Idempotent: true}, body, nil)
		if err == nil {
			return nil
		}
		var se *httpx.StatusError
		if !errors.As(err, &se) || se.Status < 400 || se.Status >= 500 || se.Status == http.StatusUnauthorized ||
			se.Status == http.StatusForbidden || se.Status == http.StatusTooManyRequests {
			return err
		}
		if len(ids) == 1 {
			failed[ids[0]] = fmt.Sprintf("%d %s", se.Status, se.Body)
			return nil
		}
		if err := do(ids[:len(ids)/2]); err != nil {
			return err
		}
		return do(ids[len(ids)/2:])
	}
	if err := do(users); err != nil {
		return nil, err
	}
	return failed, nil
}
