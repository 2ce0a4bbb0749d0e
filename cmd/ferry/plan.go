package main

import (
	"context"
	"fmt"

	"github.com/ferry-dev/ferry/extract"
	"github.com/ferry-dev/ferry/internal/core"
	"github.com/ferry-dev/ferry/internal/pipeline"
	"github.com/ferry-dev/ferry/load"
	"github.com/ferry-dev/ferry/schemas"
	"github.com/ferry-dev/ferry/transform"
	"github.com/segmentio/encoding/json"
)

func init() {
	commands["plan"] = command{"dry run: what migrate would change, and what the target lacks", cmdPlan}
}

const planExamples = `  ferry plan --from auth0://acme.us.auth0.com --to appid://us-south/TENANT_ID
  ferry plan --from export.ndjson --from-format auth0 --to-format auth0-import --out plan.json
  ferry migrate --from export.ndjson --from-format auth0 --to import.json --to-format auth0-import --plan plan.json`

func cmdPlan(ctx context.Context, e *env, args []string) int {
	var f runFlags
	fs := newFlags(e, "plan", "ferry plan --from SRC [--to DST] [--out plan.json] [--json]", planExamples)
	f.register(fs)
	out := fs.String("out", "", "save the plan as JSON, for ferry migrate --plan")
	if _, code, ok := parse(e, fs, args); !ok {
		return code
	}
	if f.from == "" {
		fmt.Fprintln(e.stderr, "ferry plan: --from is required")
		fs.Usage()
		return exitUsage
	}
	p, diff, s, err := plan(ctx, e, &f)
	if err != nil {
		return fail(e, "plan", err)
	}
	if *out != "" {
		if err := p.Save(*out); err != nil {
			return fail(e, "plan", err)
		}
	}
	if f.json {
		b, _ := json.Marshal(struct {
			pipeline.Summary
			Plan    *transform.Plan `json:"plan"`
			Missing *load.RolesDiff `json:"missing,omitempty"`
		}{s, p, diff})
		fmt.Fprintln(e.stdout, string(b))
		return exitOK
	}
	fmt.Fprintf(e.stdout, "plan: %d users read from %s\n", s.Read, f.from)
	if err := p.WriteText(e.stdout); err != nil {
		return fail(e, "plan", err)
	}
	if diff != nil {
		fmt.Fprintf(e.stdout, "\nroles and scopes the target lacks:\n%s", diff.Text())
	}
	return exitOK
}

// plan reads the whole source through the migrate pipeline with nothing written, learning
// each metadata field's types and what every rule would do.
func plan(ctx context.Context, e *env, f *runFlags) (*transform.Plan, *load.RolesDiff, pipeline.Summary, error) {
	var s pipeline.Summary
	to := f.to
	if to == "" {
		to = "-" // no target: the rules of a file (SCIM) target
	}
	src, err := extract.Open(ctx, f.from, core.Options{Format: f.fromFormat, Getenv: e.getenv})
	if err != nil {
		return nil, nil, s, err
	}
	dst, err := load.Open(ctx, to, core.Options{Format: f.toFormat, Getenv: e.getenv, Stdout: e.stderr, DropUnknownExtensions: true})
	if err != nil {
		return nil, nil, s, err
	}
	dec, err := transform.DecoderFor(src.Format())
	if err != nil {
		return nil, nil, s, fmt.Errorf("%v: %w", err, core.ErrUsage)
	}
	enc, err := transform.EncoderFor(dst.Format())
	if err != nil {
		return nil, nil, s, fmt.Errorf("%v: %w", err, core.ErrUsage)
	}
	pcfg := f.policy.config(to, dst.Format())
	policies, err := transform.NewPolicies(pcfg, nil)
	if err != nil {
		return nil, nil, s, err
	}
	planner := transform.NewPlanner()
	planner.Config = pcfg
	s, err = pipeline.Run(ctx, pipeline.Config{
		Source: src, Sink: dst, DryRun: true, Stop: e.stop,
		Work: &transform.Work{Decoder: dec, Encoder: enc, Policies: policies,
			Validate: validateUser, Losses: lossesFor(dst), To: dst.Format()},
		Workers: f.workers,
		Observe: func(u *schemas.User, changes []transform.Change, err error) {
			planner.Observe(u, changes, err)
		},
	})
	if err != nil {
		return nil, nil, s, err
	}
	p := planner.Result()
	if sc, ok := src.(*extract.SCIM); ok {
		p.SourceServer = sc.Server(ctx).Summary()
	}
	var diff *load.RolesDiff
	if target, ok := dst.(core.RoleReader); ok {
		need, _, err := sourceNeeds(ctx, e, src, target, p)
		if err != nil {
			return nil, nil, s, err
		}
		if need != nil {
			if diff, err = load.Preflight(ctx, need, target); err != nil {
				return nil, nil, s, err
			}
		}
	}
	return p, diff, s, nil
}
