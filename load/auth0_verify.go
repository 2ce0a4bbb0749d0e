package load

import (
	"bytes"
	"context"
	"net/url"
	"slices"
	"strings"

	"github.com/segmentio/encoding/json"
	"golang.org/x/sync/errgroup"

	"github.com/ferry-dev/ferry/internal/core"
)

var _ core.Verifier = (*Auth0)(nil)

// auth0NotCompared are import fields a user read back never shows (Auth0 keeps hashes
// and MFA secrets out of every answer) or shows in another form (user_id, compared with
// its "auth0|" prefix).
var auth0NotCompared = map[string]bool{"password_hash": true, "custom_password_hash": true, "mfa_factors": true, "user_id": true}

// Verify implements core.Verifier for users an import refused as DUPLICATED_USER: each is
// read back by GET /users-by-email (exact, not subject to the search index's lag) and the
// connection's user compared field by field with the import item ferry sent; then its
// roles with the user's. Auth0 fills in name, nickname and picture when an import leaves
// them out: only what the item holds is compared.
//
// A bulk import cannot assign roles, so ferry assigns them after the job, and a run killed
// in between leaves a user of its own without them. For a user in doubt (Item.InDoubt: an
// earlier run of this migration sent it) whose profile is the one sent, Verify finishes
// that assignment: the only write it makes, adding what this migration meant to write to
// a user this migration wrote. A user not in doubt that lacks roles stays a conflict.
func (s *Auth0) Verify(ctx context.Context, items []core.Item) ([]core.Verdict, error) {
	out := make([]core.Verdict, len(items))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(lookupPar)
	for i := range items {
		g.Go(func() error {
			v, err := s.verifyOne(gctx, &items[i])
			out[i] = v
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return out, nil
}

func (s *Auth0) verifyOne(ctx context.Context, it *core.Item) (core.Verdict, error) {
	var want map[string]json.RawMessage
	if json.Unmarshal(it.Data, &want) != nil {
		return core.Verdict{}, nil
	}
	var email, localID string
	_ = json.Unmarshal(want["email"], &email)
	_ = json.Unmarshal(want["user_id"], &localID)
	var us []json.RawMessage
	if err := s.api.c.GetJSON(ctx, "users-by-email", url.Values{"email": {email}}, &us); err != nil {
		if fatal(ctx, err) {
			return core.Verdict{}, err
		}
		return core.Verdict{}, nil // not read back: the refusal stands
	}
	for _, raw := range us {
		var head apiUser
		var got map[string]json.RawMessage
		if json.Unmarshal(raw, &head) != nil || json.Unmarshal(raw, &got) != nil || !s.inConnection(&head) {
			continue
		}
		v := core.Verdict{Found: true, TargetID: head.UserID}
		var diff []string
		if localID != "" && head.UserID != "auth0|"+localID {
			diff = append(diff, "user_id")
		}
		for k, w := range want {
			if auth0NotCompared[k] {
				continue
			}
			if k == "email" {
				var g string
				_ = json.Unmarshal(got[k], &g)
				if !strings.EqualFold(g, email) {
					diff = append(diff, k)
				}
				continue
			}
			if !sameField(w, got[k]) {
				diff = append(diff, k)
			}
		}
		if len(diff) == 0 {
			missing, err := s.missingRoles(ctx, it, head.UserID)
			if err != nil {
				if fatal(ctx, err) {
					return core.Verdict{}, err
				}
				diff = append(diff, "roles (not readable: "+s.api.c.Redact(err.Error())+")")
			} else if len(missing) > 0 {
				diff = append(diff, "roles")
			}
		}
		slices.Sort(diff)
		v.Diff = strings.Join(diff, ", ")
		v.Same = v.Diff == ""
		return v, nil
	}
	return core.Verdict{}, nil
}

// missingRoles returns the roles the user should have and the target's user id lacks,
// after assigning them when the user is in doubt.
func (s *Auth0) missingRoles(ctx context.Context, it *core.Item, id string) ([]string, error) {
	names := roleNames(it.User)
	if len(names) == 0 {
		return nil, nil
	}
	have, err := list[struct {
		Name string `json:"name"`
	}](ctx, s.api, "users/"+url.PathEscape(id)+"/roles", "roles", nil)
	if err != nil {
		return nil, err
	}
	var missing []string
	for _, n := range names {
		if !slices.ContainsFunc(have, func(r struct {
			Name string `json:"name"`
		}) bool {
			return r.Name == n
		}) {
			missing = append(missing, n)
		}
	}
	if len(missing) == 0 || !it.InDoubt {
		return missing, nil
	}
	var left []string
	for _, n := range missing {
		roleID, err := s.api.roleID(ctx, n, true)
		if err != nil {
			return nil, err
		}
		if roleID == "" {
			left = append(left, n)
			continue
		}
		failed, err := s.api.assignRole(ctx, roleID, []string{id})
		if err != nil {
			return nil, err
		}
		if _, bad := failed[id]; bad {
			left = append(left, n)
		}
	}
	return left, nil
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
