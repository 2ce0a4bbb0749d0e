package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/ferry-dev/ferry/internal/core"
	"github.com/ferry-dev/ferry/internal/pipeline"
	"github.com/ferry-dev/ferry/run"
	"github.com/segmentio/encoding/json"
)

func init() {
	commands["migrate"] = command{"export users from SRC, normalize them, import them into DST", cmdMigrate}
}

// runFlags are the flags shared by migrate and plan: a run.Job, and what the command
// line spells its own way.
type runFlags struct {
	job               run.Job
	since             string
	noProgress, json  bool
	noPictureOverride bool
	encryptTo         stringList
}

// stringList is a repeatable flag.
type stringList []string

func (l *stringList) String() string     { return strings.Join(*l, ",") }
func (l *stringList) Set(v string) error { *l = append(*l, v); return nil }

func (f *runFlags) register(fs *flag.FlagSet) {
	j := &f.job
	fs.StringVar(&j.From, "from", "", "source: auth0://TENANT, appid://REGION/TENANT, scim+https://HOST/BASE, a file (.ndjson, .json, .gz) or - for stdin; credentials from the environment, FERRY_FROM_NAME before NAME (e.g. FERRY_FROM_SCIM_TOKEN)")
	fs.StringVar(&j.To, "to", "", "target: same forms as --from; - for stdout; credentials FERRY_TO_NAME before NAME")
	fs.StringVar(&j.FromFormat, "from-format", "", "record format of a source file: scim (default), auth0, auth0-import, appid, appid-cd, oidc")
	fs.StringVar(&j.ToFormat, "to-format", "", "record format of a target file: scim (default), auth0, auth0-import, appid, appid-cd")
	fs.IntVar(&j.Concurrency, "concurrency", 4, "target writers at once")
	fs.IntVar(&j.Workers, "workers", 0, "transform workers (default: one per CPU)")
	fs.IntVar(&j.Batch, "batch-size", 0, "users per batch (default 500, or less where the target demands)")
	fs.BoolVar(&j.Upsert, "upsert", false, "update users that already exist in the target instead of rejecting them")
	fs.BoolVar(&j.DryRun, "dry-run", false, "read and transform everything, write nothing, report what would happen")
	fs.BoolVar(&j.DropUnknownExtensions, "drop-unknown-extensions", false, "write users to a SCIM target without the schema extensions it does not declare (their values go to the change log); without it such a run is refused before writing (exit 3)")
	fs.StringVar(&j.Rejects, "rejects", "", "write rejected records with their reasons to this NDJSON file")
	fs.StringVar(&j.Changes, "changes", "", "write every change made to a user (with the original value) to this NDJSON file")
	fs.StringVar(&j.Resume, "resume", "", "keep progress in this state file (and STATE.journal, a line per committed batch) and continue from it after a crash")
	fs.StringVar(&f.since, "since", "", "only users changed since this time (RFC 3339, or a duration like 24h)")
	fs.BoolVar(&f.noProgress, "no-progress", false, "no progress display")
	fs.BoolVar(&f.json, "json", false, "print one JSON summary object on stdout")
	registerPolicy(fs, j, &f.noPictureOverride)
	fs.Var(&f.encryptTo, "encrypt-to", "encrypt a backup file to this age recipient (age1...); repeatable. Reading it back needs FERRY_AGE_IDENTITY_FILE")
}

// finish completes the Job from the flags the command line spells its own way.
func (f *runFlags) finish(label string) error {
	if f.since != "" {
		t, err := parseSince(f.since, time.Now())
		if err != nil {
			return err
		}
		f.job.Since = t
	}
	f.job.EncryptTo = f.encryptTo
	f.job.Policy.PictureOverride = !f.noPictureOverride
	if !f.noProgress {
		f.job.Progress = label
	}
	return nil
}

const migrateExamples = `  # nightly backup of an Auth0 tenant
  ferry migrate --from auth0://acme.eu.auth0.com --to backup-$(date +%F).ndjson.gz --json --no-progress
  # restore a backup into an App ID instance
  ferry migrate --from backup.ndjson.gz --to appid://eu-gb/TENANT_ID --rejects rejects.ndjson
  # convert an Auth0 export file into the bulk-import format
  ferry migrate --from export.ndjson --from-format auth0 --to import.json --to-format auth0-import`

func cmdMigrate(ctx context.Context, e *env, args []string) int {
	var f runFlags
	fs := newFlags(e, "migrate", "ferry migrate --from SRC --to DST [flags]", migrateExamples)
	f.register(fs)
	m := &f.job.Mirror
	fs.BoolVar(&m.On, "mirror", false, "also remove target users that are no longer in the source (only after a complete, successful read; SCIM targets are deactivated, not deleted)")
	fs.IntVar(&m.MaxDelete, "max-delete", run.DefaultMaxDelete, "with --mirror: refuse to remove more users than this without --force")
	fs.BoolVar(&m.Force, "force", false, "with --mirror: remove users even when more than --max-delete are gone from the source")
	fs.BoolVar(&m.Delete, "mirror-delete", false, "with --mirror on a SCIM target: DELETE users instead of setting active=false")
	fs.StringVar(&f.job.PlanFile, "plan", "", "a plan file from ferry plan --out: fixes each metadata field's type and the roles to check")
	if _, code, ok := parse(e, fs, args); !ok {
		return code
	}
	if f.job.From == "" || f.job.To == "" {
		fmt.Fprintln(e.stderr, "ferry migrate: --from and --to are required")
		fs.Usage()
		return exitUsage
	}
	defer tuneGC(e.getenv)()
	var res run.Result
	err := f.finish("migrate")
	if err == nil {
		res, err = run.Migrate(ctx, runEnv(e), f.job)
	}
	return report(e, &f, res, err)
}

// runEnv is what a run may touch of the command's environment.
func runEnv(e *env) run.Env {
	return run.Env{Getenv: e.getenv, Stdout: e.stdout, Log: e.stderr, Stop: e.stop}
}

// parseSince accepts an RFC 3339 time or a duration back from now.
func parseSince(s string, now time.Time) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	if d, err := time.ParseDuration(s); err == nil && d > 0 {
		return now.Add(-d), nil
	}
	return time.Time{}, fmt.Errorf("--since %q: want an RFC 3339 time or a duration like 24h: %w", s, core.ErrUsage)
}

// report prints the summary and picks the exit status.
func report(e *env, f *runFlags, res run.Result, err error) int {
	s := res.Summary
	code := exitFor(err)
	if err == nil && s.Rejected > 0 {
		code = exitRejected
	}
	out := e.stdout
	if f.job.To == "-" {
		out = e.stderr // stdout carries the users
	}
	if f.json {
		sum := struct {
			run.Result
			Status int    `json:"exit_status"`
			Error  string `json:"error,omitempty"`
		}{res, code, errString(err)}
		b, _ := json.Marshal(sum)
		fmt.Fprintln(out, string(b))
	} else if code != exitUsage {
		printSummary(out, s)
	}
	if err != nil {
		fmt.Fprintf(e.stderr, "ferry: %v\n", err)
	}
	return code
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func printSummary(w io.Writer, s pipeline.Summary) {
	verb := "written"
	if s.DryRun {
		verb = "would be written"
	}
	fmt.Fprintf(w, "read %d: %s %d (created %d, updated %d), rejected %d, skipped %d; %d changes; %.1fs (%.0f users/s)\n",
		s.Read, verb, s.Written, s.Created, s.Updated, s.Rejected, s.Skipped, s.Changes, s.Seconds, s.UsersPerSec)
	if s.Interrupted {
		fmt.Fprintf(w, "interrupted: committed up to %s\n", orNone(s.Cursor))
	}
	if s.Discarded {
		fmt.Fprintf(w, "the target file was not kept: it is written whole or not at all, so the %d users counted written are not in it\n", s.Written)
	}
}

func orNone(s string) string {
	if s == "" {
		return "(nothing)"
	}
	return s
}
