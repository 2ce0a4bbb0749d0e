package run

import (
	"context"
	"errors"
	"fmt"

	"github.com/ferry-dev/ferry/internal/core"
	"github.com/ferry-dev/ferry/load"
	"github.com/ferry-dev/ferry/schemas"
	"github.com/ferry-dev/ferry/transform"
	"github.com/segmentio/encoding/json"
)

// SourceNeeds is the catalog the target must hold: the source's roles that users reference
// (by the plan when there is one, else every role and scope of the source's catalog), with
// their permissions, spelled as the target spells them, and the change-log entries of
// that spelling. Every source answers: a tenant from its API, a backup from its catalog,
// another file from the roles its users reference (a first pass). Only a source that can
// do none of these (stdin) returns nil, and the caller says so.
func SourceNeeds(ctx context.Context, env Env, src core.Source, target core.RoleReader, plan *transform.Plan) (*core.Catalog, []core.Change, error) {
	var cat *core.Catalog
	if rr, ok := src.(core.RoleReader); ok {
		c, err := rr.Roles(ctx)
		switch {
		case errors.Is(err, core.ErrNoCatalog):
			if plan == nil {
				fmt.Fprintf(env.Log, "ferry: %v; checking the roles its users reference instead\n", err)
			}
		case err != nil:
			return nil, nil, fmt.Errorf("source %s: roles: %w", src.Name(), err)
		default:
			cat = c
		}
	}
	var names []string
	switch {
	case plan != nil:
		for _, r := range plan.Roles {
			names = append(names, r.Role)
		}
	case cat != nil:
		for _, r := range cat.Roles {
			names = append(names, r.Name)
		}
	default:
		sc, ok := src.(core.RoleScanner)
		if !ok {
			return nil, nil, nil
		}
		dec, err := transform.DecoderFor(src.Format())
		if err != nil {
			return nil, nil, fmt.Errorf("%v: %w", err, core.ErrUsage)
		}
		names, err = sc.ReferencedRoles(ctx, func(raw []byte) ([]string, error) {
			u, err := dec.Decode(raw)
			if err != nil {
				return nil, err
			}
			return UserRoles(u), nil
		})
		if errors.Is(err, core.ErrOnePass) {
			return nil, nil, fmt.Errorf("roles not checked: %w, so the roles its users reference cannot be listed before they are written: save it to a file, or run ferry plan on a copy with --out plan.json and pass --plan plan.json: %w", err, core.ErrUsage)
		}
		if err != nil {
			return nil, nil, err
		}
	}
	need := load.NeedCatalog(cat, names)
	if plan == nil && cat != nil {
		// A whole catalog travels whole: also the scopes no role grants (a restore of a
		// backup recreates every API's scopes, not only those in use).
		need.Scopes = unionPerms(need.Scopes, cat.Scopes)
	}
	var changes []core.Change
	if m, ok := target.(core.CatalogMapper); ok {
		changes = spellingChanges(need, m)
		mapped := m.MapCatalog(need)
		changes = append(changes, droppedChanges(need, mapped)...)
		need = mapped
	}
	return need, changes, nil
}

// RuleCatalogDropped names the change-log rule of catalog parts a target cannot hold (a
// SCIM target's roles are groups: a name and members, no description, no permissions).
const RuleCatalogDropped = "catalog-not-carried"

// droppedChanges lists what mapping need into the target's catalog left out: each role's
// description and permissions, and the scopes, with the source's values.
func droppedChanges(need, mapped *core.Catalog) []core.Change {
	if need == nil || mapped == nil {
		return nil
	}
	kept := make(map[string]core.Role, len(mapped.Roles))
	for _, r := range mapped.Roles {
		kept[r.Name] = r
	}
	var out []core.Change
	drop := func(path string, before any, note string) {
		b, _ := json.Marshal(before)
		out = append(out, core.Change{User: "(catalog)", Path: path, Rule: RuleCatalogDropped, Before: b, Note: note})
	}
	for _, r := range need.Roles {
		m, ok := kept[r.Name]
		if !ok {
			continue
		}
		if r.Description != "" && m.Description == "" {
			drop("roles["+r.Name+"].description", r.Description, "the target's roles have no description")
		}
		if len(r.Permissions) > 0 && len(m.Permissions) == 0 {
			drop("roles["+r.Name+"].permissions", r.Permissions, "the target's roles grant no permissions: members keep the role, not what it granted")
		}
	}
	if len(need.Scopes) > 0 && len(mapped.Scopes) == 0 {
		drop("scopes", need.Scopes, "the target has no scopes")
	}
	return out
}

// UserRoles names a user's roles as the planner counts them.
func UserRoles(u *schemas.User) []string {
	var out []string
	for _, r := range u.Roles {
		name := r.Value
		if name == "" {
			name = r.Display
		}
		out = append(out, name)
	}
	return out
}

func unionPerms(a, b []core.Permission) []core.Permission {
	seen := make(map[core.Permission]bool, len(a))
	for _, p := range a {
		seen[p] = true
	}
	for _, p := range b {
		if !seen[p] {
			seen[p] = true
			a = append(a, p)
		}
	}
	return a
}

// RuleScopeSpelling names the change-log rule of a scope the target spells differently.
const RuleScopeSpelling = "catalog-scope-spelling"

// spellingChanges lists, once per scope, what the target's spelling rewrites: the change
// log then holds the source's spelling of every scope it renamed.
func spellingChanges(need *core.Catalog, m core.CatalogMapper) []core.Change {
	var out []core.Change
	seen := map[core.Permission]bool{}
	check := func(p core.Permission) {
		if seen[p] {
			return
		}
		seen[p] = true
		mapped := m.MapCatalog(&core.Catalog{Scopes: []core.Permission{p}})
		if mapped == nil || len(mapped.Scopes) != 1 || mapped.Scopes[0] == p {
			return
		}
		before, _ := json.Marshal(p.Scope)
		after, _ := json.Marshal(mapped.Scopes[0].Scope)
		out = append(out, core.Change{User: "(catalog)", Path: "scopes[" + p.Resource + "]", Rule: RuleScopeSpelling,
			Before: before, After: after, Note: "the target does not accept the source's spelling of this scope; roles granting it grant the new spelling"})
	}
	for _, p := range need.Scopes {
		check(p)
	}
	for _, r := range need.Roles {
		for _, p := range r.Permissions {
			check(p)
		}
	}
	return out
}

// preflight checks, before any user is written, that the target holds the roles and scopes
// the users need; with create it makes the missing ones. Targets without a catalog (files)
// pass. It returns the change-log entries of what the target spells differently or cannot
// hold. With mirror, a target that mirrors memberships (core.MembershipMirror) is told the
// roles the source knows.
func preflight(ctx context.Context, env Env, src core.Source, dst core.Sink, plan *transform.Plan, create, dryRun, mirror bool) ([]core.Change, error) {
	target, ok := dst.(core.RoleReader)
	if !ok {
		return nil, nil
	}
	need, changes, err := SourceNeeds(ctx, env, src, target, plan)
	if mm, ok := dst.(core.MembershipMirror); ok && mirror && err == nil && need != nil && !dryRun {
		names := make([]string, 0, len(need.Roles))
		for _, r := range need.Roles {
			names = append(names, r.Name)
		}
		mm.MirrorMemberships(names)
	}
	if dryRun && errors.Is(err, core.ErrOnePass) {
		// A dry run writes nothing: it says what the real run will refuse, and goes on.
		fmt.Fprintf(env.Log, "ferry: dry run: %v\n", err)
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if need == nil {
		fmt.Fprintf(env.Log, "ferry: roles not checked: %s has no roles catalog and cannot list its users' roles in a first pass; run ferry plan --out plan.json and pass --plan plan.json\n", src.Name())
		return nil, nil
	}
	if dryRun {
		diff, err := load.Preflight(ctx, need, target)
		if err == nil && !diff.Empty() {
			fmt.Fprintf(env.Log, "ferry: dry run: the target lacks:\n%s", diff.Text())
		}
		return changes, err
	}
	diff, err := load.Ensure(ctx, need, target, create)
	if err == nil && !diff.Empty() {
		fmt.Fprintf(env.Log, "ferry: created in the target:\n%s", diff.Text())
	}
	return changes, err
}

// keepCatalog hands the source's catalog to a sink that stores it (a backup file), so
// the backup can restore roles, scopes and memberships. A source without one is said.
func keepCatalog(ctx context.Context, env Env, src core.Source, dst core.Sink) error {
	k, ok := dst.(core.CatalogKeeper)
	if !ok {
		return nil
	}
	rr, ok := src.(core.RoleReader)
	if !ok {
		fmt.Fprintf(env.Log, "ferry: %s has no roles catalog: the backup holds the users and their role names only\n", src.Name())
		return nil
	}
	cat, err := rr.Roles(ctx)
	if errors.Is(err, core.ErrNoCatalog) {
		fmt.Fprintf(env.Log, "ferry: %v: the backup holds the users and their role names only\n", err)
		return nil
	}
	if err != nil {
		return fmt.Errorf("source %s: roles catalog for the backup: %w", src.Name(), err)
	}
	if err := k.KeepCatalog(cat); err != nil {
		fmt.Fprintf(env.Log, "ferry: %v\n", err)
	}
	return nil
}
