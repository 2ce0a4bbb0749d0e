package load

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"sort"

	"github.com/segmentio/encoding/json"

	"github.com/ferry-dev/ferry/internal/appidapi"
	"github.com/ferry-dev/ferry/internal/core"
	"github.com/ferry-dev/ferry/internal/httpx"
)

// App ID roles and their catalog are read in internal/appidapi (the source reads them
// there too); application ids are mapped by name in each instance. Scopes are set per
// application with PUT /applications/{clientId}/scopes, which replaces the whole list
// and strips removed scopes from every role: ferry always reads, unions, then writes, and
// never drops a scope.

// Roles implements core.RoleReader.
func (a *AppID) Roles(ctx context.Context) (*core.Catalog, error) { return appidapi.Catalog(ctx, a.c) }

// CreateRoles implements core.RoleWriter: the scopes first (per application, the union of
// what it has and what is missing), then the roles. A role that exists already gets the
// missing grants added to its access, never removed. Applications are not created: their
// client ids and secrets are configuration the user owns, so a missing one is an error.
func (a *AppID) CreateRoles(ctx context.Context, missing *core.Catalog) error {
	if missing == nil {
		return nil
	}
	apps, err := appidapi.Apps(ctx, a.c)
	if err != nil {
		return err
	}
	byName := make(map[string]string, len(apps))
	for _, app := range apps {
		byName[app.Name] = app.ClientID
	}
	need := map[string][]string{} // application name -> scopes that must exist
	add := func(p core.Permission) { need[p.Resource] = append(need[p.Resource], p.Scope) }
	for _, p := range missing.Scopes {
		add(p)
	}
	for _, r := range missing.Roles {
		for _, p := range r.Permissions {
			add(p)
		}
	}
	appNames := make([]string, 0, len(need))
	for n := range need {
		appNames = append(appNames, n)
	}
	sort.Strings(appNames)
	for _, n := range appNames {
		id, ok := byName[n]
		if !ok {
			return fmt.Errorf("appid: application %q does not exist in the target: create it first (ferry does not create applications): %w", n, core.ErrAborted)
		}
		have, err := appidapi.Scopes(ctx, a.c, id)
		if err != nil {
			return err
		}
		union := union(have, need[n])
		if len(union) == len(have) {
			continue
		}
		b, _ := json.Marshal(map[string][]string{"scopes": union})
		if _, err := a.c.Do(ctx, &httpx.Request{Method: http.MethodPut, Path: "applications/" + url.PathEscape(id) + "/scopes", Body: b}); err != nil {
			return fmt.Errorf("appid: add scopes to application %q: %w", n, err)
		}
	}
	existing, err := appidapi.Roles(ctx, a.c)
	if err != nil {
		return err
	}
	byRole := make(map[string]*appidapi.Role, len(existing))
	for i := range existing {
		byRole[existing[i].Name] = &existing[i]
	}
	for _, r := range missing.Roles {
		grants := map[string][]string{}
		for _, p := range r.Permissions {
			grants[byName[p.Resource]] = append(grants[byName[p.Resource]], p.Scope)
		}
		cur := byRole[r.Name]
		if cur == nil {
			role := appidapi.Role{Name: r.Name, Description: r.Description, Access: []appidapi.Access{}}
			for _, id := range sortedKeys(grants) {
				role.Access = append(role.Access, appidapi.Access{ApplicationID: id, Scopes: union(nil, grants[id])})
			}
			b, _ := json.Marshal(role)
			if _, err := a.c.Do(ctx, &httpx.Request{Method: http.MethodPost, Path: "roles", Body: b}); err != nil {
				return fmt.Errorf("appid: create role %q: %w", r.Name, err)
			}
			continue
		}
		changed := false
		for _, id := range sortedKeys(grants) {
			found := false
			for i := range cur.Access {
				if cur.Access[i].ApplicationID == id {
					found = true
					u := union(cur.Access[i].Scopes, grants[id])
					if len(u) != len(cur.Access[i].Scopes) {
						cur.Access[i].Scopes, changed = u, true
					}
				}
			}
			if !found {
				cur.Access = append(cur.Access, appidapi.Access{ApplicationID: id, Scopes: union(nil, grants[id])})
				changed = true
			}
		}
		if !changed {
			continue
		}
		put := appidapi.Role{Name: cur.Name, Description: cur.Description, Access: cur.Access}
		b, _ := json.Marshal(put)
		if _, err := a.c.Do(ctx, &httpx.Request{Method: http.MethodPut, Path: "roles/" + url.PathEscape(cur.ID), Body: b}); err != nil {
			return fmt.Errorf("appid: add grants to role %q: %w", r.Name, err)
		}
	}
	a.rolesMu.Lock()
	a.roleIDs = nil
	a.rolesMu.Unlock()
	return nil
}

// union keeps have's order and appends what add brings that is new.
func union(have, add []string) []string {
	out := append([]string(nil), have...)
	seen := make(map[string]bool, len(have)+len(add))
	for _, s := range have {
		seen[s] = true
	}
	for _, s := range add {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}
