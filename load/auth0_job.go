package load

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/ferry-dev/ferry/internal/core"
	"github.com/ferry-dev/ferry/internal/httpx"
	"github.com/segmentio/encoding/json"
)

// One import job, from the file to a Result per user. Auth0 facts (DESIGN.md; Auth0 docs
// "Bulk User Imports"): POST /api/v2/jobs/users-imports takes multipart/form-data with the
// users file (a JSON array, at most 500 KB), connection_id, upsert, external_id and
// send_completion_email; a tenant runs at most 2 import jobs at once (a third gets 429);
// GET /api/v2/jobs/{id} goes pending -> processing -> completed|failed with
// summary{inserted,updated,failed,total}; GET /api/v2/jobs/{id}/errors lists
// [{user, errors:[{code,message,path}]}] (204 when there are none).

// unit is one import item: a user, or one of its secondary identities.
type unit struct {
	data     []byte
	email    string // as sent
	key      string // lowercased email: unique in a file, and in a run
	userID   string // user_id sent (without "auth0|"), "" if none
	identity string // "provider|id" of a secondary identity; "" for the user itself
	relink   bool   // a database identity to link back to its user after the job
	dup      bool   // refused only as DUPLICATED_USER: the target holds a user with its key

	out      core.Outcome
	reason   string
	targetID string
}

// userGroup is the units of one Item, kept in one file.
type userGroup struct {
	item  int
	ref   string
	units []*unit // units[0] is the user
	size  int     // bytes in a file, with the commas between the units
}

// result folds the units' outcomes into the Item's. A user is reported written only if
// every part of it was; otherwise it is rejected with what was and was not written.
func (g *userGroup) result() core.Result {
	p := g.units[0]
	if p.out != core.Created && p.out != core.Updated {
		reason := p.reason
		if reason == "" {
			reason = "auth0: no outcome for this user"
		}
		exists := p.dup
		for _, u := range g.units[1:] {
			if u.out == core.Created || u.out == core.Updated {
				exists = false
				reason += fmt.Sprintf("; its identity %s was written as the user %s", u.identity, u.targetID)
			}
		}
		return core.Result{Outcome: core.Rejected, Reason: reason, Exists: exists && len(g.units) == 1}
	}
	for _, u := range g.units[1:] {
		if u.out != core.Created && u.out != core.Updated {
			return core.Result{Outcome: core.Rejected, TargetID: p.targetID, Reason: fmt.Sprintf(
				"auth0: user written as %s, but its identity %s was not: %s", orUnknown(p.targetID), u.identity, u.reason)}
		}
	}
	return core.Result{Outcome: p.out, TargetID: p.targetID}
}

func orUnknown(id string) string {
	if id == "" {
		return "(id unknown)"
	}
	return id
}

// itemHead is what the sink reads of an encoded import item.
type itemHead struct {
	Email  string `json:"email"`
	UserID string `json:"user_id"`
}

// prepare turns a batch into groups of units, rejecting in res the users that cannot go:
// over the file limit, an email another user of the run has (Auth0 matches users by email:
// an upsert would merge them), or identities that cannot be carried.
func (s *Auth0) prepare(batch []core.Item, res []core.Result) []*userGroup {
	var groups []*userGroup
	reject := func(i int, format string, a ...any) {
		res[i] = core.Result{Outcome: core.Rejected, Reason: "auth0: " + fmt.Sprintf(format, a...)}
	}
	for i := range batch {
		it := &batch[i]
		var h itemHead
		if err := json.Unmarshal(it.Data, &h); err != nil {
			reject(i, "the encoded import item is not a JSON object: %v", err)
			continue
		}
		if h.Email == "" {
			reject(i, "an import item needs an email")
			continue
		}
		g := &userGroup{item: i, ref: it.Ref, units: []*unit{{data: it.Data, email: h.Email, key: strings.ToLower(h.Email), userID: h.UserID}}}
		if it.User != nil && it.User.Ref() != "" {
			g.ref = it.User.Ref()
		}
		extra, why := s.identityUnits(it.User)
		if why != "" {
			reject(i, "%s", why)
			continue
		}
		g.units = append(g.units, extra...)
		g.size = 2
		tooBig := false
		for k, u := range g.units {
			if k > 0 {
				g.size++
			}
			g.size += len(u.data)
			if len(u.data)+2 > s.cfg.FileLimit {
				what := "the user"
				if u.identity != "" {
					what = "its identity " + u.identity
				}
				reject(i, "%s is %d bytes as an import item, over the %d-byte limit of an import file", what, len(u.data), s.cfg.FileLimit-2)
				tooBig = true
				break
			}
		}
		if tooBig {
			continue
		}
		if g.size > s.cfg.FileLimit {
			reject(i, "the user and its identities are %d bytes as import items, over the %d-byte limit of an import file", g.size, s.cfg.FileLimit)
			continue
		}
		if why := s.claimEmails(g); why != "" {
			reject(i, "%s", why)
			continue
		}
		groups = append(groups, g)
	}
	return groups
}

// claimEmails reserves the emails of a group for the run, all or none.
func (s *Auth0) claimEmails(g *userGroup) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	mine := map[string]string{}
	for _, u := range g.units {
		what := "email"
		if u.identity != "" {
			what = "the email of identity " + u.identity
		}
		if other, ok := s.emails[u.key]; ok {
			return fmt.Sprintf("%s %q is already the email of %s in this run (Auth0 matches users by email: importing both would merge them)", what, u.email, other)
		}
		if prev, ok := mine[u.key]; ok {
			return fmt.Sprintf("%s %q is also the email of %s; one database connection cannot hold both", what, u.email, prev)
		}
		if u.identity == "" {
			mine[u.key] = "the user itself"
		} else {
			mine[u.key] = "identity " + u.identity
		}
	}
	for k := range mine {
		s.emails[k] = g.ref
	}
	return ""
}

// importFile is the units of one import job.
type importFile struct {
	units []*unit
	size  int
}

// packFiles packs groups into files of at most limit bytes, in order.
func packFiles(groups []*userGroup, limit int) []*importFile {
	var files []*importFile
	var cur *importFile
	for _, g := range groups {
		add := g.size - 2 // without the brackets
		if cur != nil && cur.size+1+add > limit {
			cur = nil
		}
		if cur == nil {
			cur = &importFile{size: 2 - 1} // the first group adds no comma
			files = append(files, cur)
		}
		cur.size += 1 + add
		cur.units = append(cur.units, g.units...)
	}
	return files
}

func (f *importFile) body() []byte {
	b := make([]byte, 0, f.size)
	b = append(b, '[')
	for k, u := range f.units {
		if k > 0 {
			b = append(b, ',')
		}
		b = append(b, u.data...)
	}
	return append(b, ']')
}

type atomicCounter struct{ n atomic.Int64 }

func (c *atomicCounter) next() int64 { return c.n.Add(1) }

// jobView is GET /api/v2/jobs/{id}.
type jobView struct {
	ID        string `json:"id"`
	Status    string `json:"status"`
	CreatedAt string `json:"created_at"`
	Summary   *struct {
		Inserted int `json:"inserted"`
		Updated  int `json:"updated"`
		Failed   int `json:"failed"`
		Total    int `json:"total"`
	} `json:"summary"`
}

type jobUserError struct {
	User   json.RawMessage `json:"user"`
	Errors []struct {
		Code    string `json:"code"`
		Message string `json:"message"`
		Path    string `json:"path"`
	} `json:"errors"`
}

// clockSkew widens "written by this job" comparisons between our clock and the tenant's.
const clockSkew = 2 * time.Second

// runFile runs one import job and sets the outcome of every unit of f. Only failures that
// end the run are returned.
func (s *Auth0) runFile(ctx context.Context, connID string, f *importFile) error {
	body, ctype, err := s.multipart(connID, f.body())
	if err != nil {
		return err
	}
	since := time.Now().Add(-clockSkew)
	select {
	case s.jobs <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	held := true
	release := func() {
		if held {
			held = false
			<-s.jobs
		}
	}
	defer release()

	job, ambiguous, err := s.startJob(ctx, body, ctype)
	if err != nil {
		var refused *refusedError
		if errors.As(err, &refused) {
			// The tenant refused the file itself: no job, nobody written.
			for _, u := range f.units {
				u.out, u.reason = core.Rejected, "auth0 import: "+refused.msg
			}
			return nil
		}
		return err
	}
	final, err := s.waitJob(ctx, job.ID)
	release()
	if err != nil {
		return err
	}
	var errs []jobUserError
	if final.Status == "completed" || final.Status == "failed" {
		if errs, err = s.jobErrors(ctx, job.ID); err != nil {
			return err
		}
	}
	return s.mapResults(ctx, f, final, errs, since, ambiguous)
}

// refusedError is a 4xx answer to the job creation: the file or its parameters were
// refused as a whole.
type refusedError struct{ msg string }

func (e *refusedError) Error() string { return e.msg }

func (s *Auth0) multipart(connID string, file []byte) ([]byte, string, error) {
	var b bytes.Buffer
	b.Grow(len(file) + 1024)
	w := multipart.NewWriter(&b)
	h := textproto.MIMEHeader{}
	h.Set("Content-Disposition", `form-data; name="users"; filename="users.json"`)
	h.Set("Content-Type", "application/json")
	p, err := w.CreatePart(h)
	if err != nil {
		return nil, "", err
	}
	if _, err := p.Write(file); err != nil {
		return nil, "", err
	}
	fields := [][2]string{
		{"connection_id", connID},
		{"upsert", strconv.FormatBool(s.cfg.Upsert)},
		{"send_completion_email", "false"},
		{"external_id", s.runID + "-" + strconv.FormatInt(s.fileNo.next(), 10)},
	}
	for _, kv := range fields {
		if err := w.WriteField(kv[0], kv[1]); err != nil {
			return nil, "", err
		}
	}
	if err := w.Close(); err != nil {
		return nil, "", err
	}
	return b.Bytes(), w.FormDataContentType(), nil
}

// startAttempts bounds the creations of one job that fail with a 5xx or a lost answer.
const startAttempts = 8

// startJob creates the job. A 429 (the tenant's job slots are taken, by another process or
// by a job of ours whose creation answer was lost) is waited out, not counted as a
// failure. A 5xx or a lost answer is retried, and reported as ambiguous: a job may have
// been created and may write these users too, which mapResults then accounts for.
func (s *Auth0) startJob(ctx context.Context, body []byte, ctype string) (*jobView, bool, error) {
	ambiguous := false
	wait := s.cfg.PollInitial
	deadline := time.Now().Add(s.cfg.JobTimeout)
	failures := 0
	for {
		resp, err := s.api.c.Do(ctx, &httpx.Request{Method: http.MethodPost, Path: "jobs/users-imports", Body: body,
			ContentType: ctype, AllowStatus: []int{http.StatusTooManyRequests}})
		switch {
		case err == nil && resp.Status == http.StatusTooManyRequests:
			failures = 0 // the tenant answers: only its job slots are full
			if time.Now().After(deadline) {
				return nil, ambiguous, fmt.Errorf("auth0: the tenant refused new import jobs (429) for %s: %w", s.cfg.JobTimeout, core.ErrAborted)
			}
		case err == nil:
			var j jobView
			if err := json.Unmarshal(resp.Body, &j); err != nil || j.ID == "" {
				return nil, ambiguous, fmt.Errorf("auth0: import job created, but its answer has no job id: %s", s.api.c.Redact(string(resp.Body)))
			}
			return &j, ambiguous, nil
		default:
			if ctx.Err() != nil {
				return nil, ambiguous, ctx.Err()
			}
			var se *httpx.StatusError
			if errors.As(err, &se) && se.Status >= 400 && se.Status < 500 {
				if se.Status == http.StatusUnauthorized || se.Status == http.StatusForbidden || se.Status == http.StatusNotFound {
					return nil, ambiguous, fmt.Errorf("auth0: create import job: %w", err)
				}
				return nil, ambiguous, &refusedError{msg: fmt.Sprintf("%d: %s", se.Status, se.Body)}
			}
			ambiguous = true
			if failures++; failures >= startAttempts {
				return nil, ambiguous, fmt.Errorf("auth0: create import job: %w", err)
			}
		}
		if err := httpx.Sleep(ctx, wait); err != nil {
			return nil, ambiguous, err
		}
		wait = min(wait*3/2, s.cfg.PollMax)
	}
}

// waitJob polls the job with backoff until it completes or fails.
func (s *Auth0) waitJob(ctx context.Context, id string) (*jobView, error) {
	wait := s.cfg.PollInitial
	deadline := time.Now().Add(s.cfg.JobTimeout)
	for {
		if err := httpx.Sleep(ctx, wait); err != nil {
			return nil, err
		}
		var j jobView
		if err := s.api.c.GetJSON(ctx, "jobs/"+url.PathEscape(id), nil, &j); err != nil {
			return nil, fmt.Errorf("auth0: import job %s: %w", id, err)
		}
		switch j.Status {
		case "completed", "failed":
			return &j, nil
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("auth0: import job %s still %s after %s (it may yet run; check the target before retrying): %w",
				id, j.Status, s.cfg.JobTimeout, core.ErrAborted)
		}
		wait = min(wait*3/2, s.cfg.PollMax)
	}
}

// jobErrors reads GET /jobs/{id}/errors: 204 or an empty body when nothing failed.
func (s *Auth0) jobErrors(ctx context.Context, id string) ([]jobUserError, error) {
	resp, err := s.api.c.Do(ctx, &httpx.Request{Path: "jobs/" + url.PathEscape(id) + "/errors"})
	if err != nil {
		return nil, fmt.Errorf("auth0: import job %s: errors: %w", id, err)
	}
	if resp.Status == http.StatusNoContent || firstByte(resp.Body) != '[' {
		return nil, nil
	}
	var out []jobUserError
	if err := json.Unmarshal(resp.Body, &out); err != nil {
		return nil, fmt.Errorf("auth0: import job %s: errors: %w", id, err)
	}
	return out, nil
}

// mapResults turns a finished job into unit outcomes. When the summary and the errors
// account for every unit, the summary is trusted; otherwise (counts that do not add up, a
// failed job, a creation that may have run twice, or inserted and updated users mixed in
// one file) the users are looked up by email, and a user is reported written only if the
// target holds it with a creation or update time from this job on.
func (s *Auth0) mapResults(ctx context.Context, f *importFile, j *jobView, errs []jobUserError, since time.Time, ambiguous bool) error {
	byKey := make(map[string]int, len(f.units))
	byID := map[string]int{}
	for i, u := range f.units {
		byKey[u.key] = i
		if u.userID != "" {
			byID[u.userID] = i
		}
	}
	failed := map[int]string{}
	dupOnly := map[int]bool{}
	unmatched := 0
	for _, e := range errs {
		var h itemHead
		_ = json.Unmarshal(e.User, &h)
		i, ok := byKey[strings.ToLower(h.Email)]
		if !ok && h.UserID != "" {
			i, ok = byID[h.UserID]
		}
		if !ok {
			unmatched++
			continue
		}
		var parts []string
		dup := len(e.Errors) > 0
		for _, x := range e.Errors {
			p := x.Code + ": " + x.Message
			if x.Path != "" {
				p += " (" + x.Path + ")"
			}
			parts = append(parts, p)
			dup = dup && x.Code == "DUPLICATED_USER"
		}
		if len(parts) == 0 {
			parts = append(parts, "failed without a reason")
		}
		reason := "auth0 import: " + strings.Join(parts, "; ")
		if prev, seen := failed[i]; seen {
			reason = prev + "; " + strings.TrimPrefix(reason, "auth0 import: ")
		}
		failed[i] = s.redact(reason, f.units[i].data)
		dupOnly[i] = dup
	}
	n := len(f.units)
	var ins, upd, fail, total int
	if j.Summary != nil {
		ins, upd, fail, total = j.Summary.Inserted, j.Summary.Updated, j.Summary.Failed, j.Summary.Total
	}
	consistent := j.Status == "completed" && total == n && ins+upd+fail == n && fail == len(failed) && unmatched == 0
	mixed := ins > 0 && upd > 0
	var check []int
	for i, u := range f.units {
		if why, ok := failed[i]; ok {
			u.out, u.reason, u.dup = core.Rejected, why, dupOnly[i] && !s.cfg.Upsert
			if ambiguous && dupOnly[i] {
				check = append(check, i) // maybe created by the job whose answer was lost
			}
			continue
		}
		if consistent && !ambiguous && !mixed {
			if upd == 0 {
				u.out = core.Created
				if u.userID != "" {
					u.targetID = "auth0|" + u.userID
				}
			} else {
				u.out = core.Updated
			}
			continue
		}
		check = append(check, i)
	}
	if len(check) == 0 {
		return nil
	}
	emails := make([]string, len(check))
	for k, i := range check {
		emails[k] = f.units[i].email
	}
	found, err := s.findUsers(ctx, emails)
	if err != nil {
		return err
	}
	for _, i := range check {
		u := f.units[i]
		fu := found[u.key]
		_, wasFailed := failed[i]
		switch {
		case fu != nil && (!fu.created.Before(since.Add(clockSkew)) ||
			!fu.created.Before(since) && !fu.updated.After(fu.created)):
			// Created by this job (or by its orphan twin whose answer was lost): after the
			// job started; or inside the skew allowance and not updated since. A user an
			// earlier run created just before, upserted now, has a later updated_at and falls
			// to the next case.
			u.out, u.reason, u.targetID = core.Created, "", fu.id
		case fu != nil && !fu.updated.Before(since) && !wasFailed:
			u.out, u.targetID = core.Updated, fu.id
		case wasFailed:
			// keep the job's reason
		case fu != nil && consistent:
			// The job counted it written; timestamps too close to tell, or skewed.
			u.out, u.targetID = core.Updated, fu.id
		case consistent:
			// Counted written but not found: search lag. Trust the count, without an id.
			u.out = core.Updated
			if upd == 0 {
				u.out = core.Created
			}
		default:
			u.out, u.reason = core.Rejected, fmt.Sprintf(
				"auth0 import: job %s (%s, summary %d inserted, %d updated, %d failed of %d) did not report this user and the target does not hold it as written by the job: not written",
				j.ID, j.Status, ins, upd, fail, total)
		}
	}
	return nil
}

// redact removes from a job error message the secret values of the item it is about
// (a pattern error quotes the value, and the value may be a password hash).
func (s *Auth0) redact(msg string, item []byte) string {
	var m map[string]json.RawMessage
	if json.Unmarshal(item, &m) == nil {
		for _, k := range []string{"password_hash", "custom_password_hash", "mfa_factors"} {
			if v, ok := m[k]; ok {
				for _, sec := range stringLeaves(v) {
					if len(sec) >= 4 {
						msg = strings.ReplaceAll(msg, sec, "[REDACTED]")
					}
				}
			}
		}
	}
	return s.api.c.Redact(msg)
}

// stringLeaves lists every string value inside a JSON value.
func stringLeaves(v json.RawMessage) []string {
	var x any
	if json.Unmarshal(v, &x) != nil {
		return nil
	}
	var out []string
	var walk func(any)
	walk = func(x any) {
		switch t := x.(type) {
		case string:
			out = append(out, t)
		case []any:
			for _, e := range t {
				walk(e)
			}
		case map[string]any:
			for _, e := range t {
				walk(e)
			}
		}
	}
	walk(x)
	return out
}
