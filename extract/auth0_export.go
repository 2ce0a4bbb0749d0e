package extract

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/ferry-dev/ferry/internal/auth0export"
	"github.com/ferry-dev/ferry/internal/core"
	"github.com/ferry-dev/ferry/internal/httpx"
	"github.com/ferry-dev/ferry/internal/jsonstream"
	"github.com/segmentio/encoding/json"
)

// The users-exports job (Auth0 "Bulk User Exports"): POST /api/v2/jobs/users-exports,
// poll GET /api/v2/jobs/{id} until "completed", then download "location", a signed URL
// to a gzipped NDJSON file valid 60 s and re-requestable from the job for 24 h.

// ErrDecompressedTooLarge is returned when an export inflates past the cap (it also
// matches httpx.ErrTooLarge).
var ErrDecompressedTooLarge = auth0export.ErrDecompressedTooLarge

// exportRestarts bounds how often a broken download (cut body, expired URL) is restarted.
const exportRestarts = 5

// emitErr carries an error of the pipeline's emit, which ends the run and is never retried.
type emitErr struct{ err error }

func (e *emitErr) Error() string { return e.err.Error() }
func (e *emitErr) Unwrap() error { return e.err }

func (a *Auth0) exportUsers(ctx context.Context, job string, members map[string][]string, emit func(core.Record) error) error {
	// Lines already committed, also skipped in a new job's file. A run that was listing
	// (offset=N) when the tenant grew past 1,000 users goes on with an export and skips
	// its first N lines. That is exact only if the file lists users in creation order, as
	// the listing does: true of the sandbox, not promised by Auth0's documentation.
	done := max(a.resume.line, a.resume.offset)
	for restarts := 0; ; restarts++ {
		loc, err := a.awaitExport(ctx, job)
		if err != nil {
			return err
		}
		n, err := a.streamExport(ctx, job, loc, done, members, emit)
		done = max(done, n)
		if err == nil {
			return nil
		}
		var ee *emitErr
		if errors.As(err, &ee) {
			return ee.err
		}
		if ctx.Err() != nil || !restartable(err) || restarts >= exportRestarts {
			return err
		}
		// A cut body, an expired URL: fetch a fresh location and skip what was emitted.
		if err := a.hooks.pause(ctx, time.Duration(restarts+1)*time.Second); err != nil {
			return err
		}
	}
}

// restartable says whether a failed download is worth another try from a fresh location.
func restartable(err error) bool {
	switch {
	case errors.Is(err, ErrDecompressedTooLarge), errors.Is(err, ErrHostile), errors.Is(err, core.ErrUsage),
		errors.Is(err, httpx.ErrTooLarge), errors.Is(err, httpx.ErrNotFound), errors.Is(err, httpx.ErrUnauthorized):
		return false
	}
	return true
}

// exportJob returns the job to read: the resumed one while Auth0 still keeps its file,
// else a new one.
func (a *Auth0) exportJob(ctx context.Context) (string, error) {
	if id := a.resume.job; id != "" {
		var j auth0export.Job
		resp, err := a.api.DoJSON(ctx, &httpx.Request{Path: "jobs/" + url.PathEscape(id),
			AllowStatus: []int{http.StatusNotFound}}, nil, &j)
		if err != nil {
			return "", fmt.Errorf("auth0: export job %s: %w", id, err)
		}
		if resp.Status == http.StatusOK && j.Type == "users_export" && j.Status != "failed" && a.fresh(j.CreatedAt) {
			return id, nil
		}
	}
	fields := auth0ExportFields
	if a.keys {
		fields = auth0KeyFields
	}
	body := map[string]any{"format": "json", "fields": exportFieldList(fields)}
	if a.conn != "" {
		cid, err := a.connectionID(ctx)
		if err != nil {
			return "", err
		}
		body["connection_id"] = cid
	}
	var j auth0export.Job
	// Two jobs for one request would only cost the tenant some work: safe to resend.
	_, err := a.api.DoJSON(ctx, &httpx.Request{Method: http.MethodPost, Path: "jobs/users-exports", Idempotent: true}, body, &j)
	if err != nil {
		return "", fmt.Errorf("auth0: create export job: %w", err)
	}
	if j.ID == "" || strings.ContainsAny(j.ID, "/?#") {
		return "", fmt.Errorf("auth0: create export job: answer without a usable job id: %w", ErrHostile)
	}
	return j.ID, nil
}

// fresh reports whether a job created at created is young enough to download again
// (with an hour to spare for the run itself).
func (a *Auth0) fresh(created string) bool {
	t, err := time.Parse(time.RFC3339Nano, created)
	return err == nil && a.hooks.clockNow().Sub(t) < auth0ExportMaxAge-time.Hour
}

func exportFieldList(fields []string) []map[string]string {
	out := make([]map[string]string, len(fields))
	for i, f := range fields {
		out[i] = map[string]string{"name": f}
	}
	return out
}

// connectionID resolves ?connection=NAME for the export job, which takes an id.
func (a *Auth0) connectionID(ctx context.Context) (string, error) {
	var conns []struct {
		ID   string `json:"id"`
		Name string `json:"name"`
	}
	if err := a.api.GetJSON(ctx, "connections", url.Values{"name": {a.conn}}, &conns); err != nil {
		return "", fmt.Errorf("auth0: connection %q: %w", a.conn, err)
	}
	for _, c := range conns {
		if c.Name == a.conn && c.ID != "" {
			return c.ID, nil
		}
	}
	return "", fmt.Errorf("auth0: no connection named %q: %w", a.conn, core.ErrUsage)
}

// awaitExport polls the job until it is completed and returns its (fresh) location.
func (a *Auth0) awaitExport(ctx context.Context, id string) (string, error) {
	p := auth0export.Poller{API: a.api, Initial: time.Second, MaxWait: 15 * time.Second, Timeout: a.pollMax,
		Now: a.hooks.clockNow, Pause: a.hooks.pause}
	loc, err := p.Await(ctx, id)
	return loc, hostile(err)
}

// hostile adds ErrHostile to a refusal of the shared export client, which names none.
func hostile(err error) error {
	if errors.Is(err, auth0export.ErrHostile) {
		return fmt.Errorf("%w: %w", err, ErrHostile)
	}
	return err
}

// streamExport downloads the file at loc and emits its users, skipping the first skip
// lines. It returns the number of the last line handed to emit (or skipped), so that a
// restart can carry on after it.
func (a *Auth0) streamExport(ctx context.Context, job, loc string, skip int64, members map[string][]string,
	emit func(core.Record) error) (int64, error) {
	dl := auth0export.Download{Root: a.root, Overridden: a.overridden, MaxInflate: a.maxInflate,
		Transport: a.hooks.transport, Now: a.hooks.now, Sleep: a.hooks.sleep}
	file, err := dl.Open(ctx, job, loc)
	if err != nil {
		return skip, hostile(err)
	}
	defer file.Close()
	what := "auth0: export job " + job
	lines := jsonstream.NewNDJSON(file, 0)
	last := skip
	for {
		if err := ctx.Err(); err != nil {
			return last, err
		}
		rec, err := lines.Next()
		if err == io.EOF {
			return last, nil
		}
		if err != nil {
			return last, fmt.Errorf("%s: read file after line %d: %w", what, last, err)
		}
		if rec.N <= skip {
			continue
		}
		cursor := auth0Cursor{job: job, line: rec.N}.String()
		if rec.Err != nil {
			r := core.Record{Data: append([]byte(nil), rec.Data...), Ref: "export line " + itoa(rec.N), Cursor: cursor, Err: rec.Err}
			if err := emit(r); err != nil {
				return last, &emitErr{err}
			}
			last = rec.N
			continue
		}
		if !a.since.IsZero() && before(rec.Data, a.since) {
			last = rec.N
			continue
		}
		data, id, spliced := withRoles(rec.Data, members)
		if !spliced {
			data = append([]byte(nil), data...) // the reader reuses its buffer
		}
		ref := id
		if ref == "" {
			ref = "export line " + itoa(rec.N)
		}
		if err := emit(core.Record{Data: data, Ref: ref, Cursor: cursor}); err != nil {
			return last, &emitErr{err}
		}
		last = rec.N
	}
}

// before reports whether the user's updated_at is known and earlier than t. An unreadable
// date keeps the user: --since must never drop a user silently.
func before(raw []byte, t time.Time) bool {
	var p auth0Probe
	if json.Unmarshal(raw, &p) != nil || p.UpdatedAt == "" {
		return false
	}
	u, err := time.Parse(time.RFC3339Nano, p.UpdatedAt)
	return err == nil && u.Before(t)
}

func itoa(n int64) string { return fmt.Sprint(n) }
