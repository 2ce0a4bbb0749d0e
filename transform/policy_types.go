package transform

import (
	"fmt"
	"hash/maphash"
	"sync"
	"sync/atomic"

	"github.com/ferry-dev/ferry/schemas"
)

// Auth0 asks for one type per metadata field across users ("age" a string for one user and
// a number for another breaks retrieval). The type policy gives every metadata path (array
// elements as [], data-like names as *) one type: the plan's choice when a plan is given
// (deterministic), otherwise the first type any worker saw (a shared, sharded registry).
// A value of another type is coerced when nothing is lost, else the user is rejected or the
// value stored as a string (TypeMode). null fits every type.

const defaultMaxTypePaths = 50000

type typePolicy struct {
	mode    string
	planned map[string]mdKind // read-only after construction
	reg     *typeRegistry
	shapes  shapeCache
	// noShapes walks every blob (tests compare the chain with and without the cache).
	noShapes bool
}

// shapeCache remembers the shapes (userScan.shape: names, nesting and the kind of every
// value) of blobs in which every value had its path's type. Types never change once a path
// has one, so a blob of a remembered shape has no conflict either, and its walk (building
// and looking up every value's type path, 8% of a migration's CPU) is skipped: most users
// of a tenant share a handful of shapes. Direct-mapped: a shape that loses its slot is
// walked again, never wrongly skipped (a 64-bit hash would have to collide).
type shapeCache struct{ slots [4096]atomic.Uint64 }

func (c *shapeCache) known(h uint64) bool {
	return h != 0 && c.slots[h%uint64(len(c.slots))].Load() == h
}

func (c *shapeCache) add(h uint64) {
	if h != 0 {
		c.slots[h%uint64(len(c.slots))].Store(h)
	}
}

var _ Policy = (*typePolicy)(nil)

func newTypePolicy(cfg PolicyConfig, plan *Plan) (*typePolicy, error) {
	max := cfg.MaxTypePaths
	if max <= 0 {
		max = defaultMaxTypePaths
	}
	p := &typePolicy{mode: cfg.TypeMode, reg: newTypeRegistry(max)}
	if plan != nil {
		p.planned = make(map[string]mdKind, len(plan.Paths))
		for _, pt := range plan.Paths {
			k, _ := chooseType(pt, cfg.TypeMode)
			if k == mdNull {
				continue
			}
			p.planned[pt.Path] = k
		}
	}
	return p, nil
}

func (p *typePolicy) Name() string { return RuleTypes }

func (p *typePolicy) Apply(u *schemas.User, c *Changes) error { return p.apply(u, c, new(userScan)) }

// expected returns the type path's type, registering k as the first seen when the path is
// new. ok is false for a path the registry has no room for (it is then not checked).
func (p *typePolicy) expected(path []byte, k mdKind) (mdKind, string, bool) {
	if e, ok := p.planned[string(path)]; ok {
		return e, "the plan", true
	}
	e, ok := p.reg.firstSeen(path, k)
	return e, "the first user seen", ok
}

var typePathPool = sync.Pool{New: func() any { b := make([]byte, 0, 256); return &b }}

func (p *typePolicy) apply(u *schemas.User, c *Changes, us *userScan) error {
	bp := typePathPool.Get().(*[]byte)
	defer typePathPool.Put(bp)
	for i := 0; i < nBlobs; i++ {
		raw, f, ok := us.blob(u, i)
		if !ok {
			continue
		}
		if f&scInvalid != 0 {
			return invalidBlob(raw, i)
		}
		if !p.noShapes && p.shapes.known(us.shape[i]) {
			continue
		}
		var conflict bool
		conflict, *bp = mdWalkTypes(raw, f, blobNames[i], *bp, p)
		if !conflict {
			p.shapes.add(us.shape[i])
			continue
		}
		root, _, err := loadBlob(raw, i, c, false)
		if err != nil {
			return err
		}
		tpath := append((*bp)[:0], blobNames[i]...)
		if _, err := p.fix(root, blobNames[i], tpath, hintNone, c); err != nil {
			return err
		}
		// Written back even when only duplicates were logged, so no later rule logs them again.
		setBlobRaw(u, i, root.raw())
	}
	return nil
}

// fix walks v (at change path path and type path tpath) and resolves every conflict.
func (p *typePolicy) fix(v *mdValue, path string, tpath []byte, hint keyHint, c *Changes) ([]byte, error) {
	if v.kind != mdNull {
		want, source, ok := p.expected(tpath, v.kind)
		if ok && want != v.kind {
			return tpath, p.resolve(v, want, source, path, hint, c)
		}
	}
	base := len(tpath)
	switch v.kind {
	case mdArray:
		tpath = append(tpath, "[]"...)
		for i, e := range v.arr {
			var err error
			if tpath, err = p.fix(e, pathIndex(path, i), tpath, hint, c); err != nil {
				return tpath, err
			}
		}
	case mdObject:
		for _, m := range v.obj {
			h := hint
			if kh := lastKeyHint(m.key); kh != hintNone {
				h = kh
			}
			tpath = appendTypeKey(tpath[:base], []byte(m.key))
			var err error
			if tpath, err = p.fix(m.val, pathKey(path, m.key), tpath, h, c); err != nil {
				return tpath, err
			}
		}
	}
	return tpath[:base], nil
}

func (p *typePolicy) resolve(v *mdValue, want mdKind, source, path string, hint keyHint, c *Changes) error {
	before := v.clone()
	if s, ok := coerce(v, want); ok {
		*v = s
		addMD(c, RuleTypes, path, before, v, hint, fmt.Sprintf("%s coerced to %s without loss: the path is %s (%s)", before.kind, want, want, source))
		return nil
	}
	if p.mode != TypesCoerceOrStringify {
		return &Rejection{Rule: RuleTypes, Path: path, Msg: fmt.Sprintf(
			"is %s, but the path is %s (%s) and the value cannot be converted without loss (--types coerce-or-stringify would store it as a string)",
			v.kind, want, source)}
	}
	if v.kind == mdString {
		c.Add(RuleTypes, path, nil, nil, fmt.Sprintf("is a string that cannot become %s without loss: kept as a string, the path stays mixed (%s says %s)", want, source, want))
		return nil
	}
	*v = mdValue{kind: mdString, s: string(mdAppend(nil, before))}
	addMD(c, RuleTypes, path, before, v, hint, fmt.Sprintf("%s stored as a string (its JSON text): the path is %s (%s)", before.kind, want, source))
	return nil
}

// coerce converts v to want when the conversion loses nothing: a string that is exactly a
// number's or a boolean's canonical text, and a number or boolean to its text.
func coerce(v *mdValue, want mdKind) (mdValue, bool) {
	switch {
	case v.kind == mdString && want == mdNumber && numericLossless(v.s):
		return mdValue{kind: mdNumber, s: v.s}, true
	case v.kind == mdString && want == mdBool && (v.s == "true" || v.s == "false"):
		return mdValue{kind: mdBool, s: v.s}, true
	case (v.kind == mdNumber || v.kind == mdBool) && want == mdString:
		return mdValue{kind: mdString, s: v.s}, true
	}
	return mdValue{}, false
}

// numericLossless reports whether s converts to a JSON number and back to the same text in
// every consumer: canonical decimal (no leading zeros, no exponent, no trailing fraction
// zeros, not -0) with at most 15 significant digits (exact in a float64, so in JavaScript).
func numericLossless[S ~string | ~[]byte](s S) bool {
	i, digits := 0, 0
	if len(s) > 0 && s[0] == '-' {
		i++
	}
	if i >= len(s) {
		return false
	}
	if s[i] == '0' {
		i++
		if i == len(s) && s[0] == '-' {
			return false
		}
		if i < len(s) && s[i] != '.' {
			return false
		}
	} else {
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
			digits++
		}
		if digits == 0 {
			return false
		}
	}
	if i < len(s) && s[i] == '.' {
		i++
		f := i
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
			digits++
		}
		if i == f || s[i-1] == '0' {
			return false
		}
	}
	return i == len(s) && digits <= 15
}

// typeRegistry is the first-type-seen table shared by the workers. Nearly every lookup is
// of a path already known, so reads must not contend: each shard keeps an immutable map
// read with one atomic load, and a mutex-guarded dirty copy for new paths that is
// promoted once it has been missed as often as it is large (sync.Map's amortization, but
// keyed without allocating). One shard is enough: readers never lock, and writers only
// meet while new paths are still being discovered.
//
// Paths are kept as 64-bit hashes (seeded per process), not strings: a source whose keys
// are data fills the table (up to max paths), and as strings in two maps that cost ~160
// bytes a path, 7 MB of the 1M-user benchmark's heap; hashes cost ~20. Two paths share a
// hash with probability about n²/2⁶⁵ (10⁻¹⁰ at the 50,000-path cap); the cost would be a
// value checked against the other path's type, which is coerced or rejected with the
// reason, never dropped.
type typeRegistry struct {
	shard typeShard
	n     atomic.Int64
	max   int64
	seed  maphash.Seed
}

type typeShard struct {
	read   atomic.Pointer[map[uint64]mdKind]
	mu     sync.Mutex
	dirty  map[uint64]mdKind // nil, or read plus the paths added since the last promotion
	misses int
}

func newTypeRegistry(max int) *typeRegistry {
	return &typeRegistry{max: int64(max), seed: maphash.MakeSeed()}
}

func (r *typeRegistry) firstSeen(path []byte, k mdKind) (mdKind, bool) {
	h := maphash.Bytes(r.seed, path)
	sh := &r.shard
	if m := sh.read.Load(); m != nil {
		if e, ok := (*m)[h]; ok {
			return e, true
		}
	}
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if m := sh.read.Load(); m != nil {
		if e, ok := (*m)[h]; ok {
			return e, true
		}
	}
	if e, ok := sh.dirty[h]; ok {
		sh.missed()
		return e, true
	}
	if r.n.Load() >= r.max {
		return k, false
	}
	if sh.dirty == nil {
		sh.dirty = make(map[uint64]mdKind)
		if m := sh.read.Load(); m != nil {
			for p, t := range *m {
				sh.dirty[p] = t
			}
		}
	}
	sh.dirty[h] = k
	r.n.Add(1)
	sh.missed()
	return k, true
}

// missed counts a lookup the read map could not answer; called with mu held.
func (sh *typeShard) missed() {
	sh.misses++
	if sh.misses < len(sh.dirty) {
		return
	}
	m := sh.dirty
	sh.read.Store(&m)
	sh.dirty, sh.misses = nil, 0
}
