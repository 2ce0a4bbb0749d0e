package transform

import (
	"bytes"
	"strconv"

	"github.com/ferry-dev/ferry/schemas"
)

// scimRawMembers are the ferry extension members that hold a provider's JSON as it came
// (metadata, identities): the policies check those, exact-case, when they look inside.
var scimRawMembers = map[string]bool{
	"appmetadata": true, "usermetadata": true, "attributes": true, "extra": true,
	"identities": true, "custompasswordhash": true, "mfafactors": true,
}

// scimDuplicate finds an attribute named twice in one object of a SCIM user, compared
// case-insensitively as SCIM attribute names are (RFC 7643 §2.1). A decoder keeps one of
// the two values, so such a record is refused rather than silently changed.
func scimDuplicate(raw []byte) error {
	return dupIn(raw, "", 0)
}

func dupIn(obj []byte, path string, depth int) error {
	if depth > 8 {
		return nil // SCIM's own structure is shallow; deeper is opaque data
	}
	var seen [][]byte
	m := newMembers(obj, "")
	for m.next() {
		for _, k := range seen {
			if bytes.EqualFold(k, m.Key) {
				return &FieldError{Field: joinPath(path, string(m.Key)), Msg: "duplicate attribute (SCIM names are case-insensitive)"}
			}
		}
		seen = append(seen, m.Key)
		if path == schemas.FerryUserURN && scimRawMembers[string(bytes.ToLower(m.Key))] {
			continue
		}
		sub := joinPath(path, string(m.Key))
		if depth == 0 && bytes.HasPrefix(bytes.ToLower(m.Key), []byte("urn:")) {
			sub = string(m.Key)
		}
		v := m.Val[skipWS(m.Val, 0):]
		switch {
		case len(v) > 0 && v[0] == '{':
			if err := dupIn(v, sub, depth+1); err != nil {
				return err
			}
		case len(v) > 0 && v[0] == '[':
			i := 0
			for e := newElements(v); e.next(); i++ {
				if ev := e.Val[skipWS(e.Val, 0):]; len(ev) > 0 && ev[0] == '{' {
					if err := dupIn(ev, sub+"["+strconv.Itoa(i)+"]", depth+1); err != nil {
						return err
					}
				}
			}
		}
	}
	if m.err != nil { // the scanner stops at a key repeated exactly
		var key string
		if fe, ok := m.err.(*FieldError); ok {
			key = fe.Field
		}
		return &FieldError{Field: joinPath(path, key), Msg: "duplicate attribute"}
	}
	return nil
}
