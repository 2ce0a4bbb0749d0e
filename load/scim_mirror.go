package load

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"

	"github.com/segmentio/encoding/json"

	"github.com/ferry-dev/ferry/internal/core"
	"github.com/ferry-dev/ferry/internal/httpx"
)

// Mirror mode on a SCIM service provider (RFC 7644):
//
//	list        the SCIM Source for the same endpoint (extract/list.go): GET
//	            /Users?attributes=userName,active, by index or by cursor (RFC 9865)
//	deactivate  PATCH /Users/{id} replace active=false (the default: what provisioning
//	            clients such as Entra ID and Okta do when a user leaves; the account and
//	            its history stay, and an upsert run that finds the user in the source
//	            again sets active back); a provider without PATCH gets GET + PUT
//	remove      DELETE /Users/{id} (with --mirror-delete only)
//

var (
	_ core.Mirrored    = (*SCIM)(nil)
	_ core.Remover     = (*SCIM)(nil)
	_ core.Deactivator = (*SCIM)(nil)
)

const (
	scimListPage = 100
	// scimListMaxPages bounds a listing whose provider never says it is done.
	scimListMaxPages  = 1 << 20
	scimPatchOpURN    = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
	scimMirrorParally = 4
)

// MirrorScope implements core.Mirrored: the SCIM Source for the same endpoint lists every
// User of the provider.
func (s *SCIM) MirrorScope() (url.Values, error) { return nil, nil }

// DeactivateUsers implements core.Deactivator.
func (s *SCIM) DeactivateUsers(ctx context.Context, users []core.TargetUser) ([]error, error) {
	body, _ := json.Marshal(map[string]any{
		"schemas":    []string{scimPatchOpURN},
		"Operations": []map[string]any{{"op": "replace", "path": "active", "value": false}},
	})
	return eachUser(ctx, users, scimMirrorParally, func(ctx context.Context, u core.TargetUser) error {
		path := "Users/" + url.PathEscape(u.ID)
		resp, err := s.c.Do(ctx, &httpx.Request{Method: http.MethodPatch, Path: path, Body: body, Idempotent: true,
			AllowStatus: []int{http.StatusNotFound, http.StatusMethodNotAllowed, http.StatusNotImplemented}})
		if err != nil {
			return fmt.Errorf("scim: deactivate user %s: %w", u.ID, err)
		}
		switch resp.Status {
		case http.StatusNotFound:
			return nil // gone already: not active either
		case http.StatusMethodNotAllowed, http.StatusNotImplemented:
			return s.deactivateByPut(ctx, u)
		}
		return nil
	})
}

// deactivateByPut replaces the user with itself, active=false, for providers without
// PATCH (If-Match with its version when it has one, so a concurrent change is not lost).
func (s *SCIM) deactivateByPut(ctx context.Context, u core.TargetUser) error {
	path := "Users/" + url.PathEscape(u.ID)
	var cur map[string]any
	resp, err := s.c.DoJSON(ctx, &httpx.Request{Path: path, AllowStatus: []int{http.StatusNotFound}}, nil, &cur)
	if err != nil {
		return fmt.Errorf("scim: deactivate user %s: read it: %w", u.ID, err)
	}
	if resp.Status == http.StatusNotFound {
		return nil
	}
	if cur == nil {
		return fmt.Errorf("scim: deactivate user %s: the provider returned no user", u.ID)
	}
	ver := version(cur)
	delete(cur, "meta")
	cur["active"] = false
	b, err := json.Marshal(cur)
	if err != nil {
		return err
	}
	r := &httpx.Request{Method: http.MethodPut, Path: path, Body: b}
	if ver != "" {
		r.Header = http.Header{"If-Match": {ver}}
	}
	if _, err := s.c.Do(ctx, r); err != nil {
		if errors.Is(err, httpx.ErrPreconditionFailed) {
			return fmt.Errorf("scim: deactivate user %s: changed meanwhile (412); left as it is, the next run looks again", u.ID)
		}
		return fmt.Errorf("scim: deactivate user %s: %w", u.ID, err)
	}
	return nil
}

// RemoveUsers implements core.Remover: DELETE /Users/{id} (204; a 404 means already gone).
func (s *SCIM) RemoveUsers(ctx context.Context, users []core.TargetUser) ([]error, error) {
	return eachUser(ctx, users, scimMirrorParally, func(ctx context.Context, u core.TargetUser) error {
		_, err := s.c.Do(ctx, &httpx.Request{Method: http.MethodDelete, Path: "Users/" + url.PathEscape(u.ID),
			AllowStatus: []int{http.StatusNotFound}})
		if err != nil {
			return fmt.Errorf("scim: delete user %s: %w", u.ID, err)
		}
		return nil
	})
}
