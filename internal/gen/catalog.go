package gen

import "github.com/ferry-dev/ferry/internal/core"

// Resource servers (Auth0 API identifiers) of the synthetic catalog.
const (
	APIResource     = "https://api.example.com/"
	BillingResource = "https://billing.example.com/"
)

var catalogRoles = []struct {
	name, desc string
	perms      []core.Permission
}{
	{"admin", "Full access", []core.Permission{
		{Resource: APIResource, Scope: "read:users"}, {Resource: APIResource, Scope: "write:users"},
		{Resource: APIResource, Scope: "delete:users"}, {Resource: APIResource, Scope: "read:reports"},
		{Resource: APIResource, Scope: "write:reports"}, {Resource: BillingResource, Scope: "read:invoices"},
		{Resource: BillingResource, Scope: "write:invoices"},
	}},
	{"editor", "Edit content and reports", []core.Permission{
		{Resource: APIResource, Scope: "read:users"}, {Resource: APIResource, Scope: "read:reports"},
		{Resource: APIResource, Scope: "write:reports"},
	}},
	{"viewer", "Read-only access", []core.Permission{
		{Resource: APIResource, Scope: "read:users"}, {Resource: APIResource, Scope: "read:reports"},
	}},
	{"billing-admin", "Manage invoices", []core.Permission{
		{Resource: BillingResource, Scope: "read:invoices"}, {Resource: BillingResource, Scope: "write:invoices"},
	}},
	{"support", "Help users", []core.Permission{
		{Resource: APIResource, Scope: "read:users"}, {Resource: APIResource, Scope: "write:users"},
	}},
	{"auditor", "Read reports and invoices", []core.Permission{
		{Resource: APIResource, Scope: "read:reports"}, {Resource: BillingResource, Scope: "read:invoices"},
	}},
}

// unassignedScopes exist on a resource server but no role grants them.
var unassignedScopes = []core.Permission{
	{Resource: APIResource, Scope: "export:data"},
	{Resource: BillingResource, Scope: "refund:invoices"},
}

var defaultRoleNames = func() []string {
	out := make([]string, len(catalogRoles))
	for k, r := range catalogRoles {
		out[k] = r.name
	}
	return out
}()

// RoleNames returns the role names of Catalog, the default Options.Roles.
func RoleNames() []string { return append([]string(nil), defaultRoleNames...) }

// Catalog returns the synthetic roles and scopes catalog. Names are the same for every seed:
// two tenants seeded differently share a catalog by name while their role ids differ, as
// real tenants do. The seed is accepted so that tenant-specific variations can be added
// without changing callers.
func Catalog(seed int64) *core.Catalog {
	_ = seed
	c := &core.Catalog{}
	seen := map[core.Permission]bool{}
	for _, r := range catalogRoles {
		c.Roles = append(c.Roles, core.Role{
			Name: r.name, Description: r.desc,
			Permissions: append([]core.Permission(nil), r.perms...),
		})
		for _, p := range r.perms {
			if !seen[p] {
				seen[p] = true
				c.Scopes = append(c.Scopes, p)
			}
		}
	}
	c.Scopes = append(c.Scopes, unassignedScopes...)
	return c
}
