package run

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/url"

	"github.com/ferry-dev/ferry/extract"
	"github.com/ferry-dev/ferry/internal/checkpoint"
	"github.com/ferry-dev/ferry/internal/core"
	"github.com/ferry-dev/ferry/internal/endpoint"
	"github.com/ferry-dev/ferry/internal/pipeline"
	"github.com/ferry-dev/ferry/load"
	"github.com/ferry-dev/ferry/schemas"
)

// Mirror mode (ferry migrate --mirror): after a complete run, remove from the target the
// users that no longer exist in the source. The pipeline's Observe hook collects every
// source user's keys while it runs; runMirror then hands them, with the target listed by
// the Source for its endpoint, to load.Mirror, which holds the guards (max-delete,
// complete listing, deactivate rather than delete on SCIM).

// Mirror is a Job's mirror mode.
type Mirror struct {
	On        bool
	MaxDelete int  // refuse to remove more users than this without Force
	Force     bool // remove them anyway
	Delete    bool // a SCIM target: DELETE users instead of setting active=false
}

// DefaultMaxDelete is small on purpose: a nightly clone loses a few users a day; losing
// many at once is far more often a wrong source than a real exodus.
const DefaultMaxDelete = 10

// prepare checks the mirror settings against the run before anything is read or
// written, and returns the collector for the pipeline's Observe hook with the target's
// lister (nil without --mirror).
func (m Mirror) prepare(ctx context.Context, env Env, job Job, dst core.Sink) (*sourceNames, error) {
	if !m.On {
		if m.Force || m.Delete {
			return nil, fmt.Errorf("--force and --mirror-delete only apply with --mirror: %w", core.ErrUsage)
		}
		return nil, nil
	}
	if m.MaxDelete < 0 {
		return nil, fmt.Errorf("--max-delete %d: want 0 or more: %w", m.MaxDelete, core.ErrUsage)
	}
	if !job.Since.IsZero() {
		return nil, fmt.Errorf("--mirror needs every source user, and --since reads only the changed ones: %w", core.ErrUsage)
	}
	mirrored, ok := dst.(core.Mirrored)
	if !ok {
		return nil, cannotList(dst)
	}
	_, canRemove := dst.(core.Remover)
	_, canDeactivate := dst.(core.Deactivator)
	switch {
	case !canRemove && !canDeactivate:
		return nil, fmt.Errorf("--mirror: target %s cannot remove users: %w", dst.Name(), core.ErrUsage)
	case m.Delete && !canRemove:
		return nil, fmt.Errorf("--mirror-delete: target %s cannot delete users: %w", dst.Name(), core.ErrUsage)
	case m.Delete && !canDeactivate:
		return nil, fmt.Errorf("--mirror-delete applies to SCIM targets, which otherwise deactivate; %s always deletes: %w", dst.Name(), core.ErrUsage)
	}
	names := newSourceNames()
	var err error
	if names.list, err = targetLister(ctx, env, job.To, dst, mirrored); err != nil {
		return nil, err
	}
	if job.Resume != "" && !job.DryRun {
		// A resumed run reads only what follows the checkpoint: it copies the rest, but it
		// has not seen every source user, so it must not remove any.
		st, err := checkpoint.Load(job.Resume, endpoint.Redact(job.From), endpoint.Redact(job.To))
		if err == nil && st != nil && st.Cursor != "" && !st.Done {
			names.keep.Incomplete("this run resumes from " + job.Resume + " and does not read the users committed before it; run again without a pending checkpoint to mirror")
		}
	}
	return names, nil
}

// targetLister opens the Source for the target's endpoint, scoped to the users the Sink
// writes, with the target's credentials: mirror mode lists the target with the code that
// reads it as a source.
func targetLister(ctx context.Context, env Env, to string, dst core.Sink, m core.Mirrored) (core.Lister, error) {
	scope, err := m.MirrorScope()
	if err != nil {
		return nil, fmt.Errorf("--mirror: %w", err)
	}
	if len(scope) > 0 {
		u, err := url.Parse(to)
		if err != nil {
			return nil, fmt.Errorf("--mirror: target %s: %v: %w", endpoint.Redact(to), err, core.ErrUsage)
		}
		q := u.Query()
		maps.Copy(q, scope)
		u.RawQuery = q.Encode()
		to = u.String()
	}
	// The endpoint's default format: a sink's format (auth0-import) is not what it lists.
	src, err := extract.Open(ctx, to, core.Options{Getenv: TargetEnv(env.Getenv)})
	if err != nil {
		return nil, fmt.Errorf("--mirror: open target %s to list its users: %w", dst.Name(), err)
	}
	l, ok := src.(core.Lister)
	if !ok {
		return nil, cannotList(dst)
	}
	return l, nil
}

func cannotList(dst core.Sink) error {
	return fmt.Errorf("--mirror: target %s cannot list its users (mirror an Auth0, App ID or SCIM target): %w", dst.Name(), core.ErrUsage)
}

// sourceNames collects the keys of every source user, as the pipeline's Observe hook,
// and holds the lister of the target they are matched against.
type sourceNames struct {
	keep *load.KeepSet
	list core.Lister
}

func newSourceNames() *sourceNames { return &sourceNames{keep: load.NewKeepSet()} }

// observe records a user's userName, emails and source id, whatever became of the user
// afterwards (a user the target rejected is still in the source, and stays). A record
// that could not be decoded arrives as a User holding only its position in ID: the
// source is then not known completely, and mirror mode will refuse.
func (c *sourceNames) observe(u *schemas.User, _ []core.Change, _ error) {
	if u == nil {
		c.keep.Incomplete("a record the pipeline could not name")
		return
	}
	if u.UserName == "" {
		ref := u.Ref()
		if ref == "" {
			ref = "a record"
		}
		c.keep.Incomplete(ref + " could not be read as a user with a userName")
		return
	}
	c.keep.Add(u.UserName)
	for _, e := range u.Emails {
		c.keep.Add(e.Value)
	}
	if u.Ferry != nil {
		c.keep.Add(u.Ferry.SourceID)
	}
}

// runMirror runs mirror mode after the pipeline: only when the run succeeded, was not
// interrupted and every source record was read as a user. It prints what it did (the
// full list in a dry run) to env.Log and returns the report (nil when it did not list).
func runMirror(ctx context.Context, env Env, dst core.Sink, names *sourceNames, summary pipeline.Summary, runErr error, m Mirror, dryRun bool) (*load.MirrorReport, error) {
	if names == nil || !m.On {
		return nil, runErr
	}
	switch {
	case runErr != nil && !errors.Is(runErr, pipeline.ErrInterrupted):
		fmt.Fprintln(env.Log, "mirror: nothing removed: the run failed")
		return nil, runErr // the run's own error says why; its exit status stands
	case runErr != nil || summary.Interrupted:
		fmt.Fprintln(env.Log, "mirror: nothing removed: the run was interrupted")
		if runErr != nil {
			return nil, runErr
		}
		return nil, pipeline.ErrInterrupted
	}
	if ok, why := names.keep.Complete(); !ok {
		return nil, fmt.Errorf("%w: nothing removed: the source was not read completely: %s", load.ErrMirrorRefused, why)
	}
	rep, err := load.Mirror(ctx, names.list, dst, names.keep, load.MirrorConfig{
		MaxDelete: m.MaxDelete, Force: m.Force, DryRun: dryRun, Delete: m.Delete,
	})
	printMirror(env.Log, dst, &rep)
	if err != nil {
		return &rep, err // printed by the caller, with the run's summary
	}
	if rep.Failed > 0 {
		return &rep, fmt.Errorf("mirror: %d of %d users could not be %s (see above): %w", rep.Failed, rep.Candidates, pastTense(rep.Action), core.ErrAborted)
	}
	return &rep, nil
}

func pastTense(action string) string {
	if action == "remove" {
		return "removed"
	}
	return action + "d"
}

// printMirror writes the report for a person: counts, then every user concerned.
func printMirror(w io.Writer, dst core.Sink, r *load.MirrorReport) {
	if r.Action == "" {
		return // refused before listing
	}
	fmt.Fprintf(w, "mirror: %d users in %s: %d in the source, %d gone from it", r.Listed, dst.Name(), r.Kept, r.Candidates)
	if r.AlreadyInactive > 0 {
		fmt.Fprintf(w, " (and %d gone but already inactive)", r.AlreadyInactive)
	}
	if r.Unidentified > 0 {
		fmt.Fprintf(w, "; %d without a name to match by, kept", r.Unidentified)
	}
	fmt.Fprintln(w)
	if r.DryRun {
		fmt.Fprintf(w, "mirror (dry run): would %s %d users:\n", r.Action, r.Candidates)
		if r.OverLimit {
			fmt.Fprintf(w, "mirror (dry run): that is more than --max-delete %d: the real run refuses without --force\n", r.MaxDelete)
		}
	} else if r.Removed+r.Failed > 0 {
		fmt.Fprintf(w, "mirror: %s %d users, %d failed\n", pastTense(r.Action), r.Removed, r.Failed)
	}
	if !r.DryRun && r.Removed+r.Failed == 0 {
		return // refused: the error names the first users
	}
	for _, u := range r.Users {
		line := fmt.Sprintf("  %-16s %q (id %q)", u.Status, u.UserName, u.ID)
		if u.Error != "" {
			line += ": " + u.Error
		}
		fmt.Fprintln(w, line)
	}
}
