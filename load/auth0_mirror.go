package load

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/segmentio/encoding/json"

	"github.com/ferry-dev/ferry/internal/auth0api"
	"github.com/ferry-dev/ferry/internal/auth0export"
	"github.com/ferry-dev/ferry/internal/core"
	"github.com/ferry-dev/ferry/internal/httpx"
	"github.com/ferry-dev/ferry/internal/jsonstream"
)

// Mirror mode on Auth0: the users of the sink's database connection (identities[0] in
// it: users merely linked to it belong to another connection and are never listed).
//
//	list    GET /api/v2/users?q=identities.connection:"C"&sort=created_at:1 while the
//	        query matches at most 1,000 users (the search index pages no further);
//	        beyond that a users-exports job for the connection (fields user_id, email,
//	        username), its gzipped NDJSON file streamed line by line
//	remove  DELETE /api/v2/users/{id} (204; a 404 means already gone)

var (
	_ core.Lister  = (*Auth0)(nil)
	_ core.Remover = (*Auth0)(nil)
)

// auth0MirrorUser is what mirror mode reads of a user.
type auth0MirrorUser struct {
	UserID     json.RawMessage `json:"user_id"`
	Email      string          `json:"email"`
	Username   string          `json:"username"`
	Identities []struct {
		Connection string `json:"connection"`
	} `json:"identities"`
}

// target derives the user's name as the Auth0 decoder derives userName.
func (u *auth0MirrorUser) target() core.TargetUser {
	id := rawID(u.UserID)
	name := u.Username
	if name == "" {
		name = u.Email
	}
	if name == "" {
		name = id
	}
	return core.TargetUser{ID: id, UserName: name, Email: u.Email}
}

// auth0SearchCap is how many results the search index pages through, however paged.
const auth0SearchCap = 1000

// ListUsers implements core.Lister.
func (s *Auth0) ListUsers(ctx context.Context, fn func(core.TargetUser) error) error {
	connID, err := s.connection(ctx)
	if err != nil {
		return err
	}
	q := url.Values{
		"q":    {`identities.connection:"` + luceneEscape(s.cfg.Connection) + `"`},
		"sort": {"created_at:1"}, "search_engine": {"v3"},
		"fields": {"user_id,email,username,identities"}, "include_fields": {"true"},
	}
	read := 0
	for page := 0; ; page++ {
		size := s.api.PageSize()
		if (page+1)*size > auth0SearchCap {
			// The query grew past what search can page through: the export sees it all.
			// Users listed already come again; mirror mode drops repeats by id.
			return s.exportUsers(ctx, connID, fn)
		}
		users, total, err := auth0api.Page[auth0MirrorUser](ctx, s.api.Lister, "users", "users", q, page)
		if err != nil {
			return fmt.Errorf("auth0: list users of connection %q, page %d: %w", s.cfg.Connection, page, err)
		}
		// A total of 1,000 may be the cap rather than the count (extract/auth0.go, decide).
		if page == 0 && total >= auth0SearchCap {
			return s.exportUsers(ctx, connID, fn)
		}
		for i := range users {
			u := &users[i]
			if len(u.Identities) > 0 && u.Identities[0].Connection != s.cfg.Connection {
				continue // linked to the connection; a user of another one
			}
			if err := fn(u.target()); err != nil {
				return err
			}
		}
		read += len(users)
		if len(users) < s.api.PageSize() || (total >= 0 && read >= total) {
			return nil
		}
	}
}

// exportUsers lists the connection's users through a users-exports job.
func (s *Auth0) exportUsers(ctx context.Context, connID string, fn func(core.TargetUser) error) error {
	body := map[string]any{"connection_id": connID, "format": "json",
		"fields": []map[string]string{{"name": "user_id"}, {"name": "email"}, {"name": "username"}}}
	var job struct {
		ID string `json:"id"`
	}
	// A second job for one request only costs the tenant some work: safe to resend.
	if _, err := s.api.c.DoJSON(ctx, &httpx.Request{Method: http.MethodPost, Path: "jobs/users-exports", Idempotent: true}, body, &job); err != nil {
		return fmt.Errorf("auth0: create users export: %w", err)
	}
	if job.ID == "" || strings.ContainsAny(job.ID, "/?#") {
		return fmt.Errorf("auth0: create users export: answer without a usable job id")
	}
	p := auth0export.Poller{API: s.api.c, Initial: s.cfg.PollInitial, MaxWait: s.cfg.PollMax, Timeout: s.cfg.JobTimeout}
	loc, err := p.Await(ctx, job.ID)
	if err != nil {
		return err
	}
	dl := auth0export.Download{Root: s.cfg.BaseURL, Overridden: s.overridden(), MaxInflate: exportInflateCap,
		Transport: s.cfg.Transport}
	file, err := dl.Open(ctx, job.ID, loc)
	if err != nil {
		return err
	}
	defer file.Close()
	lines := jsonstream.NewNDJSON(file, 0)
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		rec, err := lines.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("auth0: export job %s: %w", job.ID, err)
		}
		var mu auth0MirrorUser
		if rec.Err != nil {
			return fmt.Errorf("auth0: export job %s: line %d: %w", job.ID, rec.N, rec.Err)
		}
		if err := json.Unmarshal(rec.Data, &mu); err != nil {
			return fmt.Errorf("auth0: export job %s: line %d: %w", job.ID, rec.N, err)
		}
		if err := fn(mu.target()); err != nil {
			return err
		}
	}
}

// exportInflateCap bounds a decompressed export of three short fields a user: 4 GiB is
// tens of millions of users, and a gzip bomb stops there.
const exportInflateCap = 4 << 30

// overridden says whether ?base= points elsewhere than the tenant (a sandbox, a proxy):
// export files must then come from its host, never from Auth0's export host.
func (s *Auth0) overridden() bool {
	root, err := url.Parse(s.cfg.BaseURL)
	return err != nil || !strings.EqualFold(root.Host, s.cfg.Domain)
}

// RemoveUsers implements core.Remover: DELETE /api/v2/users/{id}, two at a time (the
// tenant's shared limiter paces them within the write-users budget).
func (s *Auth0) RemoveUsers(ctx context.Context, users []core.TargetUser) ([]error, error) {
	return eachUser(ctx, users, 2, func(ctx context.Context, u core.TargetUser) error {
		_, err := s.api.c.Do(ctx, &httpx.Request{Method: http.MethodDelete, Path: "users/" + url.PathEscape(u.ID),
			AllowStatus: []int{http.StatusNotFound}})
		if err != nil {
			return fmt.Errorf("auth0: delete user %s: %w", u.ID, err)
		}
		return nil
	})
}
