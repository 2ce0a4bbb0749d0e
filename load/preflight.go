package load

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/ferry-dev/ferry/internal/core"
)

// The roles preflight runs before any user is written: the roles the users reference, and
// the scopes those roles grant, must exist in the target with exactly the same spelling
// (App ID refuses an import otherwise; Auth0 would silently leave users without roles).
// Roles match by name, scopes by (resource, scope): resource is an Auth0 resource server
// identifier or an App ID application name, never an id, since ids differ per tenant.
// `ferry roles diff|copy` run the same code alone.

// ErrRolesMissing is returned when the target lacks roles or scopes the users need and
// creating them was not asked for (exit 3).
var ErrRolesMissing = fmt.Errorf("roles or scopes missing in the target: %w", core.ErrAborted)

// RolesDiff is what the target lacks.
type RolesDiff struct {
	// MissingRoles are roles absent from the target, with every permission they grant in
	// the source.
	MissingRoles []core.Role `json:"missing_roles,omitempty"`
	// MissingPermissions are permissions roles present in the target lack, by role name.
	MissingPermissions map[string][]core.Permission `json:"missing_permissions,omitempty"`
	// MissingScopes are scopes the target does not define, by resource.
	MissingScopes map[string][]string `json:"missing_scopes,omitempty"`
	// MissingResources are resources of MissingScopes of which the target defines no scope
	// at all: most likely the resource server (application) itself is missing.
	MissingResources []string `json:"missing_resources,omitempty"`
}

// Empty reports whether the target has everything.
func (d *RolesDiff) Empty() bool {
	return d == nil || len(d.MissingRoles) == 0 && len(d.MissingPermissions) == 0 && len(d.MissingScopes) == 0
}

// Err is nil when nothing is missing, else ErrRolesMissing with the list of what is.
func (d *RolesDiff) Err() error {
	if d.Empty() {
		return nil
	}
	return &missingError{text: d.Text()}
}

type missingError struct{ text string }

func (e *missingError) Error() string {
	return ErrRolesMissing.Error() + " (rerun with --create-missing-roles to create them):\n" + e.text
}
func (e *missingError) Unwrap() error { return ErrRolesMissing }

// Text lists exactly what is missing, one item a line, in a stable order.
func (d *RolesDiff) Text() string {
	if d.Empty() {
		return "nothing missing\n"
	}
	var b strings.Builder
	for _, res := range sortedKeys(d.MissingScopes) {
		note := ""
		if slices.Contains(d.MissingResources, res) {
			note = " (the resource itself is not in the target: --create-missing-roles creates it)"
		}
		fmt.Fprintf(&b, "missing scopes on %s%s:\n", res, note)
		for _, s := range d.MissingScopes[res] {
			fmt.Fprintf(&b, "  %s\n", s)
		}
	}
	for _, r := range d.MissingRoles {
		fmt.Fprintf(&b, "missing role %q", r.Name)
		if len(r.Permissions) == 0 {
			b.WriteString(" (no permissions)\n")
			continue
		}
		b.WriteString(" with permissions:\n")
		for _, p := range r.Permissions {
			fmt.Fprintf(&b, "  %s %s\n", p.Resource, p.Scope)
		}
	}
	for _, name := range sortedKeys(d.MissingPermissions) {
		fmt.Fprintf(&b, "role %q lacks permissions:\n", name)
		for _, p := range d.MissingPermissions[name] {
			fmt.Fprintf(&b, "  %s %s\n", p.Resource, p.Scope)
		}
	}
	return b.String()
}

// Missing is the diff as a catalog a RoleWriter creates: every missing scope, every
// missing role with all its permissions, and the roles that exist with only the
// permissions they lack.
func (d *RolesDiff) Missing() *core.Catalog {
	c := &core.Catalog{}
	for _, res := range sortedKeys(d.MissingScopes) {
		for _, s := range d.MissingScopes[res] {
			c.Scopes = append(c.Scopes, core.Permission{Resource: res, Scope: s})
		}
	}
	c.Roles = append(c.Roles, d.MissingRoles...)
	for _, name := range sortedKeys(d.MissingPermissions) {
		c.Roles = append(c.Roles, core.Role{Name: name, Permissions: d.MissingPermissions[name]})
	}
	return c
}

// NeedCatalog is the part of the source catalog that users referencing names need: those
// roles with their permissions, and the scopes they grant. A name the source catalog does
// not define is still needed, as a role without permissions.
func NeedCatalog(source *core.Catalog, names []string) *core.Catalog {
	byName := map[string]*core.Role{}
	if source != nil {
		for i := range source.Roles {
			byName[source.Roles[i].Name] = &source.Roles[i]
		}
	}
	need := &core.Catalog{}
	seenRole := map[string]bool{}
	seenScope := map[core.Permission]bool{}
	sorted := slices.Clone(names)
	slices.Sort(sorted)
	for _, n := range sorted {
		if n == "" || seenRole[n] {
			continue
		}
		seenRole[n] = true
		r := core.Role{Name: n}
		if src := byName[n]; src != nil {
			r.Description = src.Description
			r.Permissions = slices.Clone(src.Permissions)
		}
		for _, p := range r.Permissions {
			if !seenScope[p] {
				seenScope[p] = true
				need.Scopes = append(need.Scopes, p)
			}
		}
		need.Roles = append(need.Roles, r)
	}
	return need
}

// Preflight reads the target's catalog and lists what of need it lacks: roles by name,
// each role's permissions, and scopes, those need lists and those its roles grant.
func Preflight(ctx context.Context, need *core.Catalog, target core.RoleReader) (*RolesDiff, error) {
	have, err := target.Roles(ctx)
	if err != nil {
		return nil, fmt.Errorf("preflight: read the target's roles: %w", err)
	}
	return Diff(need, have), nil
}

// Diff is Preflight on catalogs already read.
func Diff(need, have *core.Catalog) *RolesDiff {
	d := &RolesDiff{}
	if need == nil {
		return d
	}
	if have == nil {
		have = &core.Catalog{}
	}
	haveScope := map[core.Permission]bool{}
	haveRes := map[string]bool{}
	for _, p := range have.Scopes {
		haveScope[p], haveRes[p.Resource] = true, true
	}
	haveRole := map[string]map[core.Permission]bool{}
	for _, r := range have.Roles {
		ps := map[core.Permission]bool{}
		for _, p := range r.Permissions {
			ps[p] = true
			// A permission a role grants is a scope the target defines, even if the
			// catalog's scope list left it out.
			haveScope[p], haveRes[p.Resource] = true, true
		}
		haveRole[r.Name] = ps
	}
	missScope := map[core.Permission]bool{}
	addScope := func(p core.Permission) {
		if haveScope[p] || missScope[p] {
			return
		}
		missScope[p] = true
		if d.MissingScopes == nil {
			d.MissingScopes = map[string][]string{}
		}
		d.MissingScopes[p.Resource] = append(d.MissingScopes[p.Resource], p.Scope)
	}
	for _, p := range need.Scopes {
		addScope(p)
	}
	seen := map[string]bool{}
	for _, r := range need.Roles {
		if seen[r.Name] {
			continue
		}
		seen[r.Name] = true
		for _, p := range r.Permissions {
			addScope(p)
		}
		ps, ok := haveRole[r.Name]
		if !ok {
			r.Permissions = dedupePerms(r.Permissions)
			d.MissingRoles = append(d.MissingRoles, r)
			continue
		}
		for _, p := range dedupePerms(r.Permissions) {
			if !ps[p] {
				if d.MissingPermissions == nil {
					d.MissingPermissions = map[string][]core.Permission{}
				}
				d.MissingPermissions[r.Name] = append(d.MissingPermissions[r.Name], p)
			}
		}
	}
	for res, scopes := range d.MissingScopes {
		slices.Sort(scopes)
		if !haveRes[res] {
			d.MissingResources = append(d.MissingResources, res)
		}
	}
	slices.Sort(d.MissingResources)
	slices.SortFunc(d.MissingRoles, func(a, b core.Role) int { return strings.Compare(a.Name, b.Name) })
	return d
}

// CreateMissing creates what diff lists in target: scopes first (never dropping one the
// target has), then roles, then the permissions of roles that lacked some.
func CreateMissing(ctx context.Context, diff *RolesDiff, target core.RoleWriter) error {
	if diff.Empty() {
		return nil
	}
	if err := target.CreateRoles(ctx, diff.Missing()); err != nil {
		return fmt.Errorf("create missing roles: %w", err)
	}
	return nil
}

// Ensure is the preflight as migrate runs it: diff, then either abort with ErrRolesMissing
// or (create) create what is missing and check again that nothing is. It returns the diff
// found before any creation, for the report.
func Ensure(ctx context.Context, need *core.Catalog, target core.RoleReader, create bool) (*RolesDiff, error) {
	diff, err := Preflight(ctx, need, target)
	if err != nil || diff.Empty() {
		return diff, err
	}
	if !create {
		return diff, diff.Err()
	}
	w, ok := target.(core.RoleWriter)
	if !ok {
		return diff, fmt.Errorf("the target cannot create roles: %w", diff.Err())
	}
	if err := CreateMissing(ctx, diff, w); err != nil {
		return diff, errors.Join(err, core.ErrAborted)
	}
	after, err := Preflight(ctx, need, target)
	if err != nil {
		return diff, errors.Join(err, core.ErrAborted)
	}
	if !after.Empty() {
		return diff, fmt.Errorf("created the missing roles, yet the target still lacks: %w", after.Err())
	}
	return diff, nil
}

func dedupePerms(ps []core.Permission) []core.Permission {
	seen := map[core.Permission]bool{}
	out := ps[:0:0]
	for _, p := range ps {
		if !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
