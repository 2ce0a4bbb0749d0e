package extract

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/segmentio/encoding/json"

	"github.com/ferry-dev/ferry/internal/core"
	"github.com/ferry-dev/ferry/internal/endpoint"
	"github.com/ferry-dev/ferry/internal/scimgroups"
	"github.com/ferry-dev/ferry/schemas"
)

// A SCIM provider's Groups are its roles catalog: each group is a role named by its
// displayName, and each user carries the names of its groups in "roles" (roles[].value),
// the way the Auth0 and App ID sources hand over memberships, so every target assigns
// them as it assigns roles. Groups and members are read once, before the first user:
// the list without members, then each group's members (a group over the provider's list
// limit comes whole).

var _ core.RoleReader = (*SCIM)(nil)

// scimGroupReaders is how many groups' members are read at once.
const scimGroupReaders = 4

// groups reads the provider's groups with their members once.
func (s *SCIM) groups(ctx context.Context) ([]scimgroups.Group, error) {
	s.grpMu.Lock()
	defer s.grpMu.Unlock()
	if s.grpRead {
		return s.grpList, s.grpErr
	}
	gs, err := scimgroups.ListWithMembers(ctx, s.api, scimGroupReaders)
	if errors.Is(err, scimgroups.ErrUnsupported) {
		err = fmt.Errorf("scim: %s: %w (it serves no /Groups)", endpoint.Redact(s.base), core.ErrNoCatalog)
	} else if err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("scim: groups: %w", err) // not cached: a later call may succeed
		}
		err = fmt.Errorf("scim: groups: %w", err)
	}
	s.grpList, s.grpErr, s.grpRead = gs, err, true
	if err == nil {
		s.memberOf = make(map[string][]string)
		for _, g := range gs {
			for _, id := range g.Members {
				if !containsFold(s.memberOf[id], g.Name) {
					s.memberOf[id] = append(s.memberOf[id], g.Name)
				}
			}
		}
	}
	return gs, err
}

// Roles implements core.RoleReader: the provider's groups, by displayName. SCIM groups
// have no permissions or descriptions.
func (s *SCIM) Roles(ctx context.Context) (*core.Catalog, error) {
	gs, err := s.groups(ctx)
	if err != nil {
		return nil, err
	}
	cat := &core.Catalog{Roles: make([]core.Role, 0, len(gs))}
	for _, g := range gs {
		cat.Roles = append(cat.Roles, core.Role{Name: g.Name})
	}
	return cat, nil
}

func containsFold(list []string, s string) bool {
	for _, x := range list {
		if strings.EqualFold(x, s) {
			return true
		}
	}
	return false
}

// withGroups returns the record with the user's group names among its roles. A record
// that has roles of its own keeps them, first, and gains the groups it lacks.
func withGroups(raw []byte, groups []string) []byte {
	if len(groups) == 0 {
		return raw
	}
	var probe struct {
		Roles json.RawMessage `json:"roles"`
	}
	if json.Unmarshal(raw, &probe) != nil {
		return raw // the decoder rejects it with the reason
	}
	var have []schemas.MultiValued
	if r := bytes.TrimSpace(probe.Roles); len(r) > 0 && !bytes.Equal(r, []byte("null")) {
		if json.Unmarshal(r, &have) != nil {
			return raw // malformed roles: left for the decoder to name
		}
	}
	roles := make([]schemas.MultiValued, 0, len(have)+len(groups))
	roles = append(roles, have...)
	for _, g := range groups {
		dup := false
		for _, r := range have {
			if strings.EqualFold(r.Value, g) {
				dup = true
				break
			}
		}
		if !dup {
			roles = append(roles, schemas.MultiValued{Value: g})
		}
	}
	b, _ := json.Marshal(roles)
	if len(have) == 0 && probe.Roles == nil {
		if out, ok := spliceMember(raw, "roles", b); ok {
			return out
		}
		return raw
	}
	// Replace the roles member: re-encode the object (its members' values are kept as
	// read, byte for byte).
	var m map[string]json.RawMessage
	if json.Unmarshal(raw, &m) != nil {
		return raw
	}
	for k := range m {
		if strings.EqualFold(k, "roles") {
			delete(m, k)
		}
	}
	m["roles"] = b
	out, err := json.Marshal(m)
	if err != nil {
		return raw
	}
	return out
}
