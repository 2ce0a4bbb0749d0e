package load

import (
	"context"
	"slices"
	"strings"

	"github.com/segmentio/encoding/json"

	"github.com/ferry-dev/ferry/internal/core"
)

var _ core.Verifier = (*AppID)(nil)

// Verify implements core.Verifier for profiles an import refused as existing: each is
// looked up as the recovery path does (GET /users?dataScope=full by e-mail, or by its
// identity's id, from the same identity provider) and compared with the import item:
// name, e-mail, picture, custom attributes, role names, and the identities by provider
// and id (App ID issues its own profile id, and may enrich idpUserInfo). Cloud Directory
// users are read back through the Cloud Directory user API (verifyCD, appid_cd_verify.go).
func (a *AppID) Verify(ctx context.Context, items []core.Item) ([]core.Verdict, error) {
	out := make([]core.Verdict, len(items))
	if a.cd {
		return a.verifyCD(ctx, items)
	}
	seen := map[string]bool{}
	for i := range items {
		it, err := a.prepare(i, &items[i], seen)
		if err != nil {
			continue
		}
		v, err := a.verifyOne(ctx, it)
		if err != nil {
			return nil, err
		}
		out[i] = v
	}
	return out, nil
}

// appIDProfile is what Verify compares of an import item and of a profile read back.
type appIDProfile struct {
	Name       string          `json:"name"`
	Email      string          `json:"email"`
	Picture    string          `json:"picture"`
	Attributes json.RawMessage `json:"attributes"`
	Roles      []string        `json:"roles"`
	Identities []struct {
		Provider string          `json:"provider"`
		ID       json.RawMessage `json:"id"`
	} `json:"identities"`
}

func (a *AppID) verifyOne(ctx context.Context, it *appIDItem) (core.Verdict, error) {
	by := *it
	if by.idpID != "" {
		// The identity is what App ID refused as taken, and it is unique; an e-mail may
		// belong to several profiles of one provider.
		by.email = ""
	}
	f, err := a.find(ctx, &by, "full")
	if err != nil {
		if fatal(ctx, err) {
			return core.Verdict{}, err
		}
		return core.Verdict{}, nil // not read back: the refusal stands
	}
	if f == nil {
		return core.Verdict{}, nil
	}
	var want, got appIDProfile
	if json.Unmarshal(it.data, &want) != nil || json.Unmarshal(f.raw, &got) != nil {
		return core.Verdict{Found: true, TargetID: f.ID, Diff: "(unreadable profile)"}, nil
	}
	var diff []string
	if want.Name != got.Name {
		diff = append(diff, "name")
	}
	if !strings.EqualFold(want.Email, got.Email) {
		diff = append(diff, "email")
	}
	if want.Picture != got.Picture {
		diff = append(diff, "picture")
	}
	if !sameJSON(want.Attributes, got.Attributes) {
		diff = append(diff, "attributes")
	}
	if !sameSet(want.Roles, got.Roles) {
		diff = append(diff, "roles")
	}
	ids := func(p appIDProfile) []string {
		var out []string
		for _, x := range p.Identities {
			out = append(out, x.Provider+"/"+strings.Trim(string(x.ID), `"`))
		}
		return out
	}
	if !slices.Equal(ids(want), ids(got)) {
		diff = append(diff, "identities")
	}
	v := core.Verdict{Found: true, TargetID: f.ID, Diff: strings.Join(diff, ", ")}
	v.Same = v.Diff == ""
	return v, nil
}
