package extract

import (
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/ferry-dev/ferry/internal/core"
	"github.com/ferry-dev/ferry/internal/httpx"
	"github.com/ferry-dev/ferry/internal/jsonstream"
	"github.com/segmentio/encoding/json"
)

// The users-exports job (Auth0 "Bulk User Exports"): POST /api/v2/jobs/users-exports,
// poll GET /api/v2/jobs/{id} until "completed", then download "location", a signed URL
// to a gzipped NDJSON file valid 60 s and re-requestable from the job for 24 h.

// auth0Job is GET /api/v2/jobs/{id} for an export.
type auth0Job struct {
	ID        string `json:"id"`
	Type      string `json:"type"`
	Status    string `json:"status"`
	CreatedAt string `json:"created_at"`
	Location  string `json:"location"`
	Format    string `json:"format"`
	TimeLeft  int    `json:"time_left_seconds"`
}

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
		var j auth0Job
		resp, err := a.api.DoJSON(ctx, &httpx.Request{Path: "jobs/" + url.PathEscape(id),
			AllowStatus: []int{http.StatusNotFound}}, nil, &j)
		if err != nil {
			return "", fmt.Errorf("auth0: export job %s: %w", id, err)
		}
		if resp.Status == http.StatusOK && j.Type == "users_export" && j.Status != "failed" && a.fresh(j.CreatedAt) {
			return id, nil
		}
	}
	body := map[string]any{"format": "json", "fields": exportFieldList()}
	if a.conn != "" {
		cid, err := a.connectionID(ctx)
		if err != nil {
			return "", err
		}
		body["connection_id"] = cid
	}
	var j auth0Job
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

func exportFieldList() []map[string]string {
	out := make([]map[string]string, len(auth0ExportFields))
	for i, f := range auth0ExportFields {
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
	start := a.hooks.clockNow()
	wait := time.Second
	for {
		var j auth0Job
		if err := a.api.GetJSON(ctx, "jobs/"+url.PathEscape(id), nil, &j); err != nil {
			return "", fmt.Errorf("auth0: export job %s: %w", id, err)
		}
		switch j.Status {
		case "completed":
			if j.Location == "" {
				return "", fmt.Errorf("auth0: export job %s: completed without a location: %w", id, ErrHostile)
			}
			return j.Location, nil
		case "failed":
			return "", fmt.Errorf("auth0: export job %s failed", id)
		case "pending", "processing", "":
		default:
			return "", fmt.Errorf("auth0: export job %s: unknown status %q", id, j.Status)
		}
		if a.hooks.clockNow().Sub(start) > a.pollMax {
			return "", fmt.Errorf("auth0: export job %s: not completed after %s", id, a.pollMax)
		}
		d := wait
		if j.TimeLeft > 0 {
			// Auth0's own estimate: look again about half-way to it.
			d = min(max(time.Duration(j.TimeLeft)*time.Second/2, time.Second), wait)
		}
		if err := a.hooks.pause(ctx, d); err != nil {
			return "", err
		}
		wait = min(wait*3/2, 15*time.Second)
	}
}

// auth0ExportHost matches the hosts Auth0 serves export files from
// (https://user-exports.auth0.com/JOB/TENANT.json.gz?Expires=...&Signature=..., and the
// regional user-exports.REGION.auth0.com).
var auth0ExportHost = regexp.MustCompile(`^user-exports(\.[a-z0-9-]+)?\.auth0\.com$`)

// checkLocation refuses a download location that is not https (plain http only to a
// loopback host when the API itself is plain http on loopback: the sandbox) or that is
// neither on the API's host nor on Auth0's export host. A location elsewhere would make
// ferry fetch, and import, whatever a tampered job answer points at.
func (a *Auth0) checkLocation(loc string) (*url.URL, error) {
	u, err := url.Parse(loc)
	if err != nil || u.Host == "" || u.User != nil {
		return nil, fmt.Errorf("auth0: export location %s is not a plain absolute URL: %w", httpx.RedactURL(loc), ErrHostile)
	}
	root, _ := url.Parse(a.root)
	switch strings.ToLower(u.Scheme) {
	case "https":
	case "http":
		if root.Scheme != "http" || !loopback(u.Hostname()) || !loopback(root.Hostname()) {
			return nil, fmt.Errorf("auth0: export location %s is not https: %w", httpx.RedactURL(loc), ErrHostile)
		}
	default:
		return nil, fmt.Errorf("auth0: export location %s is not https: %w", httpx.RedactURL(loc), ErrHostile)
	}
	host := strings.ToLower(u.Host)
	if host == strings.ToLower(root.Host) {
		return u, nil
	}
	if !a.overridden && u.Port() == "" && auth0ExportHost.MatchString(host) {
		return u, nil
	}
	return nil, fmt.Errorf("auth0: export location on host %q, expected %q or Auth0's export host: %w",
		u.Host, root.Host, ErrHostile)
}

func loopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// streamExport downloads the file at loc and emits its users, skipping the first skip
// lines. It returns the number of the last line handed to emit (or skipped), so that a
// restart can carry on after it.
func (a *Auth0) streamExport(ctx context.Context, job, loc string, skip int64, members map[string][]string,
	emit func(core.Record) error) (int64, error) {
	u, err := a.checkLocation(loc)
	if err != nil {
		return skip, err
	}
	// A client of its own: no bearer token for the signed URL, and the download does not
	// spend the Management API budget.
	dl, err := httpx.New(httpx.Config{Name: "auth0 export", BaseURL: u.Scheme + "://" + u.Host + "/",
		Transport: a.hooks.transport, Now: a.hooks.now, Sleep: a.hooks.sleep})
	if err != nil {
		return skip, err
	}
	body, _, err := dl.Stream(ctx, &httpx.Request{Path: loc})
	if err != nil {
		return skip, fmt.Errorf("auth0: export job %s: download: %w", job, err)
	}
	defer body.Close()
	zr, err := gzip.NewReader(body)
	if err != nil {
		return skip, fmt.Errorf("auth0: export job %s: file is not gzip: %w", job, err)
	}
	defer zr.Close()
	what := "auth0: export job " + job
	lines := jsonstream.NewNDJSON(&capReader{r: zr, max: a.maxInflate, what: what}, 0)
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
