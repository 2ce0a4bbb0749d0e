package load

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"

	"golang.org/x/sync/errgroup"

	"github.com/ferry-dev/ferry/internal/core"
	"github.com/ferry-dev/ferry/internal/httpx"
	"github.com/ferry-dev/ferry/internal/scimgroups"
)

// Groups on a SCIM target are its roles catalog (by displayName) and a user's roles are
// its group memberships:
//
//	catalog      GET /Groups?excludedAttributes=members (paged); POST /Groups to create
//	members      GET /Groups/{id}?attributes=members, once per group, at the first Write
//	             that needs them, so a re-run adds no membership twice
//	add          PATCH /Groups/{id} op add path members, per group, in batches the
//	             provider accepts (start at 100, halve on 400 tooMany)
//	remove       --mirror: PATCH op remove path members[value eq "id"] for the groups
//	             the source knows and the user left
//
// Memberships are written in the Write that wrote the users (their ids are known then),
// so a crash or a resume loses none. A user's roles travel only as memberships: the
// user resource is written without a roles attribute (RFC 7643 groups are read-only on a
// User, and a roles copy would go stale as memberships change). SCIM groups have no
// descriptions or permissions: MapCatalog drops them, and the change log says so.

var (
	_ core.RoleReader       = (*SCIM)(nil)
	_ core.RoleWriter       = (*SCIM)(nil)
	_ core.CatalogMapper    = (*SCIM)(nil)
	_ core.RoleAssigner     = (*SCIM)(nil)
	_ core.MembershipMirror = (*SCIM)(nil)
)

// scimGroupReaders is how many groups' members are read at once.
const scimGroupReaders = 4

type scimGroup struct {
	id, name string
	members  map[string]bool // user ids; nil until read
	// What this run's PATCHes changed, for Close to read back.
	added, removed map[string]bool
}

// scimGroupState is what the sink knows of the target's groups, shared by the Writes.
type scimGroupState struct {
	mu      sync.Mutex
	byName  map[string]*scimGroup // lower-cased displayName
	full    bool                  // members read
	mirror  map[string]bool       // lower-cased names of groups mirror mode manages; nil: none
	patcher *scimgroups.Patcher
}

func (s *SCIM) groupState() *scimGroupState {
	s.grpOnce.Do(func() {
		s.grp = &scimGroupState{byName: map[string]*scimGroup{}, patcher: scimgroups.NewPatcher(s.c, 0)}
	})
	return s.grp
}

// AssignsRoles implements core.RoleAssigner: roles become group memberships.
func (s *SCIM) AssignsRoles() {}

// MirrorMemberships implements core.MembershipMirror.
func (s *SCIM) MirrorMemberships(roles []string) {
	st := s.groupState()
	st.mu.Lock()
	defer st.mu.Unlock()
	st.mirror = make(map[string]bool, len(roles))
	for _, r := range roles {
		st.mirror[strings.ToLower(r)] = true
	}
}

// Roles implements core.RoleReader: the target's groups, by displayName.
func (s *SCIM) Roles(ctx context.Context) (*core.Catalog, error) {
	gs, err := scimgroups.List(ctx, s.c)
	if errors.Is(err, scimgroups.ErrUnsupported) {
		// No groups at all: users without roles still go; the preflight names any role
		// a user needs, and CreateRoles says why it cannot make one.
		return &core.Catalog{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("scim: %w", err)
	}
	st := s.groupState()
	st.mu.Lock()
	defer st.mu.Unlock()
	cat := &core.Catalog{Roles: make([]core.Role, 0, len(gs))}
	for _, g := range gs {
		st.learn(g.ID, g.Name)
		cat.Roles = append(cat.Roles, core.Role{Name: g.Name})
	}
	return cat, nil
}

// learn records a group; must hold st.mu.
func (st *scimGroupState) learn(id, name string) *scimGroup {
	k := strings.ToLower(name)
	if g := st.byName[k]; g != nil && g.id == id {
		return g
	}
	g := &scimGroup{id: id, name: name}
	if st.full {
		g.members = map[string]bool{}
	}
	st.byName[k] = g
	return g
}

// MapCatalog implements core.CatalogMapper: a SCIM group is a name only.
func (s *SCIM) MapCatalog(c *core.Catalog) *core.Catalog {
	if c == nil {
		return nil
	}
	out := &core.Catalog{Roles: make([]core.Role, 0, len(c.Roles))}
	for _, r := range c.Roles {
		out.Roles = append(out.Roles, core.Role{Name: r.Name})
	}
	return out
}

// CreateRoles implements core.RoleWriter: one empty group per missing role.
func (s *SCIM) CreateRoles(ctx context.Context, missing *core.Catalog) error {
	if missing == nil {
		return nil
	}
	st := s.groupState()
	for _, r := range missing.Roles {
		g, err := scimgroups.Create(ctx, s.c, r.Name)
		if errors.Is(err, httpx.ErrNotFound) {
			return fmt.Errorf("scim: %s serves no /Groups, so role %q cannot become a group there: %w", s.Name(), r.Name, err)
		}
		if err != nil {
			return fmt.Errorf("scim: %w", err)
		}
		st.mu.Lock()
		st.learn(g.ID, g.Name)
		st.mu.Unlock()
	}
	return nil
}

// loadMembers reads every group's members once; must hold st.mu.
func (s *SCIM) loadMembers(ctx context.Context, st *scimGroupState) error {
	if st.full {
		return nil
	}
	gs, err := scimgroups.ListWithMembers(ctx, s.c, scimGroupReaders)
	if errors.Is(err, scimgroups.ErrUnsupported) {
		gs, err = nil, nil // no groups: a user with roles is rejected naming the group
	}
	if err != nil {
		return fmt.Errorf("scim: %w", err)
	}
	st.byName = make(map[string]*scimGroup, len(gs))
	for _, g := range gs {
		m := make(map[string]bool, len(g.Members))
		for _, id := range g.Members {
			m[id] = true
		}
		st.byName[strings.ToLower(g.Name)] = &scimGroup{id: g.ID, name: g.Name, members: m}
	}
	st.full = true
	return nil
}

// writeMemberships gives the users of a batch that were written (or found unchanged) the
// groups of their roles, and with mirror mode takes them out of the known groups they
// left. A user whose membership could not be written is rejected with the reason: it is
// in the target, but not as the source has it.
func (s *SCIM) writeMemberships(ctx context.Context, batch []core.Item, res []core.Result) error {
	type change struct {
		g   *scimGroup
		ids []string
		idx map[string][]int
	}
	st := s.groupState()
	st.mu.Lock()
	mirror := st.mirror
	need := false
	for i := range batch {
		if ok := inTarget(res[i]); ok && (len(roleNames(batch[i].User)) > 0 || mirror != nil) {
			need = true
			break
		}
	}
	if !need {
		st.mu.Unlock()
		return nil
	}
	if err := s.loadMembers(ctx, st); err != nil {
		st.mu.Unlock()
		return err
	}
	adds, removes := map[string]*change{}, map[string]*change{}
	note := func(m map[string]*change, g *scimGroup, id string, i int) {
		c := m[g.id]
		if c == nil {
			c = &change{g: g, idx: map[string][]int{}}
			m[g.id] = c
		}
		if _, dup := c.idx[id]; !dup {
			c.ids = append(c.ids, id)
		}
		c.idx[id] = append(c.idx[id], i)
	}
	var missing []int
	var missingName []string
	for i := range batch {
		id := res[i].TargetID
		if !inTarget(res[i]) || id == "" {
			continue
		}
		want := map[string]bool{}
		for _, name := range roleNames(batch[i].User) {
			want[strings.ToLower(name)] = true
			g := st.byName[strings.ToLower(name)]
			switch {
			case g == nil:
				missing, missingName = append(missing, i), append(missingName, name)
			case !g.members[id]:
				note(adds, g, id, i)
			}
		}
		for k := range mirror {
			if g := st.byName[k]; g != nil && !want[k] && g.members[id] {
				note(removes, g, id, i)
			}
		}
	}
	st.mu.Unlock()
	fail := func(i int, why string) {
		if res[i].Outcome == core.Rejected {
			res[i].Reason += "; " + why
			return
		}
		res[i] = core.Result{Outcome: core.Rejected, TargetID: res[i].TargetID, Exists: res[i].Exists,
			Reason: fmt.Sprintf("scim: user written as %s but %s", res[i].TargetID, why)}
	}
	for k, i := range missing {
		fail(i, fmt.Sprintf("group %q does not exist in the target (run the roles preflight, or --create-missing-roles)", missingName[k]))
	}
	apply := func(m map[string]*change, verb string, f func(context.Context, string, []string) error, done func(*scimGroup, string)) error {
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Slice(keys, func(a, b int) bool { return m[keys[a]].g.name < m[keys[b]].g.name })
		for _, k := range keys {
			c := m[k]
			if err := f(ctx, c.g.id, c.ids); err != nil {
				if fatal(ctx, err) {
					return err
				}
				for _, idx := range c.idx {
					for _, i := range idx {
						fail(i, fmt.Sprintf("%s group %q failed: %s", verb, c.g.name, s.c.Redact(err.Error())))
					}
				}
				continue
			}
			st.mu.Lock()
			for _, id := range c.ids {
				done(c.g, id)
			}
			st.mu.Unlock()
		}
		return nil
	}
	if err := apply(adds, "joining", st.patcher.Add, func(g *scimGroup, id string) {
		g.members[id] = true
		g.added = setAdd(g.added, id)
		delete(g.removed, id)
	}); err != nil {
		return err
	}
	return apply(removes, "leaving", st.patcher.Remove, func(g *scimGroup, id string) {
		delete(g.members, id)
		g.removed = setAdd(g.removed, id)
		delete(g.added, id)
	})
}

func setAdd(m map[string]bool, k string) map[string]bool {
	if m == nil {
		m = map[string]bool{}
	}
	m[k] = true
	return m
}

// ErrMembershipsNotKept is returned by Close when the target does not hold memberships
// whose PATCH it answered with success.
var ErrMembershipsNotKept = errors.New("the target does not hold group memberships it accepted")

// Close reads back the members of every group this run changed. A PATCH answered 200 is
// not proof: SCIMMY, given excludedAttributes=members, answered 200 and replaced the
// members with the batch sent, and a server that writes a group read-modify-write can
// lose a batch the same way. Without this read the summary would count those users
// written while they lack their groups. One GET per changed group.
func (s *SCIM) Close(ctx context.Context) error {
	if s.grp == nil {
		return nil
	}
	st := s.grp
	st.mu.Lock()
	var changed []*scimGroup
	for _, g := range st.byName {
		if len(g.added)+len(g.removed) > 0 {
			changed = append(changed, g)
		}
	}
	st.mu.Unlock()
	sort.Slice(changed, func(a, b int) bool { return changed[a].name < changed[b].name })
	lost := make([]string, len(changed))
	eg, ectx := errgroup.WithContext(ctx)
	eg.SetLimit(scimGroupReaders)
	for i, g := range changed {
		eg.Go(func() error {
			ids, err := scimgroups.Members(ectx, s.c, g.id)
			if err != nil {
				return fmt.Errorf("scim: read back group %q: %w", g.name, err)
			}
			held := make(map[string]bool, len(ids))
			for _, id := range ids {
				held[id] = true
			}
			missing, kept := 0, 0
			for id := range g.added {
				if !held[id] {
					missing++
				}
			}
			for id := range g.removed {
				if held[id] {
					kept++
				}
			}
			var what []string
			if missing > 0 {
				what = append(what, fmt.Sprintf("lacks %d of the %d members added", missing, len(g.added)))
			}
			if kept > 0 {
				what = append(what, fmt.Sprintf("still holds %d of the %d removed", kept, len(g.removed)))
			}
			if len(what) > 0 {
				lost[i] = fmt.Sprintf("group %q %s", g.name, strings.Join(what, " and "))
			}
			return nil
		})
	}
	if err := eg.Wait(); err != nil {
		return err
	}
	var bad []string
	for _, l := range lost {
		if l != "" {
			bad = append(bad, l)
		}
	}
	if len(bad) == 0 {
		return nil
	}
	if len(bad) > 5 {
		bad = append(bad[:5], fmt.Sprintf("and %d groups more", len(bad)-5))
	}
	return fmt.Errorf("scim: %w: %s (run the same command again with --upsert to write what is missing)", ErrMembershipsNotKept, strings.Join(bad, "; "))
}

// inTarget says a result leaves the user in the target as the source has it.
func inTarget(r core.Result) bool { return written(r.Outcome) || r.Outcome == core.Unchanged }

// finishMemberships gives the users in doubt that the target holds as ferry would write
// them (an earlier run wrote them and died before their memberships) their groups, as
// that run would have; one that cannot have them differs on groups. Users not in doubt
// are another run's, and are not touched: one that lacks a group of its roles differs on
// groups (as an Auth0 user lacking a role does), so that the summary does not count it
// unchanged while the target holds less than the source.
func (s *SCIM) finishMemberships(ctx context.Context, items []core.Item, out []core.Verdict) error {
	if err := s.lackingGroups(ctx, items, out); err != nil {
		return err
	}
	res := make([]core.Result, len(items))
	inDoubt := false
	for i := range items {
		if items[i].InDoubt && out[i].Same && out[i].TargetID != "" {
			res[i] = core.Result{Outcome: core.Unchanged, TargetID: out[i].TargetID}
			inDoubt = true
		} else {
			res[i] = core.Result{Outcome: core.Rejected}
		}
	}
	if !inDoubt {
		return nil
	}
	if err := s.writeMemberships(ctx, items, res); err != nil {
		return err
	}
	for i := range items {
		if items[i].InDoubt && out[i].Same && res[i].Outcome == core.Rejected {
			out[i].Same, out[i].Diff = false, "groups"
		}
	}
	return nil
}

// lackingGroups marks Diff "groups" on the users not in doubt, held as ferry would write
// them, that are not members of every group their roles name (a group the target lacks
// included). It only reads.
func (s *SCIM) lackingGroups(ctx context.Context, items []core.Item, out []core.Verdict) error {
	var check []int
	for i := range items {
		if !items[i].InDoubt && out[i].Same && out[i].TargetID != "" && len(roleNames(items[i].User)) > 0 {
			check = append(check, i)
		}
	}
	if len(check) == 0 {
		return nil
	}
	st := s.groupState()
	st.mu.Lock()
	defer st.mu.Unlock()
	if err := s.loadMembers(ctx, st); err != nil {
		return err
	}
	for _, i := range check {
		for _, name := range roleNames(items[i].User) {
			if g := st.byName[strings.ToLower(name)]; g == nil || !g.members[out[i].TargetID] {
				out[i].Same, out[i].Diff = false, "groups"
				break
			}
		}
	}
	return nil
}
