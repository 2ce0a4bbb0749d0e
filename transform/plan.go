package transform

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"sync/atomic"

	"github.com/ferry-dev/ferry/schemas"
	"github.com/segmentio/encoding/json"
)

// A Plan is what `ferry plan` learns by reading the whole source without writing: how many
// users each outcome gets, what each rule does (with a few example users), the types every
// metadata path has across users (and which one migrate will keep), oversize profiles and
// the roles users reference. Saved as JSON, it is fed back to `ferry migrate --plan`, where
// its per-path types make the type rule deterministic.
type Plan struct {
	Version int `json:"version"`
	// Config is the policy configuration the plan was made with.
	Config PolicyConfig `json:"config"`
	Users  int64        `json:"users"`
	// Outcomes counts users by outcome: unchanged, changed, warned (only reports), rejected.
	Outcomes   map[string]int64 `json:"outcomes"`
	Rules      []RuleStat       `json:"rules"`
	Rejections []RuleStat       `json:"rejections"`
	Paths      []PathTypes      `json:"paths"`
	// PathsTruncated says the source had more metadata paths than the planner keeps.
	PathsTruncated bool              `json:"pathsTruncated,omitempty"`
	Oversize       []OversizeProfile `json:"oversize"`
	OversizeTotal  int64             `json:"oversizeTotal"`
	Roles          []RoleCount       `json:"roles"`
	// Extensions are the custom schema extensions users carry, per URN; migrate's
	// preflight reads them from a plan file to refuse a target that does not declare one.
	Extensions []ExtensionStat `json:"extensions,omitempty"`
	// SourceServer says what a SCIM source's discovery documents told (paging, limits,
	// extensions), for the reader of the plan.
	SourceServer string `json:"sourceServer,omitempty"`
}

// PlanVersion is the version of the plan file format.
const PlanVersion = 1

// RuleStat is one rule's activity: changes made (or rejections), users concerned, and up to
// three example users (the first in sort order, so that the plan is the same however the
// workers interleave).
type RuleStat struct {
	Rule     string           `json:"rule"`
	Changes  int64            `json:"changes"`
	Users    int64            `json:"users"`
	Kinds    map[string]int64 `json:"kinds,omitempty"` // by ChangeKind
	Examples []string         `json:"examples"`
}

// PathTypes counts the JSON types one metadata path has across users.
type PathTypes struct {
	Path  string           `json:"path"`
	Types map[string]int64 `json:"types"`
	// NumericStrings and BooleanStrings count the string values that convert losslessly.
	NumericStrings int64 `json:"numericStrings,omitempty"`
	BooleanStrings int64 `json:"booleanStrings,omitempty"`
	// Chosen is the type migrate keeps (for the plan's TypeMode); Uncoercible how many
	// values migrate will reject (or store as strings) because they cannot become it.
	Chosen      string `json:"chosen"`
	Uncoercible int64  `json:"uncoercible"`
	Conflict    bool   `json:"conflict"`
}

// OversizeProfile is a profile over Auth0's 10 KB (Rejected: over 1 MB).
type OversizeProfile struct {
	User     string `json:"user"`
	Bytes    int    `json:"bytes"`
	Rejected bool   `json:"rejected,omitempty"`
}

// RoleCount is a role users reference, with how many.
type RoleCount struct {
	Role  string `json:"role"`
	Users int64  `json:"users"`
}

// Planner accumulates a Plan from users observed concurrently.
type Planner struct {
	// Config is recorded in the plan, and its TypeMode decides each path's chosen type.
	// Set it before the first Observe.
	Config PolicyConfig
	// MaxPaths bounds the metadata paths kept (0: 50,000).
	MaxPaths int
	// MaxOversize bounds the oversize profiles listed (0: 100); all are counted.
	MaxOversize int

	mu         sync.Mutex
	users      int64
	outcomes   map[string]int64
	rules      map[string]*ruleAcc
	rejections map[string]*ruleAcc
	oversize   []OversizeProfile
	overTotal  int64
	roles      map[string]int64
	exts       map[string]*extAcc

	shards    [32]planShard
	npaths    atomic.Int64
	truncated atomic.Bool
}

type planShard struct {
	mu sync.Mutex
	m  map[string]*pathAcc
}

type pathAcc struct {
	types          [mdObject + 1]int64
	numeric, boole int64
}

type ruleAcc struct {
	changes, users int64
	kinds          map[string]int64
	examples       []string
}

// NewPlanner returns an empty planner using the default policy configuration.
func NewPlanner() *Planner {
	pl := &Planner{
		Config:     DefaultPolicyConfig(),
		outcomes:   map[string]int64{},
		rules:      map[string]*ruleAcc{},
		rejections: map[string]*ruleAcc{},
		roles:      map[string]int64{},
		exts:       map[string]*extAcc{},
	}
	for i := range pl.shards {
		pl.shards[i].m = map[string]*pathAcc{}
	}
	return pl
}

// Observe records one user after the policy chain ran on it: changes is what the chain
// logged, rejected what ApplyAll returned. Safe for concurrent use.
func (pl *Planner) Observe(u *schemas.User, changes []Change, rejected error) {
	ref := u.Ref()
	pl.observeTypes(u, changes, rejected != nil)

	outcome := "unchanged"
	for _, ch := range changes {
		if ChangeKind(ch) != "warning" {
			outcome = "changed"
			break
		}
		outcome = "warned"
	}
	var rej *Rejection
	if rejected != nil {
		outcome = "rejected"
		if !errors.As(rejected, &rej) {
			rej = &Rejection{Rule: "error"}
		}
	}
	size, oversize := 0, rej != nil && rej.Rule == RuleProfileSize
	for _, ch := range changes {
		if ch.Rule == RuleProfileSize {
			oversize = true
		}
	}
	if oversize {
		size = profileSize(u)
	}

	pl.mu.Lock()
	defer pl.mu.Unlock()
	pl.users++
	pl.outcomes[outcome]++
	seen := map[string]bool{}
	for _, ch := range changes {
		a := pl.rules[ch.Rule]
		if a == nil {
			a = &ruleAcc{kinds: map[string]int64{}}
			pl.rules[ch.Rule] = a
		}
		a.changes++
		a.kinds[ChangeKind(ch)]++
		if !seen[ch.Rule] {
			seen[ch.Rule] = true
			a.users++
			a.examples = addExample(a.examples, ref)
		}
	}
	if rej != nil {
		a := pl.rejections[rej.Rule]
		if a == nil {
			a = &ruleAcc{}
			pl.rejections[rej.Rule] = a
		}
		a.changes++
		a.users++
		a.examples = addExample(a.examples, ref)
	}
	if oversize {
		pl.overTotal++
		pl.oversize = append(pl.oversize, OversizeProfile{User: ref, Bytes: size, Rejected: rej != nil && rej.Rule == RuleProfileSize})
		pl.trimOversize()
	}
	pl.observeExtensions(u, changes)
	for _, r := range u.Roles {
		name := r.Value
		if name == "" {
			name = r.Display
		}
		if name != "" {
			pl.roles[name]++
		}
	}
}

// addExample keeps the three smallest refs: the same examples whatever the arrival order.
func addExample(ex []string, ref string) []string {
	for _, e := range ex {
		if e == ref {
			return ex
		}
	}
	ex = append(ex, ref)
	sort.Strings(ex)
	if len(ex) > 3 {
		ex = ex[:3]
	}
	return ex
}

func (pl *Planner) trimOversize() {
	max := pl.MaxOversize
	if max <= 0 {
		max = 100
	}
	if len(pl.oversize) <= 2*max {
		return
	}
	sortOversize(pl.oversize)
	pl.oversize = pl.oversize[:max]
}

func sortOversize(o []OversizeProfile) {
	sort.Slice(o, func(i, j int) bool {
		if o[i].Bytes != o[j].Bytes {
			return o[i].Bytes > o[j].Bytes
		}
		return o[i].User < o[j].User
	})
}

// observeTypes counts the type of every metadata value. The type rule may already have
// coerced some values; their originals (the Before of its changes) are counted instead, so
// the plan shows the source as it is.
func (pl *Planner) observeTypes(u *schemas.User, changes []Change, rejected bool) {
	var orig map[string]json.RawMessage
	for _, ch := range changes {
		if ch.Rule == RuleTypes && ch.Before != nil {
			if orig == nil {
				orig = map[string]json.RawMessage{}
			}
			orig[ch.Path] = ch.Before
		}
	}
	bp := typePathPool.Get().(*[]byte)
	defer typePathPool.Put(bp)
	for i := 0; i < nBlobs; i++ {
		raw := blobRaw(u, i)
		if isEmptyJSON(raw) {
			continue
		}
		// Invalid metadata (always a rejection) has no types to count.
		if rejected {
			if f, _ := mdScanFlags(raw); f&scInvalid != 0 {
				continue
			}
		}
		if orig == nil {
			*bp = mdWalkCount(raw, blobNames[i], *bp, pl)
			continue
		}
		root, err := mdParse(raw)
		if err != nil {
			continue
		}
		*bp = pl.countTree(root, blobNames[i], append((*bp)[:0], blobNames[i]...), orig)
	}
}

func (pl *Planner) countTree(v *mdValue, path string, tpath []byte, orig map[string]json.RawMessage) []byte {
	if raw, ok := orig[path]; ok {
		if o, err := mdParse(raw); err == nil {
			v = o
		}
	}
	var lit []byte
	if v.kind == mdString {
		lit = []byte(v.s)
	}
	pl.count(tpath, v.kind, lit)
	base := len(tpath)
	switch v.kind {
	case mdArray:
		tpath = append(tpath, "[]"...)
		for i, e := range v.arr {
			tpath = pl.countTree(e, pathIndex(path, i), tpath, orig)
		}
	case mdObject:
		for _, m := range v.obj {
			tpath = appendTypeKey(tpath[:base], []byte(m.key))
			tpath = pl.countTree(m.val, pathKey(path, m.key), tpath, orig)
		}
	}
	return tpath[:base]
}

func (pl *Planner) count(path []byte, k mdKind, lit []byte) {
	sh := &pl.shards[fnv32(path)%uint32(len(pl.shards))]
	sh.mu.Lock()
	defer sh.mu.Unlock()
	a := sh.m[string(path)]
	if a == nil {
		max := pl.MaxPaths
		if max <= 0 {
			max = defaultMaxTypePaths
		}
		if pl.npaths.Load() >= int64(max) {
			pl.truncated.Store(true)
			return
		}
		pl.npaths.Add(1)
		a = &pathAcc{}
		sh.m[string(path)] = a
	}
	a.types[k]++
	if k == mdString {
		if numericLossless(lit) {
			a.numeric++
		} else if string(lit) == "true" || string(lit) == "false" {
			a.boole++
		}
	}
}

// Result returns the plan so far; the planner can go on observing.
func (pl *Planner) Result() *Plan {
	p := &Plan{Version: PlanVersion, Config: pl.Config, Outcomes: map[string]int64{},
		Rules: []RuleStat{}, Rejections: []RuleStat{}, Paths: []PathTypes{},
		Oversize: []OversizeProfile{}, Roles: []RoleCount{}}
	for i := range pl.shards {
		sh := &pl.shards[i]
		sh.mu.Lock()
		for path, a := range sh.m {
			pt := PathTypes{Path: path, Types: map[string]int64{}, NumericStrings: a.numeric, BooleanStrings: a.boole}
			kinds := 0
			for k, n := range a.types {
				if n > 0 {
					pt.Types[mdKind(k).String()] = n
					if mdKind(k) != mdNull {
						kinds++
					}
				}
			}
			pt.Conflict = kinds > 1
			k, unc := chooseType(pt, pl.Config.TypeMode)
			pt.Chosen, pt.Uncoercible = k.String(), unc
			p.Paths = append(p.Paths, pt)
		}
		sh.mu.Unlock()
	}
	sort.Slice(p.Paths, func(i, j int) bool { return p.Paths[i].Path < p.Paths[j].Path })
	p.PathsTruncated = pl.truncated.Load()

	pl.mu.Lock()
	defer pl.mu.Unlock()
	p.Users = pl.users
	for k, v := range pl.outcomes {
		p.Outcomes[k] = v
	}
	p.Rules = ruleStats(pl.rules)
	p.Rejections = ruleStats(pl.rejections)
	p.Oversize = append(p.Oversize, pl.oversize...)
	sortOversize(p.Oversize)
	max := pl.MaxOversize
	if max <= 0 {
		max = 100
	}
	if len(p.Oversize) > max {
		p.Oversize = p.Oversize[:max]
	}
	p.OversizeTotal = pl.overTotal
	for r, n := range pl.roles {
		p.Roles = append(p.Roles, RoleCount{Role: r, Users: n})
	}
	p.Extensions = pl.extensionStats()
	sort.Slice(p.Roles, func(i, j int) bool {
		if p.Roles[i].Users != p.Roles[j].Users {
			return p.Roles[i].Users > p.Roles[j].Users
		}
		return p.Roles[i].Role < p.Roles[j].Role
	})
	return p
}

func ruleStats(m map[string]*ruleAcc) []RuleStat {
	out := make([]RuleStat, 0, len(m))
	for name, a := range m {
		rs := RuleStat{Rule: name, Changes: a.changes, Users: a.users, Examples: append([]string{}, a.examples...)}
		if len(a.kinds) > 0 {
			rs.Kinds = map[string]int64{}
			for k, v := range a.kinds {
				rs.Kinds[k] = v
			}
		}
		out = append(out, rs)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Rule < out[j].Rule })
	return out
}

// typeOrder breaks ties between equally good types.
var typeOrder = []mdKind{mdNumber, mdBool, mdString, mdObject, mdArray}

// chooseType picks the type migrate keeps for a path: the one the fewest values cannot be
// converted to without loss, then the most frequent, then number, boolean, string, object,
// array. ("23" and 23, half and half, gives number: every value converts.) In
// coerce-or-stringify mode a path where some value cannot convert becomes string, the one
// type every value can be stored as. It returns how many values cannot convert.
func chooseType(pt PathTypes, mode string) (mdKind, int64) {
	n := func(k mdKind) int64 { return pt.Types[k.String()] }
	best, bestUnc, bestN := mdNull, int64(-1), int64(0)
	for _, k := range typeOrder {
		if n(k) == 0 {
			continue
		}
		unc := uncoercible(pt, k)
		if bestUnc < 0 || unc < bestUnc || (unc == bestUnc && n(k) > bestN) {
			best, bestUnc, bestN = k, unc, n(k)
		}
	}
	if best == mdNull {
		return mdNull, 0
	}
	if bestUnc > 0 && mode == TypesCoerceOrStringify {
		return mdString, 0
	}
	return best, bestUnc
}

func uncoercible(pt PathTypes, to mdKind) int64 {
	n := func(k mdKind) int64 { return pt.Types[k.String()] }
	var u int64
	for _, k := range typeOrder {
		if k == to {
			continue
		}
		switch {
		case to == mdString && (k == mdNumber || k == mdBool):
		case to == mdNumber && k == mdString:
			u += n(k) - pt.NumericStrings
		case to == mdBool && k == mdString:
			u += n(k) - pt.BooleanStrings
		default:
			u += n(k)
		}
	}
	return u
}

// Save writes the plan as indented JSON, readable only by its owner (it names users).
func (p *Plan) Save(path string) error {
	b, err := json.MarshalIndent(p, "", "  ")
	if err != nil {
		return fmt.Errorf("plan: encode: %w", err)
	}
	f, err := os.CreateTemp(filepath.Dir(path), ".plan-*.json")
	if err != nil {
		return fmt.Errorf("plan: save %s: %w", path, err)
	}
	_, werr := f.Write(append(b, '\n'))
	cerr := f.Close()
	if werr == nil {
		werr = cerr
	}
	if werr == nil {
		werr = os.Chmod(f.Name(), 0o600)
	}
	if werr == nil {
		werr = os.Rename(f.Name(), path)
	}
	if werr != nil {
		os.Remove(f.Name())
		return fmt.Errorf("plan: save %s: %w", path, werr)
	}
	return nil
}

// LoadPlan reads a plan written by Save, checking what migrate relies on.
func LoadPlan(path string) (*Plan, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("plan: %w", err)
	}
	p := new(Plan)
	if err := json.Unmarshal(b, p); err != nil {
		return nil, fmt.Errorf("plan %s: %w", path, err)
	}
	if p.Version != PlanVersion {
		return nil, fmt.Errorf("plan %s: version %d, this ferry reads version %d", path, p.Version, PlanVersion)
	}
	for _, pt := range p.Paths {
		for t, n := range pt.Types {
			if _, ok := mdKindOf(t); !ok || n < 0 {
				return nil, fmt.Errorf("plan %s: path %s: bad type count %q: %d", path, pt.Path, t, n)
			}
		}
	}
	return p, nil
}

func fnv32(b []byte) uint32 {
	h := uint32(2166136261)
	for _, c := range b {
		h ^= uint32(c)
		h *= 16777619
	}
	return h
}
