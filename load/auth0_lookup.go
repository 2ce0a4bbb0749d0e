package load

import (
	"context"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"
)

// Finding users after an import: the job returns no ids. Two ways, both by email (the key
// an import matches users on):
//   - GET /api/v2/users?q=email:"a" OR email:"b" ... (search engine v3), up to searchChunk
//     emails a request: cheap, but the search index is eventually consistent and may not
//     show a user imported seconds ago;
//   - GET /api/v2/users-by-email?email=a, one request a user, not subject to the index lag.
// findUsers tries the first and falls back on the second for the emails it missed.

// foundUser is a user of the target connection.
type foundUser struct {
	id               string
	created, updated time.Time
}

const (
	searchChunk  = 20
	lookupFields = "user_id,email,created_at,updated_at,identities"
	lookupPar    = 4 // users-by-email requests in flight per Write
)

type apiUser struct {
	UserID     string `json:"user_id"`
	Email      string `json:"email"`
	CreatedAt  string `json:"created_at"`
	UpdatedAt  string `json:"updated_at"`
	Identities []struct {
		Connection string `json:"connection"`
		Provider   string `json:"provider"`
	} `json:"identities"`
}

// inConnection reports whether the user belongs to the sink's database connection.
func (s *Auth0) inConnection(u *apiUser) bool {
	if len(u.Identities) == 0 {
		return strings.HasPrefix(u.UserID, "auth0|")
	}
	return u.Identities[0].Connection == s.cfg.Connection
}

func toFound(u *apiUser) *foundUser {
	f := &foundUser{id: u.UserID}
	f.created, _ = time.Parse(time.RFC3339Nano, u.CreatedAt)
	f.updated, _ = time.Parse(time.RFC3339Nano, u.UpdatedAt)
	return f
}

// findUsers returns the users of the sink's connection with the given emails, keyed by
// lowercased email; emails with no such user are absent.
func (s *Auth0) findUsers(ctx context.Context, emails []string) (map[string]*foundUser, error) {
	out := make(map[string]*foundUser, len(emails))
	var missed []string
	for start := 0; start < len(emails); start += searchChunk {
		chunk := emails[start:min(start+searchChunk, len(emails))]
		got, err := s.search(ctx, chunk)
		if err != nil {
			// Search refused (query too long, engine differences): the exact lookup is
			// slower but always available.
			got = nil
		}
		for k, v := range got {
			out[k] = v
		}
		for _, e := range chunk {
			if out[strings.ToLower(e)] == nil {
				missed = append(missed, e)
			}
		}
	}
	if len(missed) == 0 {
		return out, nil
	}
	var mu sync.Mutex
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(lookupPar)
	for _, e := range missed {
		g.Go(func() error {
			var us []apiUser
			q := url.Values{"email": {e}, "fields": {lookupFields}, "include_fields": {"true"}}
			if err := s.api.c.GetJSON(gctx, "users-by-email", q, &us); err != nil {
				return fmt.Errorf("auth0: look up a user by email: %w", err)
			}
			for k := range us {
				if s.inConnection(&us[k]) {
					mu.Lock()
					out[strings.ToLower(e)] = toFound(&us[k])
					mu.Unlock()
					break
				}
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return out, nil
}

func (s *Auth0) search(ctx context.Context, emails []string) (map[string]*foundUser, error) {
	terms := make([]string, len(emails))
	for k, e := range emails {
		terms[k] = `email:"` + luceneEscape(e) + `"`
	}
	q := url.Values{
		"q": {strings.Join(terms, " OR ")}, "search_engine": {"v3"}, "per_page": {strconv.Itoa(s.api.PageSize())},
		"fields": {lookupFields}, "include_fields": {"true"},
	}
	var us []apiUser
	if err := s.api.c.GetJSON(ctx, "users", q, &us); err != nil {
		return nil, err
	}
	out := map[string]*foundUser{}
	for k := range us {
		if s.inConnection(&us[k]) {
			out[strings.ToLower(us[k].Email)] = toFound(&us[k])
		}
	}
	return out, nil
}

// luceneEscape escapes a value for a quoted Lucene term.
func luceneEscape(s string) string {
	return strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s)
}

// resolveIDs finds the target ids of users the job did not name (updated users keep the
// id they had; inserted users without a user_id got a generated one).
func (s *Auth0) resolveIDs(ctx context.Context, groups []*userGroup) error {
	if len(groups) == 0 {
		return nil
	}
	emails := make([]string, len(groups))
	for k, g := range groups {
		emails[k] = g.units[0].email
	}
	found, err := s.findUsers(ctx, emails)
	if err != nil {
		return err
	}
	for _, g := range groups {
		if f := found[g.units[0].key]; f != nil {
			g.units[0].targetID = f.id
		}
	}
	return nil
}
