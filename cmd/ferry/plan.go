package main

import (
	"context"
	"fmt"

	"github.com/ferry-dev/ferry/internal/pipeline"
	"github.com/ferry-dev/ferry/load"
	"github.com/ferry-dev/ferry/run"
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
	if f.job.From == "" {
		fmt.Fprintln(e.stderr, "ferry plan: --from is required")
		fs.Usage()
		return exitUsage
	}
	if err := f.finish(""); err != nil { // no progress display: plan prints its own report
		return fail(e, "plan", err)
	}
	p, diff, s, err := run.Plan(ctx, runEnv(e), f.job)
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
	fmt.Fprintf(e.stdout, "plan: %d users read from %s\n", s.Read, f.job.From)
	if err := p.WriteText(e.stdout); err != nil {
		return fail(e, "plan", err)
	}
	if diff != nil {
		fmt.Fprintf(e.stdout, "\nroles and scopes the target lacks:\n%s", diff.Text())
	}
	return exitOK
}
