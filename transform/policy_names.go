package transform

import (
	"fmt"
	"sort"
	"strings"

	"github.com/ferry-dev/ferry/schemas"
)

// fieldNamePolicy enforces Auth0's metadata naming: no '.' and no '$' in a member name.
// A dotted name is expanded into nested objects ({"preference.color":x} becomes
// {"preference":{"color":x}}, the docs' own fix); a name that lands on an existing,
// different value is a rejection, never an overwrite.
type fieldNamePolicy struct {
	dollarMode string
	dollarRepl string
}

var _ Policy = (*fieldNamePolicy)(nil)

func (p *fieldNamePolicy) Name() string { return RuleFieldNames }

func (p *fieldNamePolicy) Apply(u *schemas.User, c *Changes) error {
	return p.apply(u, c, new(userScan))
}

func (p *fieldNamePolicy) apply(u *schemas.User, c *Changes, us *userScan) error {
	for i := 0; i < nBlobs; i++ {
		raw, f, ok := us.blob(u, i)
		if !ok {
			continue
		}
		if f&scInvalid != 0 {
			return invalidBlob(raw, i)
		}
		if f&(scDotKey|scDollarKey|scEscKey|scNotObject) == 0 {
			continue
		}
		root, dirty, err := loadBlob(raw, i, c, true)
		if err != nil {
			return err
		}
		changed, err := p.fix(root, blobNames[i], blobNames[i], c)
		if err != nil {
			return err
		}
		if changed || dirty {
			setBlobRaw(u, i, root.raw())
		}
	}
	return nil
}

// fix rewrites v's member names, depth first. path is v's path in the source and newPath
// its path after the rewrites above it; changes are logged from one to the other.
func (p *fieldNamePolicy) fix(v *mdValue, path, newPath string, c *Changes) (bool, error) {
	changed := false
	switch v.kind {
	case mdArray:
		for i, e := range v.arr {
			ch, err := p.fix(e, pathIndex(path, i), pathIndex(newPath, i), c)
			if err != nil {
				return false, err
			}
			changed = changed || ch
		}
		return changed, nil
	case mdObject:
	default:
		return false, nil
	}
	type renamed struct {
		segs []string
		from string
		note string
	}
	plans := make([]renamed, len(v.obj))
	for i, m := range v.obj {
		name, note := m.key, ""
		if strings.Contains(name, "$") {
			if p.dollarMode == DollarReject {
				return false, &Rejection{Rule: RuleFieldNames, Path: pathKey(path, m.key), Msg: "name contains '$', which Auth0 does not allow (--dollar replace would rename it)"}
			}
			name = strings.ReplaceAll(name, "$", p.dollarRepl)
			note = fmt.Sprintf("name contains '$': replaced with %q", p.dollarRepl)
		}
		segs := []string{name}
		if strings.Contains(name, ".") {
			segs = strings.Split(name, ".")
			for _, s := range segs {
				if s == "" {
					return false, &Rejection{Rule: RuleFieldNames, Path: pathKey(path, m.key), Msg: "name contains '.' with an empty part; it cannot be expanded into nested objects"}
				}
			}
			if note != "" {
				note += "; "
			}
			note += "name contains '.': expanded into nested objects"
		}
		plans[i] = renamed{segs: segs, from: pathKey(path, m.key), note: note}
	}
	// Children first, with their final paths, so a nested dotted name is logged where it ends.
	for i, m := range v.obj {
		np := newPath
		for _, s := range plans[i].segs {
			np = pathKey(np, s)
		}
		ch, err := p.fix(m.val, pathKey(path, m.key), np, c)
		if err != nil {
			return false, err
		}
		changed = changed || ch
	}
	out := &mdValue{kind: mdObject, obj: make([]mdMember, 0, len(v.obj))}
	for i, m := range v.obj {
		pl := plans[i]
		to := newPath
		for _, s := range pl.segs {
			to = pathKey(to, s)
		}
		if err := mdInsert(out, pl.segs, m.val, newPath, pl.from); err != nil {
			return false, err
		}
		if pl.note != "" {
			addRename(c, RuleFieldNames, pl.from, to, pl.note)
			changed = true
		}
	}
	v.obj = out.obj
	return changed, nil
}

// mdInsert puts val at segs under obj, creating intermediate objects and merging into
// existing ones. Landing on a different existing value is a collision: a rejection.
func mdInsert(obj *mdValue, segs []string, val *mdValue, objPath, from string) error {
	cur, curPath := obj, objPath
	for _, s := range segs[:len(segs)-1] {
		curPath = pathKey(curPath, s)
		next, at := cur.get(s)
		switch {
		case at < 0:
			next = &mdValue{kind: mdObject}
			cur.obj = append(cur.obj, mdMember{key: s, val: next})
		case next.kind != mdObject:
			return collision(from, curPath)
		}
		cur = next
	}
	last := segs[len(segs)-1]
	at := pathKey(curPath, last)
	old, i := cur.get(last)
	switch {
	case i < 0:
		cur.obj = append(cur.obj, mdMember{key: last, val: val})
		return nil
	case old.kind == mdObject && val.kind == mdObject:
		for _, m := range val.obj {
			if err := mdInsert(old, []string{m.key}, m.val, at, from); err != nil {
				return err
			}
		}
		return nil
	case mdEqual(old, val):
		return nil // the same value under two spellings: nothing to choose between
	}
	return collision(from, at)
}

func collision(from, at string) error {
	return &Rejection{Rule: RuleFieldNames, Path: from, Msg: "after expanding the name, its value collides with a different value at " + at + " (ferry never overwrites)"}
}

// recordDups logs the members a duplicate name overwrote in the source JSON: JSON readers
// keep the last one, so did the parser, and the first must not vanish silently.
func recordDups(v *mdValue, path string, c *Changes) bool {
	for _, d := range v.dups {
		addMD(c, RuleDuplicateKey, pathKey(path, d.key), d.val, nil, lastKeyHint(d.key),
			"name appears more than once in the source JSON: the last value is kept, this one dropped")
	}
	had := len(v.dups) > 0
	v.dups = nil
	return had
}

// reservedPolicy handles the names Auth0 reserves at the top of app_metadata.
type reservedPolicy struct {
	mode   string
	prefix string
}

var _ Policy = (*reservedPolicy)(nil)

func (p *reservedPolicy) Name() string { return RuleReservedKeys }

func (p *reservedPolicy) Apply(u *schemas.User, c *Changes) error {
	return p.apply(u, c, new(userScan))
}

func (p *reservedPolicy) apply(u *schemas.User, c *Changes, us *userScan) error {
	raw, f, ok := us.blob(u, blobApp)
	if !ok || f&(scReserved|scEscKey) == 0 {
		return nil
	}
	root, changed, err := loadBlob(raw, blobApp, c, true)
	if err != nil {
		return err
	}
	kept := root.obj[:0:0]
	for _, m := range root.obj {
		if !auth0ReservedAppMetadata[m.key] {
			kept = append(kept, m)
			continue
		}
		from := pathKey(blobNames[blobApp], m.key)
		switch p.mode {
		case ReservedReject:
			return &Rejection{Rule: RuleReservedKeys, Path: from, Msg: "name is reserved by Auth0 in app_metadata (--reserved rename|drop would keep the user)"}
		case ReservedDrop:
			addMD(c, RuleReservedKeys, from, m.val, nil, lastKeyHint(m.key),
				"name is reserved by Auth0 in app_metadata: dropped (--reserved drop); the value is kept only here")
		default:
			to, err := renameTop(root, m.key, p.prefix, RuleReservedKeys)
			if err != nil {
				return err
			}
			kept = append(kept, mdMember{key: p.prefix + m.key, val: m.val})
			addRename(c, RuleReservedKeys, from, to, "name is reserved by Auth0 in app_metadata: renamed")
		}
		changed = true
	}
	if changed {
		root.obj = kept
		setBlobRaw(u, blobApp, root.raw())
	}
	return nil
}

// renameTop checks that prefix+key is free at the top of root and returns its path.
func renameTop(root *mdValue, key, prefix, rule string) (string, error) {
	nk := prefix + key
	to := pathKey(blobNames[blobApp], nk)
	if _, at := root.get(nk); at >= 0 {
		return "", &Rejection{Rule: rule, Path: pathKey(blobNames[blobApp], key), Msg: "cannot rename: " + to + " already exists (ferry never overwrites)"}
	}
	return to, nil
}

// shadowPolicy handles app_metadata names that equal a root profile attribute: Auth0
// merges app_metadata into the root profile in rules and actions, so the member would
// hide the real attribute there.
type shadowPolicy struct {
	mode   string
	prefix string
}

var _ Policy = (*shadowPolicy)(nil)

func (p *shadowPolicy) Name() string { return RuleRootShadow }

func (p *shadowPolicy) Apply(u *schemas.User, c *Changes) error {
	return p.apply(u, c, new(userScan))
}

func (p *shadowPolicy) apply(u *schemas.User, c *Changes, us *userScan) error {
	raw, f, ok := us.blob(u, blobApp)
	if !ok || f&(scShadow|scEscKey) == 0 {
		return nil
	}
	root, changed, err := loadBlob(raw, blobApp, c, true)
	if err != nil {
		return err
	}
	for i, m := range root.obj {
		if !auth0RootFields[m.key] {
			continue
		}
		from := pathKey(blobNames[blobApp], m.key)
		note := fmt.Sprintf("shadows the root profile attribute %q in rules and actions (app_metadata is merged into the root profile)", m.key)
		if p.mode != ShadowRename {
			c.Add(RuleRootShadow, from, nil, nil, note)
			continue
		}
		to, err := renameTop(root, m.key, p.prefix, RuleRootShadow)
		if err != nil {
			return err
		}
		root.obj[i].key = p.prefix + m.key
		addRename(c, RuleRootShadow, from, to, note+": renamed")
		changed = true
	}
	if changed {
		setBlobRaw(u, blobApp, root.raw())
	}
	return nil
}

// dynamicNamePolicy reports objects whose member names are data (e-mail addresses, ids,
// dates): Auth0 asks for static names, as they are what its search indexes.
type dynamicNamePolicy struct{}

var _ Policy = (*dynamicNamePolicy)(nil)

func (p *dynamicNamePolicy) Name() string { return RuleDynamicNames }

func (p *dynamicNamePolicy) Apply(u *schemas.User, c *Changes) error {
	return p.apply(u, c, new(userScan))
}

func (p *dynamicNamePolicy) apply(u *schemas.User, c *Changes, us *userScan) error {
	for i := 0; i < nBlobs; i++ {
		raw, f, ok := us.blob(u, i)
		if !ok || f&scDynKey == 0 {
			continue
		}
		root, dirty, err := loadBlob(raw, i, c, false)
		if err != nil {
			return err
		}
		if dirty {
			setBlobRaw(u, i, root.raw())
		}
		mdWalkTree(root, blobNames[i], hintNone, func(v *mdValue, path string, _ keyHint) bool {
			if v.kind != mdObject {
				return true
			}
			kinds := map[string]int{}
			n := 0
			for _, m := range v.obj {
				if k := dynamicKeyKind([]byte(m.key)); k != "" {
					kinds[k]++
					n++
				}
			}
			if n == 0 {
				return true
			}
			names := make([]string, 0, len(kinds))
			for k := range kinds {
				names = append(names, k)
			}
			sort.Strings(names)
			// The names themselves are data (often e-mail addresses): the log says how many
			// and of what kind, not which.
			c.Add(RuleDynamicNames, path, nil, nil, fmt.Sprintf(
				"%d of %d member names look like data (%s): use static names with the data as values",
				n, len(v.obj), strings.Join(names, ", ")))
			return true
		})
	}
	return nil
}
