// Package run is one ferry run from start to end: open both ends, check the target
// (roles and scopes, schema extensions), pick up after a crash, run the pipeline with the
// transform work, keep the logs and the checkpoint, then mirror. The command line parses
// flags into a Job and prints the Result; bench/ and the tests call Migrate the same way.
package run

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/ferry-dev/ferry/extract"
	"github.com/ferry-dev/ferry/internal/checkpoint"
	"github.com/ferry-dev/ferry/internal/core"
	"github.com/ferry-dev/ferry/internal/pipeline"
	"github.com/ferry-dev/ferry/internal/progress"
	"github.com/ferry-dev/ferry/load"
	"github.com/ferry-dev/ferry/transform"
)

// Job is one migration, as the command line describes it.
type Job struct {
	From, To             string // endpoints (extract.Open, load.Open)
	FromFormat, ToFormat string // record formats of files; "" for the default
	Concurrency          int    // target writers at once
	Workers              int    // transform workers; 0: one per CPU
	Batch                int    // users per batch; 0: the target's or the default
	Upsert, DryRun       bool
	// DropUnknownExtensions writes users to a SCIM target without the extensions it does
	// not declare (kept in the change log) instead of refusing the run.
	DropUnknownExtensions bool
	CreateRoles           bool      // create the roles and scopes the target lacks
	Rejects, Changes      string    // NDJSON log files; "" for none
	Resume                string    // state file; "" for none
	Since                 time.Time // only users changed since; zero for every user
	EncryptTo             []string  // age recipients of a backup file
	// Policy is the metadata rules' configuration; Rules picks the rule set: auto (by
	// target), all, or a set's name.
	Policy   transform.PolicyConfig
	Rules    string
	PlanFile string // a plan from Plan, fixing each metadata field's type and the roles
	Mirror   Mirror
	Progress string // the progress display's label; "" for none
}

// Env is what a run may touch besides the endpoints and the files its Job names.
type Env struct {
	Getenv func(string) string
	Stdout io.Writer       // a target "-" writes the users here
	Log    io.Writer       // notes for a person: what a preflight created, mirror's list
	Stop   <-chan struct{} // closed: stop reading, commit what was read
}

// Result is what a run did: the pipeline's summary, over every run of a resumed
// migration, and what mirror mode did.
type Result struct {
	pipeline.Summary
	Mirror *load.MirrorReport `json:"mirror,omitempty"`
}

// Migrate runs a Job. The error is the run's end (usage, preflight, a fatal source or
// target error, an interrupt); users refused one by one are counted in the summary.
func Migrate(ctx context.Context, env Env, job Job) (Result, error) {
	var res Result
	src, dst, work, plan, err := open(ctx, env, job)
	if err != nil {
		return res, err
	}
	names, err := job.Mirror.prepare(ctx, env, job, dst)
	if err != nil {
		return res, err
	}
	// The extension check first: it refuses with "nothing was written", and the roles
	// preflight may create roles (--create-missing-roles).
	if err := extensionPreflight(ctx, env, job, src, dst, plan); err != nil {
		return res, err
	}
	catChanges, err := preflight(ctx, env, src, dst, plan, job.CreateRoles, job.DryRun, job.Mirror.On)
	if err != nil {
		return res, err
	}
	if !job.DryRun {
		if err := keepCatalog(ctx, env, src, dst); err != nil {
			return res, err
		}
	}
	cfg := pipeline.Config{Source: src, Sink: dst, Work: work, Workers: job.Workers, Concurrency: job.Concurrency,
		Batch: core.BatchLimits{MaxCount: job.Batch}, DryRun: job.DryRun, Stop: env.Stop, Stats: new(pipeline.Stats)}
	if names != nil {
		cfg.Observe = names.observe
	}
	if !job.Since.IsZero() {
		inc, ok := src.(core.Incremental)
		if !ok {
			return res, fmt.Errorf("--since: source %s cannot select changed users: %w", src.Name(), core.ErrUsage)
		}
		if err := inc.Since(job.Since); err != nil {
			return res, err
		}
	}
	var resumed *checkpoint.State
	var journal *checkpoint.Journal
	if job.Resume != "" && !job.DryRun {
		if resumed, journal, err = setupResume(job, src, dst, &cfg); err != nil {
			return res, err
		}
		defer journal.Close()
		if names != nil && resumed != nil {
			// The resume point may come from the journal alone (a crash before the first
			// state save): this run reads only what follows it, so it must remove nobody.
			names.keep.Incomplete("this run resumes from " + job.Resume + " and does not read the users committed before it; run again without a pending checkpoint to mirror")
		}
	}
	closeLogs, err := openLogs(job, &cfg, resumed, catChanges)
	defer closeLogs()
	if err != nil {
		return res, err
	}
	s, err := runPipeline(ctx, job, src, cfg)
	if err == nil && cfg.Checkpoint != nil {
		err = finishResume(job, resumed, journal, s)
	}
	addRuns(&s, resumed)
	res.Summary = s
	res.Mirror, err = runMirror(ctx, env, dst, names, s, err, job.Mirror, job.DryRun)
	return res, err
}

// open opens both ends and makes the per-record work between them.
func open(ctx context.Context, env Env, job Job) (core.Source, core.Sink, *transform.Work, *transform.Plan, error) {
	src, err := extract.Open(ctx, job.From, core.Options{Format: job.FromFormat, Getenv: SourceEnv(env.Getenv), Concurrency: job.Concurrency})
	if err != nil {
		return nil, nil, nil, nil, err
	}
	opts := core.Options{Format: job.ToFormat, Getenv: TargetEnv(env.Getenv), Upsert: job.Upsert, Concurrency: job.Concurrency,
		Source: src.Name(), EncryptTo: job.EncryptTo, Stdout: env.Stdout, DropUnknownExtensions: job.DropUnknownExtensions}
	dst, err := load.Open(ctx, job.To, opts)
	if err != nil {
		return nil, nil, nil, nil, err
	}
	dec, err := transform.DecoderFor(src.Format())
	if err != nil {
		return nil, nil, nil, nil, fmt.Errorf("%v: %w", err, core.ErrUsage)
	}
	enc, err := transform.EncoderFor(dst.Format())
	if err != nil {
		return nil, nil, nil, nil, fmt.Errorf("%v: %w", err, core.ErrUsage)
	}
	var plan *transform.Plan
	if job.PlanFile != "" {
		if plan, err = transform.LoadPlan(job.PlanFile); err != nil {
			return nil, nil, nil, nil, fmt.Errorf("--plan: %v: %w", err, core.ErrUsage)
		}
	}
	policies, err := transform.NewPolicies(job.policyConfig(dst.Format()), plan)
	if err != nil {
		return nil, nil, nil, nil, err
	}
	work := &transform.Work{Decoder: dec, Encoder: enc, Policies: policies, Validate: ValidateUser, Losses: lossesFor(dst), To: dst.Format()}
	return src, dst, work, plan, nil
}

// runPipeline is pipeline.Run with the progress display the Job asks for.
func runPipeline(ctx context.Context, job Job, src core.Source, cfg pipeline.Config) (pipeline.Summary, error) {
	var total int64
	if c, ok := src.(core.Counter); ok {
		total, _ = c.Total(ctx)
	}
	if cfg.Stats == nil {
		cfg.Stats = new(pipeline.Stats)
	}
	stats := cfg.Stats
	stop := progress.Start(func() (int64, int64, int64, int64) {
		return stats.Read.Load(), stats.Written.Load(), stats.Rejected.Load(), stats.Skipped.Load()
	}, progress.Options{Label: job.Progress, Total: total, Disabled: job.Progress == ""})
	defer stop()
	return pipeline.Run(ctx, cfg)
}

// Plan reads the whole source through the migrate pipeline with nothing written, learning
// each metadata field's types and what every rule would do, and, for a target with a
// catalog, which roles and scopes it lacks. Without a target (To "") the rules are those
// of a SCIM file.
func Plan(ctx context.Context, env Env, job Job) (*transform.Plan, *load.RolesDiff, pipeline.Summary, error) {
	var s pipeline.Summary
	if job.To == "" {
		job.To = "-"
	}
	// Nothing is written: a "-" target must not print users, and what a target could not
	// hold is what the plan is for, not a reason to refuse.
	env.Stdout = env.Log
	job.DropUnknownExtensions, job.PlanFile, job.Upsert, job.EncryptTo = true, "", false, nil
	src, dst, work, _, err := open(ctx, env, job)
	if err != nil {
		return nil, nil, s, err
	}
	planner := transform.NewPlanner()
	planner.Config = job.policyConfig(dst.Format())
	s, err = runPipeline(ctx, job, src, pipeline.Config{Source: src, Sink: dst, Work: work, DryRun: true,
		Stop: env.Stop, Workers: job.Workers, Observe: planner.Observe})
	if err != nil {
		return nil, nil, s, err
	}
	p := planner.Result()
	if sc, ok := src.(*extract.SCIM); ok {
		p.SourceServer = sc.Server(ctx).Summary()
	}
	var diff *load.RolesDiff
	if target, ok := dst.(core.RoleReader); ok {
		need, _, err := SourceNeeds(ctx, env, src, target, p)
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

// SourceEnv and TargetEnv are the environment each end of a run reads its credentials
// from: the provider's names (AUTH0_CLIENT_SECRET, SCIM_TOKEN, APPID_APIKEY, ...), with
// FERRY_FROM_<NAME> for the source and FERRY_TO_<NAME> for the target winning when set.
// Two tenants of one provider (Auth0 production to Auth0 standby, one SCIM server to
// another) need two sets of credentials under the same names.
func SourceEnv(getenv func(string) string) func(string) string { return endEnv("FERRY_FROM_", getenv) }

// TargetEnv: see SourceEnv.
func TargetEnv(getenv func(string) string) func(string) string { return endEnv("FERRY_TO_", getenv) }

func endEnv(prefix string, getenv func(string) string) func(string) string {
	if getenv == nil {
		return nil
	}
	return func(name string) string {
		if v := getenv(prefix + name); v != "" {
			return v
		}
		return getenv(name)
	}
}
