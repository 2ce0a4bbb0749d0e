package appidapi

import (
	"context"
	"fmt"
	"net/url"

	"github.com/ferry-dev/ferry/internal/core"
	"github.com/ferry-dev/ferry/internal/httpx"
)

// An instance's catalog (Management API v4): roles are {name, description,
// access:[{application_id, scopes}]}, and application ids are client ids, issued per
// instance. A catalog therefore names applications by name (core.Permission.Resource),
// and each instance maps them back to its own ids. The source and the sink read it here.

// App is an application of the instance.
type App struct {
	ClientID string `json:"clientId"`
	Name     string `json:"name"`
}

// Access is what a role grants in one application.
type Access struct {
	ApplicationID string   `json:"application_id"`
	Scopes        []string `json:"scopes"`
}

// Role is a role as the API holds it (ID is empty in a create request).
type Role struct {
	ID          string   `json:"id,omitempty"`
	Name        string   `json:"name"`
	Description string   `json:"description,omitempty"`
	Access      []Access `json:"access"`
}

// Apps is GET /applications.
func Apps(ctx context.Context, c *httpx.Client) ([]App, error) {
	var out struct {
		Applications []App `json:"applications"`
	}
	if err := c.GetJSON(ctx, "applications", nil, &out); err != nil {
		return nil, fmt.Errorf("appid: list applications: %w", err)
	}
	return out.Applications, nil
}

// Roles is GET /roles.
func Roles(ctx context.Context, c *httpx.Client) ([]Role, error) {
	var out struct {
		Roles []Role `json:"roles"`
	}
	if err := c.GetJSON(ctx, "roles", nil, &out); err != nil {
		return nil, fmt.Errorf("appid: list roles: %w", err)
	}
	return out.Roles, nil
}

// Scopes is GET /applications/{clientId}/scopes.
func Scopes(ctx context.Context, c *httpx.Client, clientID string) ([]string, error) {
	var out struct {
		Scopes []string `json:"scopes"`
	}
	if err := c.GetJSON(ctx, "applications/"+url.PathEscape(clientID)+"/scopes", nil, &out); err != nil {
		return nil, fmt.Errorf("appid: read scopes of application %s: %w", clientID, err)
	}
	return out.Scopes, nil
}

// UnlistedApp names the application of a grant whose id the instance's listing does not
// show: the grant stays visible (a preflight reports it missing) instead of vanishing.
func UnlistedApp(clientID string) string { return "client:" + clientID }

// Catalog reads the instance's roles with the scopes they grant, and every
// application's scopes, applications named by name. Two applications of one name are
// refused: a catalog keyed by name could not tell their grants apart.
func Catalog(ctx context.Context, c *httpx.Client) (*core.Catalog, error) {
	apps, err := Apps(ctx, c)
	if err != nil {
		return nil, err
	}
	names := make(map[string]string, len(apps))
	byName := make(map[string]string, len(apps))
	cat := &core.Catalog{Roles: []core.Role{}}
	for _, app := range apps {
		if other, dup := byName[app.Name]; dup {
			return nil, fmt.Errorf("appid: applications %s and %s are both named %q: roles cannot be mapped by name", other, app.ClientID, app.Name)
		}
		names[app.ClientID], byName[app.Name] = app.Name, app.ClientID
		sc, err := Scopes(ctx, c, app.ClientID)
		if err != nil {
			return nil, err
		}
		for _, s := range sc {
			cat.Scopes = append(cat.Scopes, core.Permission{Resource: app.Name, Scope: s})
		}
	}
	roles, err := Roles(ctx, c)
	if err != nil {
		return nil, err
	}
	for _, r := range roles {
		role := core.Role{Name: r.Name, Description: r.Description}
		for _, acc := range r.Access {
			res, ok := names[acc.ApplicationID]
			if !ok {
				res = UnlistedApp(acc.ApplicationID)
			}
			for _, s := range acc.Scopes {
				role.Permissions = append(role.Permissions, core.Permission{Resource: res, Scope: s})
			}
		}
		cat.Roles = append(cat.Roles, role)
	}
	return cat, nil
}
