package main

import (
	"context"
	"fmt"

	"github.com/ferry-dev/ferry/extract"
	"github.com/ferry-dev/ferry/internal/core"
	"github.com/ferry-dev/ferry/load"
	"github.com/ferry-dev/ferry/run"
	"github.com/segmentio/encoding/json"
)

func init() {
	commands["roles"] = command{"diff or copy the roles and scopes catalog between tenants", cmdRoles}
}

const rolesExamples = `  ferry roles diff --from auth0://prod.eu.auth0.com --to auth0://standby.eu.auth0.com
  ferry roles copy --from auth0://prod.eu.auth0.com --to appid://eu-gb/TENANT_ID
  ferry roles copy --from backup-2026-11-22.ndjson.gz --to auth0://standby.eu.auth0.com`

func cmdRoles(ctx context.Context, e *env, args []string) int {
	fs := newFlags(e, "roles", "ferry roles diff|copy --from SRC --to DST [--json]", rolesExamples)
	from := fs.String("from", "", "source: a tenant, a backup (its catalog), or an export file (the roles its users reference)")
	fromFormat := fs.String("from-format", "", "record format of a source file: scim (default, or the backup's), auth0, auth0-import, appid, appid-cd, oidc")
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
	src, err := extract.Open(ctx, *from, core.Options{Format: *fromFormat, Getenv: run.SourceEnv(e.getenv)})
	if err != nil {
		return fail(e, "roles", err)
	}
	dst, err := load.Open(ctx, *to, core.Options{Getenv: run.TargetEnv(e.getenv)})
	if err != nil {
		return fail(e, "roles", err)
	}
	target, ok := dst.(core.RoleReader)
	if !ok {
		return fail(e, "roles", fmt.Errorf("target %s has no roles catalog: %w", dst.Name(), core.ErrUsage))
	}
	need, _, err := run.SourceNeeds(ctx, runEnv(e), src, target, nil)
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
