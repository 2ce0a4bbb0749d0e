package load

import (
	"bytes"
	"context"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/segmentio/encoding/json"
	"golang.org/x/sync/errgroup"

	"github.com/ferry-dev/ferry/internal/auth0api"
	"github.com/ferry-dev/ferry/internal/core"
)

var _ core.Verifier = (*Auth0)(nil)

// auth0NotCompared are import fields a user read back never shows (Auth0 keeps hashes
// and MFA secrets out of every answer) or shows in another form (user_id, compared with
// its "auth0|" prefix).
var auth0NotCompared = map[string]bool{"password_hash": true, "custom_password_hash": true, "mfa_factors": true, "user_id": true}

// Verify implements core.Verifier for users an import refused as DUPLICATED_USER: they
// are read back as the lookups after an import are (the search, twenty e-mails a request,
// then GET /users-by-email for those the index does not show yet) and the connection's
// user compared field by field with the import item ferry sent; then its roles with the
// user's. Auth0 fills in name, nickname and picture when an import leaves them out: only
// what the item holds is compared.
//
// A bulk import cannot assign roles, so ferry assigns them after the job, and a run killed
// in between leaves a user of its own without them. For users in doubt (Item.InDoubt: an
// earlier run of this migration sent them) whose profile is the one sent, Verify finishes
// that assignment (one request a role, and assigning a role twice changes nothing): the
// only write it makes, adding what this migration meant to write to a user this migration
// wrote. For a user not in doubt, its roles are read, and one that lacks some stays a
// conflict.
func (s *Auth0) Verify(ctx context.Context, items []core.Item) ([]core.Verdict, error) {
	out := make([]core.Verdict, len(items))
	wants := make([]map[string]json.RawMessage, len(items))
	var emails []string
	for i := range items {
		if json.Unmarshal(items[i].Data, &wants[i]) != nil || wants[i] == nil {
			continue
		}
		var e string
		_ = json.Unmarshal(wants[i]["email"], &e)
		if e != "" {
			emails = append(emails, e)
		}
	}
	found, err := s.fullUsers(ctx, emails)
	if err != nil {
		if fatal(ctx, err) {
			return nil, err
		}
		return out, nil // not read back: the refusals stand
	}
	assign := map[string][]int{} // role name -> items in doubt to give it
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(lookupPar)
	for i := range items {
		var email, localID string
		_ = json.Unmarshal(wants[i]["email"], &email)
		_ = json.Unmarshal(wants[i]["user_id"], &localID)
		got := found[strings.ToLower(email)]
		if got == nil {
			continue
		}
		var id string
		_ = json.Unmarshal(got["user_id"], &id)
		diff := auth0Diff(wants[i], got, email, localID)
		out[i] = core.Verdict{Found: true, TargetID: id, Diff: diff}
		names := roleNames(items[i].User)
		switch {
		case diff != "" || len(names) == 0:
		case items[i].InDoubt:
			for _, n := range names {
				assign[n] = append(assign[n], i)
			}
		default:
			g.Go(func() error {
				missing, err := s.missingRoles(gctx, names, id)
				switch {
				case err != nil && fatal(gctx, err):
					return err
				case err != nil:
					out[i].Diff = "roles (not readable: " + s.api.c.Redact(err.Error()) + ")"
				case len(missing) > 0:
					out[i].Diff = "roles"
				}
				return nil
			})
		}
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	for _, name := range sortedKeys(assign) {
		if err := s.finishRoles(ctx, name, assign[name], out); err != nil {
			return nil, err
		}
	}
	for i := range out {
		out[i].Same = out[i].Found && out[i].Diff == ""
	}
	return out, nil
}

// auth0Diff names the import fields the user read back does not hold as sent.
func auth0Diff(want, got map[string]json.RawMessage, email, localID string) string {
	var diff []string
	var id string
	_ = json.Unmarshal(got["user_id"], &id)
	if localID != "" && id != "auth0|"+localID {
		diff = append(diff, "user_id")
	}
	for k, w := range want {
		switch {
		case auth0NotCompared[k]:
		case k == "email":
			var g string
			_ = json.Unmarshal(got[k], &g)
			if !strings.EqualFold(g, email) {
				diff = append(diff, k)
			}
		case !sameField(w, got[k]):
			diff = append(diff, k)
		}
	}
	slices.Sort(diff)
	return strings.Join(diff, ", ")
}

// fullUsers reads the connection's users with the given e-mails, whole, keyed by
// lower-cased e-mail: by search first, then by users-by-email for the ones it missed.
func (s *Auth0) fullUsers(ctx context.Context, emails []string) (map[string]map[string]json.RawMessage, error) {
	out := make(map[string]map[string]json.RawMessage, len(emails))
	var mu sync.Mutex
	keep := func(raws []json.RawMessage) {
		mu.Lock()
		defer mu.Unlock()
		for _, raw := range raws {
			var head apiUser
			var m map[string]json.RawMessage
			if json.Unmarshal(raw, &head) != nil || json.Unmarshal(raw, &m) != nil || !s.inConnection(&head) {
				continue
			}
			out[strings.ToLower(head.Email)] = m
		}
	}
	for start := 0; start < len(emails); start += searchChunk {
		chunk := emails[start:min(start+searchChunk, len(emails))]
		terms := make([]string, len(chunk))
		for k, e := range chunk {
			terms[k] = `email:"` + luceneEscape(e) + `"`
		}
		q := url.Values{"q": {strings.Join(terms, " OR ")}, "search_engine": {"v3"}, "per_page": {strconv.Itoa(s.api.PageSize())}}
		var us []json.RawMessage
		if err := s.api.c.GetJSON(ctx, "users", q, &us); err != nil {
			if fatal(ctx, err) {
				return nil, err
			}
			continue // the exact lookup below covers the chunk
		}
		keep(us)
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(lookupPar)
	for _, e := range emails {
		if out[strings.ToLower(e)] != nil {
			continue
		}
		g.Go(func() error {
			var us []json.RawMessage
			if err := s.api.c.GetJSON(gctx, "users-by-email", url.Values{"email": {e}}, &us); err != nil {
				return fmt.Errorf("auth0: look up a user by email: %w", err)
			}
			keep(us)
			return nil
		})
	}
	return out, g.Wait()
}

// missingRoles returns the roles of names the target's user id lacks.
func (s *Auth0) missingRoles(ctx context.Context, names []string, id string) ([]string, error) {
	type role struct {
		Name string `json:"name"`
	}
	have, err := auth0api.List[role](ctx, s.api.Lister, "users/"+url.PathEscape(id)+"/roles", "roles", nil)
	if err != nil {
		return nil, err
	}
	var missing []string
	for _, n := range names {
		if !slices.ContainsFunc(have, func(r role) bool { return r.Name == n }) {
			missing = append(missing, n)
		}
	}
	return missing, nil
}

// finishRoles assigns role name to the users in doubt at idx, as the run that imported
// them would have; a user it cannot be given to differs on roles.
func (s *Auth0) finishRoles(ctx context.Context, name string, idx []int, out []core.Verdict) error {
	roleID, err := s.api.roleID(ctx, name, true)
	if err != nil {
		return err
	}
	if roleID == "" {
		for _, i := range idx {
			out[i].Diff = "roles"
		}
		return nil
	}
	ids := make([]string, 0, len(idx))
	for _, i := range idx {
		ids = append(ids, out[i].TargetID)
	}
	failed, err := s.api.assignRole(ctx, roleID, ids)
	if err != nil {
		return fmt.Errorf("auth0: assign role %q: %w", name, err)
	}
	for _, i := range idx {
		if _, bad := failed[out[i].TargetID]; bad {
			out[i].Diff = "roles"
		}
	}
	return nil
}

// sameField compares an import field with the one read back, in substance: key order
// and spacing aside, and a false, empty or null value equal to its absence.
func sameField(want, got json.RawMessage) bool {
	if blank(want) && blank(got) {
		return true
	}
	return sameJSON(want, got)
}

func blank(r json.RawMessage) bool {
	switch string(bytes.TrimSpace(r)) {
	case "", "null", "false", `""`, "{}", "[]":
		return true
	}
	return false
}
