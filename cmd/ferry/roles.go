package main

import (
	"context"
	"fmt"

	"github.com/ferry-dev/ferry/extract"
	"github.com/ferry-dev/ferry/internal/core"
	"github.com/ferry-dev/ferry/load"
	"github.com/ferry-dev/ferry/transform"
	"github.com/segmentio/encoding/json"
)

func init() {
	commands["roles"] = command{"diff or copy the roles and scopes catalog between tenants", cmdRoles}
}

const rolesExamples = `  ferry roles diff --from auth0://prod.eu.auth0.com --to auth0://standby.eu.auth0.com
  ferry roles copy --from auth0://prod.eu.auth0.com --to appid://eu-gb/TENANT_ID`

func cmdRoles(ctx context.Context, e *env, args []string) int {
	fs := newFlags(e, "roles", "ferry roles diff|copy --from SRC --to DST [--json]", rolesExamples)
	from := fs.String("from", "", "source tenant")
	to := fs.String("to", "", "target tenant")
	asJSON := fs.Bool("json", false, "print the difference as JSON")
	pos, code, ok := parse(e, fs, args)
	if !ok {
		return code
	}
	if len(pos) != 1 || (pos[0] != "diff" && pos[0] != "copy") || *from == "" || *to == "" {
		fmt.Fprintln(e.stderr, "ferry roles: say diff or copy, with --from and --to")
		fs.Usage()
		return exitUsage
	}
	src, err := extract.Open(ctx, *from, core.Options{Getenv: e.getenv})
	if err != nil {
		return fail(e, "roles", err)
	}
	dst, err := load.Open(ctx, *to, core.Options{Getenv: e.getenv})
	if err != nil {
		return fail(e, "roles", err)
	}
	target, ok := dst.(core.RoleReader)
	if !ok {
		return fail(e, "roles", fmt.Errorf("target %s has no roles catalog: %w", dst.Name(), core.ErrUsage))
	}
	need, err := sourceNeeds(ctx, src, target, nil)
	if err != nil {
		return fail(e, "roles", err)
	}
	if need == nil {
		return fail(e, "roles", fmt.Errorf("source %s has no roles catalog: %w", src.Name(), core.ErrUsage))
	}
	diff, err := load.Ensure(ctx, need, target, pos[0] == "copy")
	if *asJSON {
		b, _ := json.Marshal(struct {
			Missing *load.RolesDiff `json:"missing"`
			Created bool            `json:"created"`
		}{diff, pos[0] == "copy" && err == nil && !diff.Empty()})
		fmt.Fprintln(e.stdout, string(b))
	} else if diff != nil {
		if pos[0] == "copy" && err == nil && !diff.Empty() {
			fmt.Fprint(e.stdout, "created:\n", diff.Text())
		} else {
			fmt.Fprint(e.stdout, diff.Text())
		}
	}
	if err != nil {
		return fail(e, "roles", err)
	}
	return exitOK
}

func fail(e *env, cmd string, err error) int {
	fmt.Fprintf(e.stderr, "ferry %s: %v\n", cmd, err)
	return exitFor(err)
}

// sourceNeeds is the catalog the target must hold: the source's roles that users reference
// (by the plan when there is one, else every role of the source), with their permissions,
// spelled as the target spells them. nil when the source has no catalog and no plan names
// roles.
func sourceNeeds(ctx context.Context, src core.Source, target core.RoleReader, plan *transform.Plan) (*core.Catalog, error) {
	var cat *core.Catalog
	if rr, ok := src.(core.RoleReader); ok {
		c, err := rr.Roles(ctx)
		if err != nil {
			return nil, fmt.Errorf("source %s: roles: %w", src.Name(), err)
		}
		cat = c
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
		return nil, nil
	}
	need := load.NeedCatalog(cat, names)
	if m, ok := target.(core.CatalogMapper); ok {
		need = m.MapCatalog(need)
	}
	return need, nil
}

// preflight checks, before any user is written, that the target holds the roles and scopes
// the users need; with create it makes the missing ones. Targets without a catalog (files)
// pass.
func preflight(ctx context.Context, e *env, src core.Source, dst core.Sink, plan *transform.Plan, create, dryRun bool) error {
	target, ok := dst.(core.RoleReader)
	if !ok {
		return nil
	}
	need, err := sourceNeeds(ctx, src, target, plan)
	if err != nil {
		return err
	}
	if need == nil {
		fmt.Fprintf(e.stderr, "ferry: roles not checked: %s has no roles catalog; run ferry plan --out plan.json and pass --plan plan.json\n", src.Name())
		return nil
	}
	if dryRun {
		diff, err := load.Preflight(ctx, need, target)
		if err == nil && !diff.Empty() {
			fmt.Fprintf(e.stderr, "ferry: dry run: the target lacks:\n%s", diff.Text())
		}
		return err
	}
	diff, err := load.Ensure(ctx, need, target, create)
	if err == nil && !diff.Empty() {
		fmt.Fprintf(e.stderr, "ferry: created in the target:\n%s", diff.Text())
	}
	return err
}
