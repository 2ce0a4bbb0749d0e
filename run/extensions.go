package run

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/ferry-dev/ferry/extract"
	"github.com/ferry-dev/ferry/internal/core"
	"github.com/ferry-dev/ferry/load"
	"github.com/ferry-dev/ferry/transform"
)

// extensionPreflight refuses, before any user is written, a run whose users carry custom
// schema extensions the target does not declare, unless --drop-unknown-extensions says to
// write them without that data (which then goes to the change log). It learns the URNs
// from a plan file, from a source that declares them (a SCIM server), or by scanning a
// SCIM file source once; a source it cannot read twice (stdin) is left to the sink's
// guard, which stops the run at the first such user.
func extensionPreflight(ctx context.Context, env Env, job Job, src core.Source, dst core.Sink, plan *transform.Plan) error {
	target, ok := dst.(core.ExtensionTarget)
	if !ok || job.DropUnknownExtensions {
		return nil
	}
	var urns []string
	switch {
	case plan != nil && plan.Extensions != nil:
		for _, x := range plan.Extensions {
			urns = append(urns, x.URN)
		}
	case implementsExtensionSource(src):
		urns = src.(core.ExtensionSource).Extensions(ctx)
	case src.Format() == core.FormatSCIM && job.From != "-":
		var err error
		if urns, err = scanExtensions(ctx, env, job); err != nil {
			return err
		}
	}
	missing := target.Undeclared(urns)
	if len(missing) == 0 {
		return nil
	}
	sort.Strings(missing)
	return fmt.Errorf("%s: %w: %s (nothing was written; ferry plan lists the users and attributes per extension; rerun with --drop-unknown-extensions to write the users without it, its values kept in the change log, or declare the extension in the target)",
		dst.Name(), load.ErrExtensionUndeclared, strings.Join(missing, ", "))
}

func implementsExtensionSource(src core.Source) bool {
	_, ok := src.(core.ExtensionSource)
	return ok
}

// scanExtensions reads a SCIM file source once more, looking only at each record's
// top-level member names, for the custom extension URNs its users carry (all of them, so
// that a refusal names every one the target lacks).
func scanExtensions(ctx context.Context, env Env, job Job) ([]string, error) {
	src, err := extract.Open(ctx, job.From, core.Options{Format: job.FromFormat, Getenv: SourceEnv(env.Getenv)})
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	var urns []string
	err = src.Users(ctx, func(r core.Record) error {
		if r.Err != nil {
			return nil
		}
		for _, urn := range transform.ExtensionURNs(r.Data) {
			if !seen[urn] {
				seen[urn] = true
				urns = append(urns, urn)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("scan %s for schema extensions: %w", job.From, err)
	}
	return urns, nil
}
