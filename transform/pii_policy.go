package transform

import (
	"github.com/ferry-dev/ferry/schemas"
)

type piiPolicy struct{ mode string }

var _ Policy = (*piiPolicy)(nil)

func (p *piiPolicy) Name() string { return RulePII }

func (p *piiPolicy) Apply(u *schemas.User, c *Changes) error { return p.apply(u, c, new(userScan)) }

func (p *piiPolicy) apply(u *schemas.User, c *Changes, us *userScan) error {
	for i := 0; i < nBlobs; i++ {
		raw, f, ok := us.blob(u, i)
		if !ok {
			continue
		}
		if f&scInvalid != 0 {
			return invalidBlob(raw, i)
		}
		if f&(scDigits|scKeyHint|scUEscape) == 0 {
			continue
		}
		root, changed, err := loadBlob(raw, i, c, false)
		if err != nil {
			return err
		}
		var rej error
		mdWalkTree(root, blobNames[i], hintNone, func(v *mdValue, path string, hint keyHint) bool {
			if rej != nil {
				return false
			}
			kind, masked, found := piiScalar(v, hint)
			if !found {
				return true
			}
			note := "looks like " + kind.describe()
			switch p.mode {
			case PIIReject:
				rej = &Rejection{Rule: RulePII, Path: path, Msg: "value " + note + "; metadata is no place for secrets (--pii)"}
			case PIIRedact:
				c.Add(RulePII, path, masked, masked, note+": redacted (--pii redact); the original is not kept anywhere")
				*v = mdValue{kind: mdString, s: masked}
				changed = true
			default:
				c.Add(RulePII, path, nil, nil, note+" ("+masked+"); metadata is no place for secrets")
			}
			return true
		})
		if rej != nil {
			return rej
		}
		if changed {
			setBlobRaw(u, i, root.raw())
		}
	}
	return nil
}

// mdWalkTree calls fn for v and, while fn returns true, for its descendants, with their
// change-log paths and the key hint inherited from the nearest hinted member name.
func mdWalkTree(v *mdValue, path string, hint keyHint, fn func(v *mdValue, path string, hint keyHint) bool) {
	if !fn(v, path, hint) {
		return
	}
	switch v.kind {
	case mdArray:
		for i, e := range v.arr {
			mdWalkTree(e, pathIndex(path, i), hint, fn)
		}
	case mdObject:
		for _, m := range v.obj {
			h := hint
			if kh := lastKeyHint(m.key); kh != hintNone {
				h = kh
			}
			mdWalkTree(m.val, pathKey(path, m.key), h, fn)
		}
	}
}
