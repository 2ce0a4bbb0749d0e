package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/ferry-dev/ferry/extract"
	"github.com/ferry-dev/ferry/internal/checkpoint"
	"github.com/ferry-dev/ferry/internal/core"
	"github.com/ferry-dev/ferry/internal/endpoint"
	"github.com/ferry-dev/ferry/internal/pipeline"
	"github.com/ferry-dev/ferry/internal/progress"
	"github.com/ferry-dev/ferry/load"
	"github.com/ferry-dev/ferry/schemas"
	"github.com/ferry-dev/ferry/transform"
	"github.com/segmentio/encoding/json"
)

func init() {
	commands["migrate"] = command{"export users from SRC, normalize them, import them into DST", cmdMigrate}
}

// runFlags are the flags shared by migrate and plan.
type runFlags struct {
	from, to, fromFormat, toFormat string
	concurrency, workers, batch    int
	upsert, dryRun                 bool
	dropUnknownExt                 bool
	rejects, changes, resume       string
	since                          string
	noProgress, json               bool
	encryptTo                      stringList
	policy                         policyFlags
	mirror                         mirrorFlags
}

// stringList is a repeatable flag.
type stringList []string

func (l *stringList) String() string     { return strings.Join(*l, ",") }
func (l *stringList) Set(v string) error { *l = append(*l, v); return nil }

func (f *runFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.from, "from", "", "source: auth0://TENANT, appid://REGION/TENANT, scim+https://HOST/BASE, a file (.ndjson, .json, .gz) or - for stdin")
	fs.StringVar(&f.to, "to", "", "target: same forms as --from; - for stdout")
	fs.StringVar(&f.fromFormat, "from-format", "", "record format of a source file: scim (default), auth0, auth0-import, appid, appid-cd, oidc")
	fs.StringVar(&f.toFormat, "to-format", "", "record format of a target file: scim (default), auth0, auth0-import, appid, appid-cd")
	fs.IntVar(&f.concurrency, "concurrency", 4, "target writers at once")
	fs.IntVar(&f.workers, "workers", 0, "transform workers (default: one per CPU)")
	fs.IntVar(&f.batch, "batch-size", 0, "users per batch (default 500, or less where the target demands)")
	fs.BoolVar(&f.upsert, "upsert", false, "update users that already exist in the target instead of rejecting them")
	fs.BoolVar(&f.dryRun, "dry-run", false, "read and transform everything, write nothing, report what would happen")
	fs.BoolVar(&f.dropUnknownExt, "drop-unknown-extensions", false, "write users to a SCIM target without the schema extensions it does not declare (their values go to the change log); without it such a run is refused before writing (exit 3)")
	fs.StringVar(&f.rejects, "rejects", "", "write rejected records with their reasons to this NDJSON file")
	fs.StringVar(&f.changes, "changes", "", "write every change made to a user (with the original value) to this NDJSON file")
	fs.StringVar(&f.resume, "resume", "", "keep progress in this state file (and STATE.journal, a line per committed batch) and continue from it after a crash")
	fs.StringVar(&f.since, "since", "", "only users changed since this time (RFC 3339, or a duration like 24h)")
	fs.BoolVar(&f.noProgress, "no-progress", false, "no progress display")
	fs.BoolVar(&f.json, "json", false, "print one JSON summary object on stdout")
	f.policy.register(fs)
	fs.Var(&f.encryptTo, "encrypt-to", "encrypt a backup file to this age recipient (age1...); repeatable. Reading it back needs FERRY_AGE_IDENTITY_FILE")
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
	f.mirror.register(fs)
	fs.StringVar(&f.policy.plan, "plan", "", "a plan file from ferry plan --out: fixes each metadata field's type and the roles to check")
	if _, code, ok := parse(e, fs, args); !ok {
		return code
	}
	if f.from == "" || f.to == "" {
		fmt.Fprintln(e.stderr, "ferry migrate: --from and --to are required")
		fs.Usage()
		return exitUsage
	}
	defer tuneGC(e.getenv)()
	s, err := migrate(ctx, e, &f, "migrate")
	return report(e, &f, s, err)
}

// migrate opens both ends and runs the pipeline.
func migrate(ctx context.Context, e *env, f *runFlags, label string) (pipeline.Summary, error) {
	var s pipeline.Summary
	src, err := extract.Open(ctx, f.from, core.Options{Format: f.fromFormat, Getenv: e.getenv, Concurrency: f.concurrency})
	if err != nil {
		return s, err
	}
	dst, err := load.Open(ctx, f.to, core.Options{Format: f.toFormat, Getenv: e.getenv, Upsert: f.upsert, Concurrency: f.concurrency, Source: src.Name(), EncryptTo: f.encryptTo, Stdout: e.stdout, DropUnknownExtensions: f.dropUnknownExt})
	if err != nil {
		return s, err
	}
	names, err := f.mirror.prepare(f, dst)
	if err != nil {
		return s, err
	}
	dec, err := transform.DecoderFor(src.Format())
	if err != nil {
		return s, fmt.Errorf("%v: %w", err, core.ErrUsage)
	}
	enc, err := transform.EncoderFor(dst.Format())
	if err != nil {
		return s, fmt.Errorf("%v: %w", err, core.ErrUsage)
	}
	var plan *transform.Plan
	if f.policy.plan != "" {
		if plan, err = transform.LoadPlan(f.policy.plan); err != nil {
			return s, fmt.Errorf("--plan: %v: %w", err, core.ErrUsage)
		}
	}
	policies, err := transform.NewPolicies(f.policy.config(f.to, dst.Format()), plan)
	if err != nil {
		return s, err
	}
	catChanges, err := preflight(ctx, e, src, dst, plan, f.policy.createRoles, f.dryRun, f.mirror.on)
	if err != nil {
		return s, err
	}
	if err := extensionPreflight(ctx, e, f, src, dst, plan); err != nil {
		return s, err
	}
	if !f.dryRun {
		if err := keepCatalog(ctx, e, src, dst); err != nil {
			return s, err
		}
	}
	cfg := pipeline.Config{
		Source: src, Sink: dst,
		Work: &transform.Work{Decoder: dec, Encoder: enc, Policies: policies,
			Validate: validateUser, Losses: lossesFor(dst), To: dst.Format()},
		Workers:     f.workers,
		Concurrency: f.concurrency,
		Batch:       core.BatchLimits{MaxCount: f.batch},
		DryRun:      f.dryRun,
		Stop:        e.stop,
		Stats:       new(pipeline.Stats),
	}
	if names != nil {
		cfg.Observe = names.observe
	}
	if f.since != "" {
		t, err := parseSince(f.since, time.Now())
		if err != nil {
			return s, err
		}
		inc, ok := src.(core.Incremental)
		if !ok {
			return s, fmt.Errorf("--since: source %s cannot select changed users: %w", src.Name(), core.ErrUsage)
		}
		if err := inc.Since(t); err != nil {
			return s, err
		}
	}
	var resumed *checkpoint.State
	var journal *checkpoint.Journal
	if f.resume != "" && !f.dryRun {
		if resumed, journal, err = setupResume(f, src, dst, &cfg); err != nil {
			return s, err
		}
		defer journal.Close()
	}
	for _, l := range []struct {
		path string
		dst  **pipeline.Log
	}{{f.rejects, &cfg.Rejects}, {f.changes, &cfg.Changes}} {
		if l.path == "" {
			continue
		}
		// A resumed run appends: the reasons recorded before the crash must survive it.
		w, err := openPrivate(l.path, resumed != nil)
		if err != nil {
			return s, err
		}
		defer w.Close()
		*l.dst = pipeline.NewLog(w)
	}
	if cfg.Changes != nil && resumed == nil {
		// The catalog's spelling changes come first, once: a resumed run logged them before.
		for i := range catChanges {
			if err := cfg.Changes.Change(&catChanges[i]); err != nil {
				return s, fmt.Errorf("--changes %s: %w", f.changes, err)
			}
		}
	}
	if resumed != nil && cfg.Rejects != nil {
		// Records replayed after the checkpoint may have been rejected before the crash.
		if r, err := os.Open(f.rejects); err == nil {
			refs, err := pipeline.ReadRejectRefs(r)
			r.Close()
			if err != nil {
				return s, fmt.Errorf("--rejects %s: %w", f.rejects, err)
			}
			cfg.Rejects.SkipRefs(refs)
		}
	}
	var total int64
	if c, ok := src.(core.Counter); ok {
		total, _ = c.Total(ctx)
	}
	stats := cfg.Stats
	stop := progress.Start(func() (int64, int64, int64, int64) {
		return stats.Read.Load(), stats.Written.Load(), stats.Rejected.Load(), stats.Skipped.Load()
	}, progress.Options{Label: label, Total: total, Disabled: f.noProgress})
	s, err = pipeline.Run(ctx, cfg)
	stop()
	if err == nil && cfg.Checkpoint != nil {
		// A finished run's state says so: the next run with the same file starts afresh,
		// and nothing is in doubt any more.
		st := stateOf(f, resumed, s.Cursor, s)
		st.Done = true
		if err = checkpoint.Save(f.resume, st); err == nil {
			err = journal.Remove()
		}
	}
	addRuns(&s, resumed)
	return s, runMirror(ctx, e, dst, names, s, err, &f.mirror, f.dryRun)
}

// addRuns makes a resumed run's summary that of the whole migration: the records the
// runs before it committed, up to the cursor it resumed from, plus its own. After any
// number of crashes the summary reads as one clean run's would.
func addRuns(s *pipeline.Summary, prev *checkpoint.State) {
	if prev == nil {
		return
	}
	if s.Cursor == "" {
		s.Cursor = prev.Cursor // this run committed nothing of its own
	}
	s.Read += prev.Read
	s.Written += prev.Written
	// A state file from before the split into created and updated counted both as written.
	s.Created += max(prev.Created, prev.Written-prev.UpdatedUsers)
	s.Updated += prev.UpdatedUsers
	s.Rejected += prev.Rejected
	s.Skipped += prev.Skipped
	s.Changes += prev.Changes
}

// setupResume restarts the source after the cursor a previous run left (the later of
// the state file's and its journal's), makes the pipeline journal every committed batch
// and every batch sent, and tells it which users an earlier run sent without committing
// (in doubt). It returns the state resumed from and the open journal.
func setupResume(f *runFlags, src core.Source, dst core.Sink, cfg *pipeline.Config) (*checkpoint.State, *checkpoint.Journal, error) {
	from, to := endpoint.Redact(f.from), endpoint.Redact(f.to)
	st, err := checkpoint.Load(f.resume, from, to)
	if err != nil {
		return nil, nil, err
	}
	jpath := checkpoint.JournalPath(f.resume)
	replay := &checkpoint.Replay{InDoubt: map[uint64]bool{}}
	if st == nil || !st.Done {
		if replay, err = checkpoint.ReadJournal(jpath); err != nil {
			return nil, nil, err
		}
		if l := replay.Last; l != nil {
			if l.From != from || l.To != to {
				return nil, nil, fmt.Errorf("checkpoint: %s: %w (from %s to %s): %w", jpath, checkpoint.ErrMismatch, l.From, l.To, core.ErrUsage)
			}
			if st == nil || l.Commits > st.Commits {
				st = l
			}
		}
	}
	if st == nil || st.Cursor == "" || st.Done {
		st = nil
	} else {
		r, ok := src.(core.Resumer)
		if !ok {
			return nil, nil, fmt.Errorf("--resume: source %s cannot restart from a position: %w", src.Name(), core.ErrUsage)
		}
		if _, isFile := dst.(core.Sequential); isFile {
			// A file target is written whole or not at all; resuming would leave out the
			// users committed before the crash.
			return nil, nil, fmt.Errorf("--resume: target %s is a file, which is rewritten from the start on each run; remove %s to start over: %w", dst.Name(), f.resume, core.ErrUsage)
		}
		if err := r.ResumeAfter(st.Cursor); err != nil {
			return nil, nil, err
		}
	}
	j, err := checkpoint.OpenJournal(jpath, replay, st)
	if err != nil {
		return nil, nil, err
	}
	var commits int64 // touched by the committer only, then by Run's end
	if st != nil {
		commits = st.Commits
	}
	cfg.Journal = func(cursor string, next int64, s pipeline.Summary) error {
		commits++
		c := stateOf(f, st, cursor, s)
		c.Commits = commits
		return j.Commit(c, next)
	}
	cfg.Checkpoint = func(cursor string, s pipeline.Summary) error {
		c := stateOf(f, st, cursor, s)
		c.Commits = commits
		return checkpoint.Save(f.resume, c)
	}
	cfg.Sent = func(items []core.Item) error {
		seqs, marks := make([]int64, len(items)), make([]uint64, len(items))
		for i := range items {
			seqs[i], marks[i] = items[i].Seq, checkpoint.Mark(items[i].Ref)
		}
		return j.Sent(seqs, marks)
	}
	if doubt := replay.InDoubt; len(doubt) > 0 {
		cfg.InDoubt = func(it core.Item) bool { return doubt[checkpoint.Mark(it.Ref)] }
	}
	return st, j, nil
}

// stateOf is the state to save: the counts of the runs before a resume plus this one's.
// (checkpoint.Save keeps the resumed-from cursor until this run commits further.)
func stateOf(f *runFlags, prev *checkpoint.State, cursor string, s pipeline.Summary) *checkpoint.State {
	st := &checkpoint.State{From: endpoint.Redact(f.from), To: endpoint.Redact(f.to), Cursor: cursor,
		Read: s.Read, Written: s.Written, Created: s.Created, UpdatedUsers: s.Updated,
		Rejected: s.Rejected, Skipped: s.Skipped, Changes: s.Changes}
	if prev != nil {
		st.Read += prev.Read
		st.Written += prev.Written
		st.Created += prev.Created
		st.UpdatedUsers += prev.UpdatedUsers
		st.Rejected += prev.Rejected
		st.Skipped += prev.Skipped
		st.Changes += prev.Changes
		if cursor == "" {
			st.Cursor = prev.Cursor
		}
	}
	return st
}

// lossesFor lists what dst cannot carry of a user: what its format has no place for, and
// what the sink itself leaves out (core.Lossy). Roles are not lost on a sink that assigns
// them itself.
func lossesFor(dst core.Sink) func(*schemas.User) []string {
	format := transform.LossesFor(dst.Format())
	lossy, _ := dst.(core.Lossy)
	_, assigns := dst.(core.RoleAssigner)
	if format == nil && lossy == nil {
		return nil
	}
	return func(u *schemas.User) []string {
		var out []string
		if format != nil {
			for _, p := range format(u) {
				if p != "roles" || !assigns {
					out = append(out, p)
				}
			}
		}
		if lossy != nil {
			out = append(out, lossy.Losses(u)...)
		}
		return out
	}
}

// validateUser is the schema check every user passes before it is encoded.
func validateUser(u *schemas.User) error {
	return schemas.Violations(schemas.Validate(u)).Err()
}

// openPrivate opens a file for user data, mode 0600 whatever the umask: truncated, or
// appended to when a resumed run continues it.
func openPrivate(path string, appendTo bool) (*os.File, error) {
	flags := os.O_CREATE | os.O_WRONLY | os.O_TRUNC
	if appendTo {
		flags = os.O_CREATE | os.O_WRONLY | os.O_APPEND
	}
	f, err := os.OpenFile(path, flags, 0o600)
	if err != nil {
		return nil, err
	}
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
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
func report(e *env, f *runFlags, s pipeline.Summary, err error) int {
	code := exitFor(err)
	if err == nil && s.Rejected > 0 {
		code = exitRejected
	}
	out := e.stdout
	if f.to == "-" {
		out = e.stderr // stdout carries the users
	}
	if f.json {
		sum := struct {
			pipeline.Summary
			Mirror *load.MirrorReport `json:"mirror,omitempty"`
			Status int                `json:"exit_status"`
			Error  string             `json:"error,omitempty"`
		}{s, f.mirror.report, code, errString(err)}
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
