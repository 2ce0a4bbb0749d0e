package load

import (
	"github.com/ferry-dev/ferry/internal/appidapi"
	"github.com/ferry-dev/ferry/internal/core"
)

var _ core.CatalogMapper = (*AppID)(nil)

// MapCatalog spells every scope as App ID accepts it ("read:users" -> "read_users").
// Resources stay as they are: App ID applications are matched by name, and an Auth0
// resource server's identifier is the name such an application carries in the target.
func (a *AppID) MapCatalog(c *core.Catalog) *core.Catalog {
	if c == nil {
		return nil
	}
	out := &core.Catalog{Scopes: mapPerms(c.Scopes)}
	for _, r := range c.Roles {
		r.Permissions = mapPerms(r.Permissions)
		out.Roles = append(out.Roles, r)
	}
	return out
}

func mapPerms(ps []core.Permission) []core.Permission {
	if ps == nil {
		return nil
	}
	out := make([]core.Permission, 0, len(ps))
	seen := map[core.Permission]bool{}
	for _, p := range ps {
		p.Scope = appidapi.Scope(p.Scope)
		if !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	return out
}
