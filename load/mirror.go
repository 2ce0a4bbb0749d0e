package load

import (
	"context"
	"fmt"
	"github.com/ferry-dev/ferry/schemas"
	"hash/maphash"
	"sort"
	"strings"
	"sync"

	"golang.org/x/sync/errgroup"

	"github.com/ferry-dev/ferry/internal/core"
)

// Mirror mode: after a complete, successful migrate run, remove from the target the users
// that are no longer in the source. Every guard is on the side of keeping users:
//
//   - the source side (KeepSet) must be complete: one record that could not be decoded, a
//     failed or interrupted read, --since or a resumed run, and nothing is removed;
//   - the target listing must be complete: a listing that fails part way removes nothing;
//   - a target user is kept when any of its keys (name, email, id) is a source key, and a
//     target user with no name at all is never removed;
//   - more than MaxDelete removals are refused without Force, and an empty source is
//     refused always (a wrong connection name must not wipe a tenant);
//   - SCIM targets are deactivated (active=false), not deleted, unless Delete is set.

// ErrMirrorRefused means mirror mode removed nothing because a guard refused. It wraps
// core.ErrAborted (exit status 3).
var ErrMirrorRefused error = mirrorRefused{}

type mirrorRefused struct{}

func (mirrorRefused) Error() string { return "mirror refused" }
func (mirrorRefused) Unwrap() error { return core.ErrAborted }

// MirrorConfig sets the guards.
type MirrorConfig struct {
	// MaxDelete is the most users removed without Force.
	MaxDelete int
	// Force allows more than MaxDelete removals.
	Force bool
	// DryRun lists the users that would be removed, and removes none.
	DryRun bool
	// Delete deletes users even where the target can deactivate them (SCIM): the default
	// there is active=false, what provisioning clients (Entra ID, Okta) do.
	Delete bool
	// Batch is the users per RemoveUsers call; default 100.
	Batch int
}

// MirrorUser is one user mirror mode would remove, or removed, or failed to.
type MirrorUser struct {
	core.TargetUser
	// Status is "would remove", "would deactivate", "removed", "deactivated", "failed", or
	// "not attempted" (the run stopped first).
	Status string `json:"status"`
	Error  string `json:"error,omitempty"`
}

// MirrorReport is what mirror mode did.
type MirrorReport struct {
	// Action is "remove" or "deactivate".
	Action string `json:"action"`
	DryRun bool   `json:"dry_run,omitempty"`
	// Listed target users; Kept ones are in the source; Unidentified ones have no name to
	// match by and are kept; AlreadyInactive ones are gone from the source but already
	// deactivated.
	Listed          int64 `json:"listed"`
	Kept            int64 `json:"kept"`
	Unidentified    int64 `json:"unidentified,omitempty"`
	AlreadyInactive int64 `json:"already_inactive,omitempty"`
	// Candidates is how many users are gone from the source (and active).
	Candidates int `json:"candidates"`
	Removed    int `json:"removed"`
	Failed     int `json:"failed"`
	// OverLimit says Candidates exceeds MaxDelete: a real run needs Force.
	OverLimit bool `json:"over_limit,omitempty"`
	MaxDelete int  `json:"max_delete"`
	// Users are the candidates with what became of each (only the first few when the run
	// was refused over the limit).
	Users []MirrorUser `json:"users,omitempty"`
}

// refusedShown is how many candidates a refusal names.
const refusedShown = 20

const mirrorBatch = 100

// Mirror lists the target's users with list (the Source for the target's endpoint,
// scoped by its core.Mirrored) and removes from target (or deactivates) those whose keys
// are not in keep.
func Mirror(ctx context.Context, list core.Lister, target core.Sink, keep *KeepSet, cfg MirrorConfig) (MirrorReport, error) {
	rep := MirrorReport{DryRun: cfg.DryRun, MaxDelete: cfg.MaxDelete}
	if cfg.MaxDelete < 0 {
		return rep, fmt.Errorf("mirror: --max-delete %d is negative: %w", cfg.MaxDelete, core.ErrUsage)
	}
	if cfg.Batch <= 0 {
		cfg.Batch = mirrorBatch
	}
	if list == nil {
		return rep, fmt.Errorf("mirror: target %s cannot list its users (mirror mode needs an Auth0, App ID or SCIM target): %w", target.Name(), core.ErrUsage)
	}
	action, apply, err := mirrorAction(target, cfg.Delete)
	if err != nil {
		return rep, err
	}
	rep.Action = action
	if keep == nil {
		return rep, fmt.Errorf("%w: no source users were collected", ErrMirrorRefused)
	}
	if ok, why := keep.Complete(); !ok {
		return rep, fmt.Errorf("%w: the source was not read completely (%s); nothing removed", ErrMirrorRefused, why)
	}
	if keep.Len() == 0 {
		return rep, fmt.Errorf("%w: the source has no users; mirroring it would empty the target %s (check the source endpoint and connection)", ErrMirrorRefused, target.Name())
	}

	// Without Force, a refusal only needs the count and the first names: do not hold a
	// whole tenant in memory to say no.
	limit := -1
	if !cfg.Force && !cfg.DryRun {
		limit = max(cfg.MaxDelete, refusedShown) + 1
	}
	var cands []core.TargetUser
	seen := newIDSet()
	err = list.ListUsers(ctx, func(u core.TargetUser) error {
		if u.ID != "" && !seen.add(u.ID) {
			return nil // a page repeated it
		}
		rep.Listed++
		switch {
		case u.UserName == "":
			rep.Unidentified++
		case keep.Has(u.UserName) || keep.Has(u.Email) || keep.Has(u.ID):
			rep.Kept++
		case u.ID == "":
			rep.Unidentified++ // nothing to address it by
		case u.Inactive && action == "deactivate":
			rep.AlreadyInactive++
		default:
			rep.Candidates++
			if limit < 0 || len(cands) < limit {
				cands = append(cands, u)
			}
		}
		return nil
	})
	if err != nil {
		return rep, fmt.Errorf("%w: listing the target's users failed after %d: %w", ErrMirrorRefused, rep.Listed, err)
	}
	sort.Slice(cands, func(i, j int) bool {
		a, b := strings.ToLower(cands[i].UserName), strings.ToLower(cands[j].UserName)
		if a != b {
			return a < b
		}
		return cands[i].ID < cands[j].ID
	})
	rep.OverLimit = rep.Candidates > cfg.MaxDelete
	if cfg.DryRun {
		rep.Users = make([]MirrorUser, len(cands))
		for i, u := range cands {
			rep.Users[i] = MirrorUser{TargetUser: u, Status: "would " + action}
		}
		return rep, nil
	}
	if rep.OverLimit && !cfg.Force {
		n := min(len(cands), refusedShown)
		rep.Users = make([]MirrorUser, n)
		names := make([]string, n)
		for i, u := range cands[:n] {
			rep.Users[i] = MirrorUser{TargetUser: u, Status: "not attempted"}
			names[i] = u.UserName
		}
		more := ""
		if rep.Candidates > n {
			more = fmt.Sprintf(" and %d more", rep.Candidates-n)
		}
		return rep, fmt.Errorf("%w: %d users of %s are gone from the source, more than --max-delete %d (run with --dry-run to see them all, raise --max-delete or add --force): %s%s",
			ErrMirrorRefused, rep.Candidates, target.Name(), cfg.MaxDelete, strings.Join(names, ", "), more)
	}
	rep.Users = make([]MirrorUser, len(cands))
	for i, u := range cands {
		rep.Users[i] = MirrorUser{TargetUser: u, Status: "not attempted"}
	}
	done := action + "d"
	if action == "remove" {
		done = "removed"
	}
	for start := 0; start < len(cands); start += cfg.Batch {
		chunk := cands[start:min(start+cfg.Batch, len(cands))]
		errs, err := apply(ctx, chunk)
		if err == nil && len(errs) != len(chunk) {
			err = fmt.Errorf("mirror: target %s answered %d results for %d users", target.Name(), len(errs), len(chunk))
		}
		if err != nil {
			return rep, fmt.Errorf("mirror: %s users in %s: %w (%d %s before the failure): %w", action, target.Name(), err, rep.Removed, done, core.ErrAborted)
		}
		for i, e := range errs {
			mu := &rep.Users[start+i]
			if e != nil {
				mu.Status, mu.Error = "failed", e.Error()
				rep.Failed++
				continue
			}
			mu.Status = done
			rep.Removed++
		}
	}
	return rep, nil
}

// mirrorAction picks deactivation or deletion for target.
func mirrorAction(target core.Sink, del bool) (string, func(context.Context, []core.TargetUser) ([]error, error), error) {
	if d, ok := target.(core.Deactivator); ok && !del {
		return "deactivate", d.DeactivateUsers, nil
	}
	if r, ok := target.(core.Remover); ok {
		return "remove", r.RemoveUsers, nil
	}
	return "", nil, fmt.Errorf("mirror: target %s cannot remove users: %w", target.Name(), core.ErrUsage)
}

// eachUser runs fn for every user, par at a time, and returns one error per user. fn's
// error is the user's, unless fatal says it ends the removal (auth, cancelled).
func eachUser(ctx context.Context, users []core.TargetUser, par int, fn func(context.Context, core.TargetUser) error) ([]error, error) {
	out := make([]error, len(users))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(max(1, par))
	for i, u := range users {
		g.Go(func() error {
			err := fn(gctx, u)
			if err != nil && fatal(gctx, err) {
				return err
			}
			out[i] = err
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return out, nil
}

// KeepSet holds the keys (userNames, emails, source ids) of every user a source yielded,
// compared case-insensitively, and whether the source was read completely. It is safe
// for concurrent use (the pipeline observes users from several workers).
//
// Memory: a 64-bit hash per key (maphash, a seed drawn per process, so keys cannot be
// crafted to collide) in pointer-free maps the garbage collector does not scan: about
// 40 bytes a key, 80 MB for a million users with a name and an email each.
//
// Collisions: a target key falsely matching one of n source keys has odds n/2⁶⁴, under
// 10⁻¹² for ten million keys. A false match can only KEEP a target user that should have
// been removed (it stays, to be removed by a later run), never remove one that should
// stay: the safe direction, which is why exact strings are not worth their memory here.
type KeepSet struct {
	seed   maphash.Seed
	shards [keepShards]keepShard

	mu         sync.Mutex
	incomplete []string // why the source side is partial (first few)
	nIncomp    int
}

const keepShards = 32

type keepShard struct {
	mu sync.Mutex
	m  map[uint64]struct{}
	_  [40]byte // keep neighbouring shards' locks off one cache line
}

// NewKeepSet returns an empty, complete set.
func NewKeepSet() *KeepSet {
	k := &KeepSet{seed: maphash.MakeSeed()}
	for i := range k.shards {
		k.shards[i].m = make(map[uint64]struct{})
	}
	return k
}

// Add records a key; an empty key is ignored.
func (k *KeepSet) Add(key string) {
	if key == "" {
		return
	}
	h := schemas.FoldHash(k.seed, key)
	sh := &k.shards[h%keepShards]
	sh.mu.Lock()
	sh.m[h] = struct{}{}
	sh.mu.Unlock()
}

// Has reports whether key (case-insensitively) was added; never for an empty key.
func (k *KeepSet) Has(key string) bool {
	if key == "" {
		return false
	}
	h := schemas.FoldHash(k.seed, key)
	sh := &k.shards[h%keepShards]
	sh.mu.Lock()
	_, ok := sh.m[h]
	sh.mu.Unlock()
	return ok
}

// Len is the number of distinct keys.
func (k *KeepSet) Len() int {
	n := 0
	for i := range k.shards {
		sh := &k.shards[i]
		sh.mu.Lock()
		n += len(sh.m)
		sh.mu.Unlock()
	}
	return n
}

// Incomplete marks the source side partial: mirror mode will refuse. why names the
// record or the cause.
func (k *KeepSet) Incomplete(why string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.nIncomp++
	if len(k.incomplete) < 3 {
		k.incomplete = append(k.incomplete, why)
	}
}

// Complete reports whether no record was marked incomplete, and otherwise why.
func (k *KeepSet) Complete() (bool, string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.nIncomp == 0 {
		return true, ""
	}
	why := strings.Join(k.incomplete, "; ")
	if k.nIncomp > len(k.incomplete) {
		why += fmt.Sprintf("; %d more", k.nIncomp-len(k.incomplete))
	}
	return false, why
}

// idSet drops target users a listing returned twice (an offset-paged listing that shifts
// under concurrent changes). A hash collision drops a user from the candidates: kept.
type idSet struct {
	seed maphash.Seed
	m    map[uint64]struct{}
}

func newIDSet() *idSet { return &idSet{seed: maphash.MakeSeed(), m: map[uint64]struct{}{}} }

func (s *idSet) add(id string) bool {
	h := maphash.String(s.seed, id)
	if _, ok := s.m[h]; ok {
		return false
	}
	s.m[h] = struct{}{}
	return true
}
